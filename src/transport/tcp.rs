//! The TCP SIP listener: accept under a connection cap, one task per connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::stream::{ConnectionInfo, serve};
use super::{ProbeHandler, StreamLimits, TransportError};
use crate::event::Transport;

/// Accepts connections until `shutdown` is cancelled, then waits for open connections to finish
/// (they see the same token and record what they hold).
///
/// # Errors
/// [`TransportError::Socket`] when accepting keeps failing.
pub async fn run(
    listener: TcpListener,
    handler: Arc<ProbeHandler>,
    limits: StreamLimits,
    shutdown: CancellationToken,
) -> Result<(), TransportError> {
    let connections = TaskTracker::new();
    let result = accept_loop(&listener, "TCP", &limits, &shutdown, |accepted, info| {
        let handler = Arc::clone(&handler);
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let AcceptedStream { stream, permit } = accepted;
            serve(stream, info, &handler, &limits, &shutdown).await;
            drop(permit);
        });
    })
    .await;
    connections.close();
    connections.wait().await;
    result
}

/// The accept loop shared by TCP and TLS: waits for a connection slot, accepts, and hands the
/// stream with its addresses to `start` (which must spawn and return at once). Accept errors back
/// off; `EMFILE`-style exhaustion never ends the listener.
pub(crate) async fn accept_loop<F>(
    listener: &TcpListener,
    transport: &'static str,
    limits: &StreamLimits,
    shutdown: &CancellationToken,
    mut start: F,
) -> Result<(), TransportError>
where
    F: FnMut(AcceptedStream, ConnectionInfo),
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let local = listener
        .local_addr()
        .map_err(|source| TransportError::Socket { transport, source })?;
    let kind = if transport == "TLS" {
        Transport::Tls
    } else {
        Transport::Tcp
    };
    let mut backoff = Duration::from_millis(10);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => return Ok(()),
            },
        };
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, source)) => {
                backoff = Duration::from_millis(10);
                let destination = stream.local_addr().unwrap_or(local);
                let _ = stream.set_nodelay(true);
                let info = ConnectionInfo {
                    transport: kind,
                    source,
                    destination,
                };
                start(AcceptedStream { stream, permit }, info);
            }
            Err(error) => {
                tracing::warn!(%error, transport, "accept failed; backing off");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// An accepted TCP stream holding one connection slot until it is dropped.
#[derive(Debug)]
pub(crate) struct AcceptedStream {
    pub(crate) stream: tokio::net::TcpStream,
    /// The connection slot, released when the connection ends.
    pub(crate) permit: tokio::sync::OwnedSemaphorePermit,
}
