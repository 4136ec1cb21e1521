//! The one shutdown signal of the process: a [`CancellationToken`] cancelled on SIGINT or SIGTERM.
//! Also keeps SIGXFSZ from killing the process, so a file-size limit makes writes fail instead.

pub use tokio_util::sync::CancellationToken;

/// Cancels `token` when the process receives SIGINT or SIGTERM.
///
/// # Errors
/// When the signal handlers cannot be installed.
pub fn cancel_on_signal(token: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
            () = token.cancelled() => return,
        };
        tracing::info!(signal = name, "shutting down");
        token.cancel();
    });
    Ok(())
}

/// Keeps SIGXFSZ (a write past `RLIMIT_FSIZE`, e.g. systemd's `LimitFSIZE=`) from killing the
/// daemon: with a handler installed the write fails with `EFBIG`, which the store counts as a
/// failed batch like a full disk. The first signal is logged as a warning, later ones at debug.
///
/// # Errors
/// When the handler cannot be installed.
pub fn survive_file_size_limit() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let kind = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
    let mut file_size = signal(kind)?;
    tokio::spawn(async move {
        let mut seen = 0u64;
        while file_size.recv().await.is_some() {
            seen += 1;
            if seen == 1 {
                tracing::warn!(
                    "a write went past the file-size limit (SIGXFSZ); it fails and is counted, capture goes on"
                );
            } else {
                tracing::debug!(seen, "SIGXFSZ");
            }
        }
    });
    Ok(())
}
