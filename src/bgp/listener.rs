//! The BGP listening socket (`[bgp] listen_address`): a connection from a passive peer's address
//! goes to that peer's session; any other is closed at once and counted (port 179 on a honeypot
//! gets scanned), as is one from a peer whose session already has a connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::stats::SpeakerStatus;

/// Pause after a failed accept (out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Accepts until `stop`, handing each passive peer's connections to its session.
pub(crate) async fn accept(
    listener: TcpListener,
    passive: HashMap<IpAddr, mpsc::Sender<TcpStream>>,
    status: Arc<SpeakerStatus>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, from) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a BGP connection");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let handed = passive
            .get(&from.ip().to_canonical())
            .is_some_and(|session| session.try_send(stream).is_ok());
        if !handed {
            status
                .counters
                .inbound_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%from, "BGP connection refused: not a passive peer, or already connected");
        }
    }
}
