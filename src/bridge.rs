//! The OpenDHT bridge (`--opendht-proxy URL`): the original SentryPeer's community, reached
//! through OpenDHT's own REST proxy (`dhtnode --proxyserver PORT`), so no C++ library is linked
//! in. It listens on `bad_actors` and imports each value that is a valid original-format event
//! as peer data with origin `opendht` ([`receive`]), and with `--opendht-publish` puts each
//! event this node captured there in the original's format ([`publish`]). Values are unsigned:
//! they count toward verdicts only when the operator says so. The proxy being absent, failing
//! or restarting never slows capture: the bridge backs off and counts.
//!
//! # Layout
//! - [`value`]: the original's value, written and checked.
//! - [`proxy`]: the REST proxy's client and the listen stream's lines.
//! - [`receive`], [`publish`]: the two tasks.
//! - [`discovery`]: our P2P nodes finding each other through OpenDHT (`-p`).
//! - `stats`: the counters and the proxy's up/down state.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::blocklist::Intake;
use crate::pipeline::AsyncEventReceiver;

pub mod discovery;
pub mod proxy;
pub mod publish;
pub mod receive;
mod stats;
pub mod value;

pub use stats::BridgeStats;

/// The original's key: its InfoHash is SHA-1 of this text,
/// `14d30143330e2e0e922ed4028a60ff96a59800ad`.
pub const BAD_ACTORS_KEY: &str = "bad_actors";

/// What the bridge is told by `app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeOptions {
    /// The proxy's base URL (`http://127.0.0.1:8000`).
    pub proxy: String,
    /// Put this node's captured events under `bad_actors`.
    pub publish: bool,
    /// Puts a second at most; the rest is counted.
    pub publish_rate: NonZeroU32,
    /// Count imported values in the live list (verdicts), as reports of the author `opendht`.
    pub counts_toward_verdicts: bool,
    /// Values older than this are refused (`None`: retention 0).
    pub retention: Option<Duration>,
    /// One put or get may take this long.
    pub request_timeout: Duration,
}

/// What can fail in the bridge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The HTTP client could not be built.
    #[error("cannot build the OpenDHT proxy client: {0}")]
    Client(String),
    /// The request failed (connection refused, reset, timed out).
    #[error("OpenDHT proxy request failed: {0}")]
    Request(String),
    /// The proxy answered with this status.
    #[error("OpenDHT proxy answered {0}")]
    Status(u16),
}

/// Waits between reconnections: 250 ms doubling to 10 s.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(10);

    /// The wait before the next attempt (then doubled).
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        wait
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: Self::FIRST }
    }
}

/// What the bridge's tasks take from the rest of the daemon.
#[derive(Debug)]
pub struct BridgeLinks {
    /// Every event enters through here.
    pub intake: Intake,
    /// This node's captured events to put (`--opendht-publish`).
    pub events: Option<AsyncEventReceiver>,
    /// This node's id (our own values are recognised by it).
    pub node_id: Uuid,
    /// The P2P node's side of discovery (`-p`).
    pub discovery: Option<discovery::DiscoveryLink>,
}

/// Runs the bridge until `stop`: the listen task, the publish task when `events` is given, and
/// discovery when linked to the P2P node.
///
/// # Errors
/// [`BridgeError::Client`] when the HTTP client cannot be built.
pub fn start(
    options: &BridgeOptions,
    links: BridgeLinks,
    stats: Arc<BridgeStats>,
    stop: CancellationToken,
) -> Result<impl Future<Output = ()> + Send + 'static, BridgeError> {
    let BridgeLinks {
        intake,
        events,
        node_id,
        discovery,
    } = links;
    let proxy = proxy::Proxy::new(&options.proxy, options.request_timeout)?;
    let importer = receive::Importer::new(
        intake,
        Arc::clone(&stats),
        node_id,
        options.retention,
        options.counts_toward_verdicts,
    );
    let receiving = receive::run(proxy.clone(), importer, stop.clone());
    let rate = options.publish_rate;
    let discovering =
        discovery.map(|link| discovery::run(proxy.clone(), link, Arc::clone(&stats), stop.clone()));
    let publishing = events.map(|events| publish::run(proxy, events, rate, stats, stop));
    Ok(async move {
        let publishing = async {
            if let Some(publishing) = publishing {
                publishing.await;
            }
        };
        let discovering = async {
            if let Some(discovering) = discovering {
                discovering.await;
            }
        };
        tokio::join!(receiving, publishing, discovering);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut backoff = Backoff::default();
        let waits: Vec<Duration> = (0..8).map(|_| backoff.next_wait()).collect();
        assert_eq!(waits[0], Duration::from_millis(250));
        assert_eq!(waits[1], Duration::from_millis(500));
        assert_eq!(waits[7], Duration::from_secs(10));
        backoff.reset();
        assert_eq!(backoff.next_wait(), Duration::from_millis(250));
    }
}
