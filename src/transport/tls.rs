//! The TLS SIP listener: accept under a connection cap, then the handshake inside the connection
//! task under a timeout (a slow client never stalls accepting), then the same framing as TCP.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::stream::serve;
use super::tcp::{AcceptedStream, accept_loop};
use super::{ProbeHandler, StreamLimits, TransportError};

/// Accepts TLS connections until `shutdown` is cancelled, then waits for open ones to finish.
/// A failed or timed-out handshake records nothing (it is not a SIP message).
///
/// # Errors
/// [`TransportError::Socket`] when accepting keeps failing.
pub async fn run(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handler: Arc<ProbeHandler>,
    limits: StreamLimits,
    shutdown: CancellationToken,
) -> Result<(), TransportError> {
    let connections = TaskTracker::new();
    let result = accept_loop(&listener, "TLS", &limits, &shutdown, |accepted, info| {
        let handler = Arc::clone(&handler);
        let shutdown = shutdown.clone();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let AcceptedStream { stream, permit } = accepted;
            let handshake = tokio::select! {
                () = shutdown.cancelled() => return,
                handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)) => handshake,
            };
            match handshake {
                Ok(Ok(tls_stream)) => serve(tls_stream, info, &handler, &limits, &shutdown).await,
                Ok(Err(error)) => {
                    tracing::debug!(%error, source = %info.source, "TLS handshake failed");
                }
                Err(_elapsed) => {
                    tracing::debug!(source = %info.source, "TLS handshake timed out");
                }
            }
            drop(permit);
        });
    })
    .await;
    connections.close();
    connections.wait().await;
    result
}
