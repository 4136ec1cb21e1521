//! The TCP and TLS SIP listeners: accept under a connection cap and a per-source cap, one task
//! per connection (which does the TLS handshake first on the TLS listener).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connections::{ConnectionCounters, OpenConnection, SourceConnections, SourcePlace};
use super::stream::{Connection, ConnectionInfo};
use super::{ProbeHandler, StreamLimits, TransportError};
use crate::event::Transport;

/// The TLS listener's handshake: rustls' acceptor.
#[cfg(feature = "tls")]
pub use tokio_rustls::TlsAcceptor;

/// Built without the `tls` feature there is no TLS listener, and no acceptor can exist.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum TlsAcceptor {}

/// Accepts connections until `shutdown` is cancelled, then waits for open connections to finish
/// (they see the same token and record what they hold). With `tls`, each connection first does
/// its TLS handshake (see `transport::tls`); without, it is plain TCP.
///
/// # Errors
/// [`TransportError::Socket`] when accepting keeps failing.
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handler: Arc<ProbeHandler>,
    limits: StreamLimits,
    counters: Arc<ConnectionCounters>,
    shutdown: CancellationToken,
) -> Result<(), TransportError> {
    let connections = TaskTracker::new();
    let accepting = Accepting {
        transport: if tls.is_some() {
            Transport::Tls
        } else {
            Transport::Tcp
        },
        limits: &limits,
        counters: &counters,
        shutdown: &shutdown,
    };
    let result = accept_loop(&listener, &accepting, |accepted, info| {
        let handler = Arc::clone(&handler);
        let shutdown = shutdown.clone();
        let counters = Arc::clone(&counters);
        let tls = tls.clone();
        connections.spawn(async move {
            let AcceptedStream { stream, slot } = accepted;
            let connection = Connection {
                info,
                handler: &handler,
                limits: &limits,
                counters: &counters,
                shutdown: &shutdown,
            };
            match tls {
                None => connection.serve(stream).await,
                Some(acceptor) => serve_tls(stream, &acceptor, connection).await,
            }
            drop(slot);
        });
    })
    .await;
    connections.close();
    connections.wait().await;
    result
}

/// The TLS handshake, then the connection.
#[cfg(feature = "tls")]
async fn serve_tls(
    stream: tokio::net::TcpStream,
    acceptor: &TlsAcceptor,
    connection: Connection<'_>,
) {
    super::tls::handshake_and_serve(stream, acceptor, connection).await;
}

#[cfg(not(feature = "tls"))]
async fn serve_tls(_: tokio::net::TcpStream, acceptor: &TlsAcceptor, _: Connection<'_>) {
    match *acceptor {}
}

/// What the accept loop needs besides the socket.
pub(crate) struct Accepting<'a> {
    /// TCP or TLS.
    pub(crate) transport: Transport,
    /// The caps.
    pub(crate) limits: &'a StreamLimits,
    /// Where refused and open connections are counted.
    pub(crate) counters: &'a Arc<ConnectionCounters>,
    /// Stops accepting.
    pub(crate) shutdown: &'a CancellationToken,
}

/// The accept loop shared by TCP and TLS: waits for a connection slot, accepts, closes the
/// connection at once when its source already has its cap of live ones (counted), and otherwise
/// hands the stream with its addresses to `start` (which must spawn and return at once). Accept
/// errors back off; `EMFILE`-style exhaustion never ends the listener.
pub(crate) async fn accept_loop<F>(
    listener: &TcpListener,
    accepting: &Accepting<'_>,
    mut start: F,
) -> Result<(), TransportError>
where
    F: FnMut(AcceptedStream, ConnectionInfo),
{
    let Accepting {
        transport: kind,
        limits,
        counters,
        shutdown,
    } = *accepting;
    let transport = kind.as_str();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let sources =
        SourceConnections::new(limits.max_connections_per_source, limits.ipv6_source_prefix);
    let local = listener
        .local_addr()
        .map_err(|source| TransportError::Socket { transport, source })?;
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
                let Some(place) = sources.enter(source.ip()) else {
                    counters.over_source_cap(kind);
                    tracing::debug!(transport, %source, "connection refused: source at its connection cap");
                    drop(stream);
                    continue;
                };
                let destination = stream.local_addr().unwrap_or(local);
                let _ = stream.set_nodelay(true);
                let info = ConnectionInfo {
                    transport: kind,
                    source,
                    destination,
                };
                let slot = ConnectionSlot {
                    _permit: permit,
                    _place: place,
                    _open: counters.opened(kind),
                };
                start(AcceptedStream { stream, slot }, info);
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

/// An accepted TCP stream holding its connection slot until it is dropped.
#[derive(Debug)]
pub(crate) struct AcceptedStream {
    pub(crate) stream: tokio::net::TcpStream,
    /// Released when the connection ends.
    pub(crate) slot: ConnectionSlot,
}

/// What one live connection holds: a place under the listener's cap, a place under its source's
/// cap, and its count in the open-connections gauge. Dropping it gives all three back.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    _place: SourcePlace,
    _open: OpenConnection,
}
