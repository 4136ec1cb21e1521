//! Event sinks: each owns a thread (JSON log, syslog) or a task (webhook, the live event feed of
//! `/api/v1/stream`) and reads its own bounded queue from the pipeline, so a slow or dead sink
//! never slows capture or the other consumers.

pub mod json_log;
pub mod live_events;
pub mod syslog;
#[cfg(feature = "webhook")]
pub mod webhook;

/// Errors starting a sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The JSON log file could not be opened.
    #[error("cannot open JSON log file {path}: {source}")]
    OpenJsonLog {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The sink's thread could not be started.
    #[error("cannot start the {sink} thread: {source}")]
    Thread {
        /// Sink name.
        sink: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The syslog address is not a Unix socket path or `udp://host:port`.
    #[error("invalid syslog address {address:?}: {reason}")]
    SyslogAddress {
        /// The address given.
        address: String,
        /// Why.
        reason: String,
    },
}
