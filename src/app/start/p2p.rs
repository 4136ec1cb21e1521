//! Peer-to-peer sharing (`-p`): a queue of this node's own events to publish, registered with the
//! other consumers, then the node itself, which also submits the records peers send. Its
//! connection caps are lowered, when needed, so that the node never holds the file descriptors
//! SIP, TLS and the API may need at their own caps. With the OpenDHT bridge on, the node and the
//! bridge's discovery get the two ends of the channels between them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::{Discovery, Wiring};
use crate::app::services::{Grace, Stage};
use crate::app::settings::Settings;
use crate::blocklist::Intake;
use crate::p2p::community::Community;
use crate::p2p::{self, ConnectedPeers, ConnectionCaps, DiscoveryChannels, P2pConfig, P2pStats};
use crate::pipeline::{AsyncEventReceiver, PeerRecords, PipelineBuilder};

/// Time the node has to close its connections at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// File descriptors kept for the rest of the process: the database and its read connections,
/// logs, listeners, the webhook's connections.
const DESCRIPTORS_FOR_FILES: u64 = 64;

/// Registers the queue of local events to publish, when sharing is on.
pub(in crate::app) fn register(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
) -> Option<AsyncEventReceiver> {
    wiring.settings.p2p.as_ref().map(|_| {
        pipeline.async_consumer(
            "p2p",
            wiring.settings.event_queue_capacity,
            PeerRecords::LeftOut,
        )
    })
}

/// Loads the node's key and starts the node; with the OpenDHT bridge on, returns discovery's
/// side of the channels between them (the bridge's to run).
///
/// # Errors
/// The key cannot be read or created.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    intake: &Intake,
    events: Option<AsyncEventReceiver>,
) -> anyhow::Result<Option<Discovery>> {
    let (Some(settings), Some(events)) = (&wiring.settings.p2p, events) else {
        wiring.report::<P2pStats>(None);
        wiring.report::<Community>(None);
        return Ok(None);
    };
    let key = p2p::identity::load_or_create(&settings.key_file)?;
    let peer_id = key.public().to_peer_id();
    tracing::info!(%peer_id, path = %settings.key_file.display(), "p2p identity");
    let stats = Arc::new(P2pStats::default());
    let _ = stats.peer_id.set(peer_id.to_base58());
    let mut options = settings.options.clone();
    options.caps = within_open_file_limit(wiring.settings, options.caps, open_file_limit());
    let (channels, link) = match wiring.settings.opendht {
        Some(_) => discovery_channels(&key, &options.network),
        None => (None, None),
    };
    let community = Arc::new(Community::default());
    let connected = Arc::new(ConnectedPeers::default());
    let config = P2pConfig {
        options,
        key,
        reader: wiring.reader.clone(),
        community: Arc::clone(&community),
        countries: wiring.countries(settings.geoip_db.as_deref())?,
        connected: Arc::clone(&connected),
    };
    let node_stats = Arc::clone(&stats);
    let intake = intake.clone();
    wiring.services.spawn(
        "p2p",
        Stage::Serving,
        Grace::Within(STOP_GRACE),
        move |stop| {
            Ok(async move {
                p2p::run(config, events, intake, node_stats, channels, stop)
                    .await
                    .context("peer-to-peer")
            })
        },
    )?;
    wiring.report(Some(stats));
    wiring.report(Some(Arc::clone(&community)));
    wiring.community = Some(community);
    wiring.connected_peers = Some(connected);
    Ok(link)
}

/// The two ends of the channels between the node and the OpenDHT bridge's discovery.
#[cfg(feature = "opendht")]
fn discovery_channels(
    key: &libp2p::identity::Keypair,
    network: &str,
) -> (Option<DiscoveryChannels>, Option<Discovery>) {
    use tokio::sync::{mpsc, watch};
    /// Peers found through OpenDHT that may wait for the node to dial them.
    const FOUND_QUEUE: usize = 64;
    let (announce, addresses) = watch::channel(Vec::new());
    let (dial, found) = mpsc::channel(FOUND_QUEUE);
    let link = Discovery {
        key: key.clone(),
        network: network.to_owned(),
        addresses,
        dial,
    };
    (Some(DiscoveryChannels { announce, found }), Some(link))
}

