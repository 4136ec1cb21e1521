//! TLS for the SIP listener: the handshake inside the connection task under a timeout (a slow or
//! silent client never stalls accepting and loses its connection when the time is up), then the
//! same framing as TCP.

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::stream::Connection;
use crate::event::Transport;

/// Does the TLS handshake on `stream` within the handshake timeout, then serves the connection.
/// A failed or timed-out handshake records nothing (it is not a SIP message).
pub(crate) async fn handshake_and_serve(
    stream: TcpStream,
    acceptor: &TlsAcceptor,
    connection: Connection<'_>,
) {
    let timeout = connection.limits.handshake_timeout;
    let handshake = tokio::select! {
        () = connection.shutdown.cancelled() => return,
        handshake = tokio::time::timeout(timeout, acceptor.accept(stream)) => handshake,
    };
    match handshake {
        Ok(Ok(tls_stream)) => connection.serve(tls_stream).await,
        Ok(Err(error)) => {
            tracing::debug!(%error, source = %connection.info.source, "TLS handshake failed");
        }
        Err(_elapsed) => {
            connection.counters.handshake_timeout(Transport::Tls);
            tracing::debug!(source = %connection.info.source, "TLS handshake timed out");
        }
    }
}
