//! The start phase: one file per service, each with the function that starts it; `app::run`
//! calls them in start order. [`Wiring`] is what they share while starting.

#[cfg(feature = "api")]
pub(super) mod api;
#[cfg(feature = "bgp")]
pub(super) mod bgp;
pub(super) mod blocklist;
#[cfg(feature = "opendht")]
pub(super) mod bridge;
pub(super) mod json_log;
#[cfg(feature = "api")]
pub(super) mod live_events;
pub(super) mod not_built;
#[cfg(feature = "p2p")]
pub(super) mod p2p;
pub(super) mod sip;
#[cfg(feature = "sip-agent")]
pub(super) mod sip_agent;
pub(super) mod store;
pub(super) mod syslog;
#[cfg(feature = "webhook")]
pub(super) mod webhook;

use std::sync::Arc;

use uuid::Uuid;

use super::services::Services;
use super::settings::Settings;
use crate::blocklist::{Blocklist, VerdictOptions};
#[cfg(any(feature = "gui", feature = "p2p"))]
use crate::countries::Countries;
use crate::pipeline::PipelineMonitor;
#[cfg(feature = "api")]
use crate::sinks::live_events::LiveEvents;
use crate::store::{ReadPool, StoreStats};
use crate::telemetry::{Registry, Report};
use crate::transport::udp_drops::UdpDropMonitor;

/// What the P2P node hands the OpenDHT bridge's discovery, when both are built.
#[cfg(feature = "opendht")]
pub(super) use crate::bridge::discovery::DiscoveryLink as Discovery;
/// Without the OpenDHT bridge, the P2P node hands it nothing.
#[cfg(not(feature = "opendht"))]
pub(super) type Discovery = super::settings::NotBuilt;

/// What the services share while they start.
pub(super) struct Wiring<'a> {
    /// Every module's options.
    pub settings: &'a Settings,
    /// The services started so far.
    pub services: Services,
    /// This node's persistent id.
    pub node_id: Uuid,
    /// The live blocklist every event is counted in.
    pub blocklist: Arc<Blocklist>,
    /// The verdict policy's node-wide options, with this host's addresses among its own.
    #[cfg_attr(
        not(any(feature = "api", feature = "sip-agent", feature = "bgp")),
        allow(
            dead_code,
            reason = "read by the verdict consumers: API, SIP agent, BGP"
        )
    )]
    pub verdicts: VerdictOptions,
    /// Read-only database connections, for the API and the P2P node's catch-up. It opens its
    /// first connection when first read, after the writer has created and migrated the
    /// database.
    #[cfg_attr(
        not(any(feature = "api", feature = "p2p")),
        allow(dead_code, reason = "read by the API and the P2P node")
    )]
    pub reader: ReadPool,
    /// The counters of the parts started so far (and of those that are off), for the API.
    pub telemetry: Registry,
    /// The events `/api/v1/stream` hands on (when the API is on).
    #[cfg(feature = "api")]
    pub live_events: Option<Arc<LiveEvents>>,
    /// What the last log line reports.
    pub summary: Summary,
    /// The BGP speaker's routes and sessions, once it started (for the API).
    #[cfg(feature = "bgp")]
    pub bgp: Option<Arc<crate::bgp::SpeakerStatus>>,
    /// The community's summaries, once the P2P node started (for the API).
    #[cfg(feature = "p2p")]
    pub community: Option<Arc<crate::p2p::community::Community>>,
    /// The peers connected now, once the P2P node started (for the API and the dashboard).
    #[cfg(feature = "p2p")]
    pub connected_peers: Option<Arc<crate::p2p::ConnectedPeers>>,
    /// The country lookup, once a part needed it (the dashboard and the P2P node share it).
    #[cfg(any(feature = "gui", feature = "p2p"))]
    countries: Option<Arc<Countries>>,
}

/// The counters the last log line reports: received, stored, dropped, dropped by the kernel.
#[derive(Debug, Default)]
pub(super) struct Summary {
    /// The pipeline's counters.
    pub pipeline: Option<PipelineMonitor>,
    /// The store writer's counters.
    pub store: Arc<StoreStats>,
    /// Kernel drops on the UDP socket.
    pub udp_drops: Option<UdpDropMonitor>,
}

impl<'a> Wiring<'a> {
    /// Nothing started yet.
    pub(super) fn new(
        settings: &'a Settings,
        services: Services,
        database: &store::Database,
    ) -> Self {
        let reader = ReadPool::new(settings.store.db_file.clone());
        Self {
            settings,
            services,
            node_id: database.node_id,
            blocklist: Arc::new(Blocklist::new(&settings.blocklist)),
            verdicts: blocklist::with_interface_addresses(&settings.verdicts.node),
            telemetry: Registry::default().with(Some(reader.stats())),
            reader,
            #[cfg(feature = "api")]
            live_events: None,
            summary: Summary::default(),
            #[cfg(feature = "bgp")]
            bgp: None,
            #[cfg(feature = "p2p")]
            community: None,
            #[cfg(feature = "p2p")]
            connected_peers: None,
            #[cfg(any(feature = "gui", feature = "p2p"))]
            countries: None,
        }
    }

    /// The country lookup from `geoip_db` (the built-in table without), opened once.
    #[cfg(any(feature = "gui", feature = "p2p"))]
    ///
    /// # Errors
    /// The `--geoip-db` file cannot be opened as a MaxMind database.
    pub(super) fn countries(
        &mut self,
        geoip_db: Option<&std::path::Path>,
    ) -> Result<Arc<Countries>, crate::countries::CountriesError> {
        if let Some(countries) = &self.countries {
            return Ok(Arc::clone(countries));
        }
        let countries = Arc::new(Countries::open(geoip_db)?);
        self.countries = Some(Arc::clone(&countries));
        Ok(countries)
    }

    /// Adds a part's counters to health and metrics: `Some` when it runs, `None` when it is
    /// off (shown as `null` where it would be).
    pub(super) fn report<R: Report + 'static>(&mut self, part: Option<Arc<R>>) {
        self.telemetry = std::mem::take(&mut self.telemetry).with(part);
    }
}
