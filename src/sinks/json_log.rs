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

    /// Opens `path` for appending without ever blocking (a FIFO with no reader would hold the
    /// open forever), and refuses anything but a regular file.
    fn open_file(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            return Err(not_a_regular_file(&meta));
        }
        let nonblocking = rustix::fs::OFlags::NONBLOCK.bits().cast_signed();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(JSON_LOG_MODE)
            .custom_flags(nonblocking)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(not_a_regular_file(&meta));
        }
        let inode = meta.ino();
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

/// Why a path that exists but is not a regular file (a FIFO, a socket, a device, a directory)
/// is refused.
fn not_a_regular_file(meta: &std::fs::Metadata) -> std::io::Error {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    };
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("not a regular file ({what}); the JSON log must be a file"),
    )
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
