//! JSON log sink (`-j`): one compact object per event per line, the original's 13 keys in order
//! first, then the keys this program adds (`attack_type`, credentials, caller identity).
//! The file is reopened when it is moved or removed (logrotate without `copytruncate`).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::SinkError;
use crate::pipeline::EventReceiver;

/// How often the file's identity is checked for rotation.
const ROTATION_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Counters of the JSON log sink.
#[derive(Debug, Default)]
pub struct JsonLogStats {
    /// Lines written.
    pub written: AtomicU64,
    /// Events that could not be written (I/O errors).
    pub failed: AtomicU64,
}

struct JsonLogFile {
    path: PathBuf,
    writer: BufWriter<File>,
    inode: u64,
    checked_at: Instant,
}

impl JsonLogFile {
    fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let inode = file.metadata()?.ino();
        Ok(Self {
            path: path.to_owned(),
            writer: BufWriter::new(file),
            inode,
            checked_at: Instant::now(),
        })
    }

    /// Reopens the file when the path now names another file (or none).
    fn follow_rotation(&mut self) -> std::io::Result<()> {
        if self.checked_at.elapsed() < ROTATION_CHECK_INTERVAL {
            return Ok(());
        }
        self.checked_at = Instant::now();
        let rotated = std::fs::metadata(&self.path).map_or(true, |meta| meta.ino() != self.inode);
        if rotated {
            self.writer.flush()?;
            *self = Self::open(&self.path)?;
            tracing::info!(path = %self.path.display(), "reopened rotated JSON log");
        }
        Ok(())
    }
}

/// Opens (creating if needed) the JSON log and starts its writer thread. The thread ends when
/// the pipeline is dropped, after writing everything queued.
///
/// # Errors
/// When the file cannot be opened for appending, or the thread cannot start.
pub fn spawn(
    path: &Path,
    events: EventReceiver,
    stats: Arc<JsonLogStats>,
) -> Result<JoinHandle<()>, SinkError> {
    let file = JsonLogFile::open(path).map_err(|source| SinkError::OpenJsonLog {
        path: path.to_owned(),
        source,
    })?;
    std::thread::Builder::new()
        .name("json-log".to_owned())
        .spawn(move || run(file, &events, &stats))
        .map_err(|source| SinkError::Thread {
            sink: "json_log",
            source,
        })
}

fn run(mut file: JsonLogFile, events: &EventReceiver, stats: &JsonLogStats) {
    loop {
        let first = match events.recv_timeout(ROTATION_CHECK_INTERVAL) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                if let Err(error) = file.follow_rotation() {
                    tracing::error!(%error, "JSON log rotation check failed");
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Err(error) = file.follow_rotation() {
            tracing::error!(%error, "JSON log rotation check failed");
        }
        let mut batch = 0u64;
        let mut failed = 0u64;
        for event in std::iter::once(first).chain(events.try_iter()) {
            let line = event.to_json_line();
            match writeln!(file.writer, "{line}") {
                Ok(()) => batch += 1,
                Err(error) => {
                    failed += 1;
                    if failed == 1 {
                        tracing::error!(%error, path = %file.path.display(), "cannot write JSON log");
                    }
                }
            }
        }
        if let Err(error) = file.writer.flush() {
            tracing::error!(%error, path = %file.path.display(), "cannot flush JSON log");
            failed += batch;
            batch = 0;
        }
        stats.written.fetch_add(batch, Ordering::Relaxed);
        stats.failed.fetch_add(failed, Ordering::Relaxed);
    }
    if let Err(error) = file.writer.flush() {
        tracing::error!(%error, "cannot flush JSON log at shutdown");
    }
}
