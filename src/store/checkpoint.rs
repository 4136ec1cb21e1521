//! Checkpoints off the writer's path: a thread with a connection of its own copies the WAL back
//! into the database file every [`CHECKPOINT_INTERVAL`] (`PRAGMA wal_checkpoint(PASSIVE)`, which
//! never waits for the writer or for readers), so the writer's own automatic checkpoint (kept as
//! a safety net, every `WRITER_WAL_AUTOCHECKPOINT` pages) finds most pages already copied and
//! only has to finish the tail before the WAL starts over.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tracing::{debug, warn};

use super::helper_thread::HelperThread;
use super::{BUSY_TIMEOUT, WAL_SIZE_LIMIT_BYTES};

/// Time between background checkpoints: short enough that the writer's safety-net checkpoint
/// has little left to copy, long enough that an idle database costs nothing measurable.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// The checkpoint thread; stopped (and joined) when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    _thread: HelperThread<Sender<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`; `None` (logged) when it cannot open a
    /// connection or start a thread: the writer's own checkpoints then do all the work.
    pub(super) fn start(path: &Path) -> Option<Self> {
        let conn = match open(path) {
            Ok(conn) => conn,
            Err(err) => {
                warn!(error = %err, "no background checkpoints: the writer checkpoints alone");
                return None;
            }
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = HelperThread::spawn("store-checkpoint", stop, move || {
            let mut last = None;
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL) {
                last = checkpoint(&conn, last);
            }
        });
        match thread {
            Ok(thread) => Some(Self { _thread: thread }),
            Err(err) => {
                warn!(error = %err, "no background checkpoints: the writer checkpoints alone");
                None
            }
        }
    }
}

/// The checkpoint thread's connection (the file exists and is migrated: the writer opened it).
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
    Ok(conn)
}

/// One passive checkpoint; its WAL frames and frames copied, logged when they differ from
/// `last` (an idle database is checkpointed four times a second and would log each time); a
/// failure is logged and the next interval tries again.
fn checkpoint(conn: &Connection, last: Option<(i64, i64)>) -> Option<(i64, i64)> {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match result {
        Ok((frames, copied)) => {
            if last != Some((frames, copied)) {
                debug!(frames, copied, "background checkpoint");
            }
            Some((frames, copied))
        }
        Err(err) => {
            debug!(error = %err, "background checkpoint failed; retrying");
            None
        }
    }
}