/// Without the OpenDHT bridge there is no discovery to link.
#[cfg(not(feature = "opendht"))]
fn discovery_channels(
    _: &libp2p::identity::Keypair,
    _: &str,
) -> (Option<DiscoveryChannels>, Option<Discovery>) {
    (None, None)
}

/// The soft open-file limit (`None`: unlimited). SIP's start raised it to the hard limit when
/// SIP listens.
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// `caps` lowered so the node keeps within what `limit` leaves once SIP/TCP, TLS and the API
/// have room for their own caps: P2P can never starve them. When their caps alone exceed the
/// limit (they would exhaust it themselves; SIP warns), the node still gets an eighth of it.
fn within_open_file_limit(
    settings: &Settings,
    caps: ConnectionCaps,
    limit: Option<u64>,
) -> ConnectionCaps {
    let Some(limit) = limit else {
        return caps;
    };
    let stream_listeners = settings
        .capture
        .listeners
        .as_ref()
        .map_or(0, |listeners| 1 + u64::from(listeners.tls.is_some()));
    let sip = stream_listeners * settings.capture.stream_limits.max_connections as u64;
    let api = settings.api.as_ref().map_or(0, |_| api_connections());
    let available = limit
        .saturating_sub(sip + api + DESCRIPTORS_FOR_FILES)
        .max(limit / 8);
    let fitted = caps.within_descriptors(available);
    if fitted == caps {
        tracing::debug!(
            open_file_limit = limit,
            p2p_descriptors = caps.descriptors(),
            "p2p caps"
        );
    } else {
        tracing::warn!(
            open_file_limit = limit,
            max_connections = fitted.max_connections,
            max_connections_per_address = fitted.max_per_address,
            "peer-to-peer connections capped lower to leave file descriptors for SIP, TLS and \
             the API; raise the open-file limit (ulimit -n, LimitNOFILE=) to take more"
        );
    }
    fitted
}

/// The API's connection cap.
#[cfg(feature = "api")]
fn api_connections() -> u64 {
    crate::api::ServeLimits::default().max_connections as u64
}

#[cfg(not(feature = "api"))]
fn api_connections() -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn settings(configure: impl FnOnce(&mut Config)) -> Settings {
        let mut config = Config {
            peer_to_peer: true,
            api: true,
            tls_disable: true,
            ..Config::default()
        };
        configure(&mut config);
        Settings::from_config(&config).expect("valid")
    }

    #[test]
    fn p2p_keeps_out_of_the_descriptors_sip_and_the_api_may_need() {
        let caps = ConnectionCaps::new(128, 32);
        let defaults = settings(|_| ());
        assert_eq!(
            within_open_file_limit(&defaults, caps, Some(20_000)),
            caps,
            "room for all"
        );
        assert_eq!(within_open_file_limit(&defaults, caps, None), caps);
        // SIP/TCP at 1,024 connections and the API at 512 leave 400 of 2,000: enough.
        assert_eq!(within_open_file_limit(&defaults, caps, Some(2_000)), caps);
        // Over-committed already (SIP's and the API's caps alone exceed 1,024): an eighth.
        let over = within_open_file_limit(&defaults, caps, Some(1_024));
        assert!(over.descriptors() <= 128, "{over:?}");
        assert!(over.max_connections >= 64, "{over:?}");
        // A pure sharing node (-R) keeps nothing for SIP: 448 of 1,024 are left.
        let relay = settings(|config| config.sip_disable = true);
        assert_eq!(within_open_file_limit(&relay, caps, Some(1_024)), caps);
        assert!(within_open_file_limit(&relay, caps, Some(700)).descriptors() <= 124);
    }
}
