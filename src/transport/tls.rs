//! The TLS SIP listener: accept under a connection cap and a per-source cap, then the handshake
//! inside the connection task under a timeout (a slow or silent client never stalls accepting and
//! loses its connection when the time is up), then the same framing as TCP.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connections::ConnectionCounters;
use super::stream::serve;
use super::tcp::{AcceptedStream, Accepting, accept_loop};
use super::{ProbeHandler, StreamLimits, TransportError};
use crate::event::Transport;

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
    counters: Arc<ConnectionCounters>,
    shutdown: CancellationToken,
) -> Result<(), TransportError> {
    let connections = TaskTracker::new();
    let accepting = Accepting {
        transport: Transport::Tls,
        limits: &limits,
        counters: &counters,
        shutdown: &shutdown,
    };
    let result = accept_loop(&listener, &accepting, |accepted, info| {
        let handler = Arc::clone(&handler);
        let shutdown = shutdown.clone();
        let acceptor = acceptor.clone();
        let counters = Arc::clone(&counters);
        connections.spawn(async move {
            let AcceptedStream { stream, slot } = accepted;
            let handshake = tokio::select! {
                () = shutdown.cancelled() => return,
                handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)) => handshake,
            };
            match handshake {
                Ok(Ok(tls_stream)) => {
                    serve(tls_stream, info, &handler, &limits, &counters, &shutdown).await;
                }
                Ok(Err(error)) => {
                    tracing::debug!(%error, source = %info.source, "TLS handshake failed");
                }
                Err(_elapsed) => {
                    counters.handshake_timeout(Transport::Tls);
                    tracing::debug!(source = %info.source, "TLS handshake timed out");
                }
            }
            drop(slot);
        });
    })
    .await;
    connections.close();
    connections.wait().await;
    result
}
