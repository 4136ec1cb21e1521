//! JSON log sink (`-j`): one compact object per event per line, the original's 13 keys in order
//! first, then the keys this program adds (`attack_type`, credentials, caller identity).
//! The file is reopened when it is moved or removed (logrotate without `copytruncate`).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
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

/// Mode of a JSON log file the sink creates: the owner writes, its group (a log shipper's) reads,
/// nobody else (the raw messages can hold credentials scanners try). An existing file keeps its
/// mode.
pub const JSON_LOG_MODE: u32 = 0o640;

/// The JSON log file, open for appending.
pub struct JsonLogFile {
    path: PathBuf,
    writer: BufWriter<File>,
    inode: u64,
    checked_at: Instant,
}

impl JsonLogFile {
    /// Opens the log for appending; a new file is created with mode [`JSON_LOG_MODE`].
    ///
    /// # Errors
    /// [`SinkError::OpenJsonLog`] when the file cannot be opened for appending.
    pub fn open(path: &Path) -> Result<Self, SinkError> {
        Self::open_file(path).map_err(|source| SinkError::OpenJsonLog {
            path: path.to_owned(),
            source,
        })
    }

    fn open_file(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(JSON_LOG_MODE)
            .open(path)?;
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
            *self = Self::open_file(&self.path)?;
            tracing::info!(path = %self.path.display(), "reopened rotated JSON log");
        }
        Ok(())
    }
}

/// Writes every event of `events` to `file`, following rotation, until the pipeline is dropped
/// and everything queued is written (the body of the JSON log's thread).
pub fn run(mut file: JsonLogFile, events: &EventReceiver, stats: &JsonLogStats) {
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
