//! The one shutdown signal of the process: a [`CancellationToken`] cancelled on SIGINT or SIGTERM.

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
