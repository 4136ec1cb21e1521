//! The speaker's counters and each session's status, in `/api/v1/health` (under `bgp`) and
//! `/metrics` (`sentrypeer_bgp_*`, per peer with a `peer` label), named once here.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use rustbgpd_fsm::SessionState;

use super::options::PeerOptions;
use super::table::{Outbox, RouteTable};
use crate::telemetry::{Count, Readings, Report};

/// Counters of the whole speaker.
#[derive(Debug, Default)]
pub struct SpeakerCounters {
    /// Routes withdrawn (or not added) at `max_routes`.
    pub capped: AtomicU64,
    /// Full re-reads of the blocklist after the change stream dropped the speaker.
    pub resyncs: AtomicU64,
    /// Routes withdrawn because the IP left the list or fell out of policy.
    pub withdrawn: AtomicU64,
    /// Connections accepted and closed: from an address that is no passive peer, or from a
    /// peer whose session already has a connection.
    pub inbound_refused: AtomicU64,
}

/// One peer's session, as health, metrics and the API show it.
#[derive(Debug)]
pub struct PeerStatus {
    /// The peer.
    pub options: PeerOptions,
    state: AtomicU8,
    /// Unix seconds the session was established, 0 while it is not.
    established_at: AtomicU64,
    /// Times the session was established.
    pub established: AtomicU64,
    /// UPDATE messages sent.
    pub updates_sent: AtomicU64,
    /// Prefixes announced (each time, counting re-announcements).
    pub prefixes_announced: AtomicU64,
    /// Prefixes withdrawn.
    pub prefixes_withdrawn: AtomicU64,
    /// Prefixes the peer announced to us: ignored.
    pub prefixes_received: AtomicU64,
    /// UPDATEs from the peer that could not be parsed (ignored, as every route it sends).
    pub malformed_updates: AtomicU64,
    /// NOTIFICATIONs the peer sent.
    pub notifications_received: AtomicU64,
    /// The established session's outbox (what it announced), while there is one.
    outbox: Mutex<Option<Arc<Outbox>>>,
    /// Why the last connection ended or failed.
    last_error: Mutex<Option<String>>,
}

impl PeerStatus {
    /// A peer not connected yet.
    pub(crate) fn new(options: PeerOptions) -> Self {
        Self {
            options,
            state: AtomicU8::new(state_index(SessionState::Idle)),
            established_at: AtomicU64::new(0),
            established: AtomicU64::new(0),
            updates_sent: AtomicU64::new(0),
            prefixes_announced: AtomicU64::new(0),
            prefixes_withdrawn: AtomicU64::new(0),
            prefixes_received: AtomicU64::new(0),
            malformed_updates: AtomicU64::new(0),
            notifications_received: AtomicU64::new(0),
            outbox: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    /// The session's state.
    pub fn state(&self) -> SessionState {
        STATES[usize::from(self.state.load(Ordering::Relaxed)).min(STATES.len() - 1)]
    }

    /// The state's name (`idle`, `connect`, `active`, `open_sent`, `open_confirm`,
    /// `established`).
    pub fn state_name(&self) -> &'static str {
        STATE_NAMES[usize::from(self.state.load(Ordering::Relaxed)).min(STATES.len() - 1)]
    }

    /// Seconds since the session was established, while it is.
    pub fn uptime_seconds(&self) -> Option<u64> {
        let since = self.established_at.load(Ordering::Relaxed);
        let now = u64::try_from(Timestamp::now().as_second()).unwrap_or(0);
        (since > 0).then(|| now.saturating_sub(since))
    }

    /// Prefixes announced to the peer now (what it holds from us).
    pub fn prefixes_held(&self) -> usize {
        self.outbox().map_or(0, |outbox| outbox.lock().sent.len())
    }

    /// The established session's outbox.
    pub(crate) fn outbox(&self) -> Option<Arc<Outbox>> {
        self.outbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Why the last connection ended or failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_state(&self, state: SessionState) {
        self.state.store(state_index(state), Ordering::Relaxed);
    }

    pub(crate) fn set_established(&self, outbox: Option<Arc<Outbox>>) {
        let now = u64::try_from(Timestamp::now().as_second()).unwrap_or(0);
        let since = if outbox.is_some() { now.max(1) } else { 0 };
        self.established_at.store(since, Ordering::Relaxed);
        if outbox.is_some() {
            self.established.fetch_add(1, Ordering::Relaxed);
        }
        *self.outbox.lock().unwrap_or_else(PoisonError::into_inner) = outbox;
    }

    pub(crate) fn set_last_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}

const STATES: [SessionState; 6] = [
    SessionState::Idle,
    SessionState::Connect,
    SessionState::Active,
    SessionState::OpenSent,
    SessionState::OpenConfirm,
    SessionState::Established,
];

const STATE_NAMES: [&str; 6] = [
    "idle",
    "connect",
    "active",
    "open_sent",
    "open_confirm",
    "established",
];

fn state_index(state: SessionState) -> u8 {
    let index = STATES.iter().position(|known| *known == state).unwrap_or(0);
    u8::try_from(index).unwrap_or(0)
}

/// What the speaker shows: the routes, its counters, each session.
#[derive(Debug)]
pub struct SpeakerStatus {
    /// The speaker's options (what every route carries).
    pub options: super::BgpOptions,
    /// The announced routes.
    pub(crate) table: Arc<RouteTable>,
    /// Counters of the whole speaker.
    pub counters: SpeakerCounters,
    /// Each peer's session, in configuration order.
    pub peers: Vec<Arc<PeerStatus>>,
}

impl SpeakerStatus {
    /// Routes announced now.
    pub fn routes(&self) -> usize {
        self.table.len()
    }
}

impl Report for SpeakerStatus {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["bgp"]]
    }

    fn report(&self, out: &mut Readings) {
        let size = |count: usize| u64::try_from(count).unwrap_or(u64::MAX);
        out.gauge(
            "sentrypeer_bgp_routes",
            "Host routes the BGP speaker announces.",
            size(self.routes()),
        )
        .health_in("bgp", &[]);
        let counters = &self.counters;
        #[rustfmt::skip]
        let totals = [
            ("sentrypeer_bgp_capped_total", "Routes withdrawn or not added at max_routes (least recently seen first).", &counters.capped),
            ("sentrypeer_bgp_resyncs_total", "Full re-reads of the blocklist after its change stream dropped the speaker.", &counters.resyncs),
            ("sentrypeer_bgp_withdrawn_total", "Routes withdrawn because the IP left the blocklist or its policy.", &counters.withdrawn),
            ("sentrypeer_bgp_inbound_refused_total", "BGP connections closed: not from a passive peer, or its session already connected.", &counters.inbound_refused),
        ];
        for (name, help, counter) in totals {
            out.counter(name, help, counter.count())
                .health_in("bgp", &[]);
        }
        let sessions: Vec<serde_json::Value> =
            self.peers.iter().map(|peer| session_json(peer)).collect();
        out.health(&["bgp", "sessions"], sessions);
        for peer in &self.peers {
            report_peer(peer, out);
        }
    }
}

/// One session in the health details.
fn session_json(peer: &PeerStatus) -> serde_json::Value {
    serde_json::json!({
        "peer": peer.options.name(),
        "remote_as": peer.options.remote_as,
        "passive": peer.options.passive,
        "state": peer.state_name(),
        "uptime_seconds": peer.uptime_seconds(),
        "prefixes_sent": peer.prefixes_held(),
        "updates_sent": peer.updates_sent.count(),
        "prefixes_received_ignored": peer.prefixes_received.count(),
        "last_error": peer.last_error(),
    })
}

/// One session's metrics, labelled with the peer's address.
fn report_peer(peer: &PeerStatus, out: &mut Readings) {
    let name = peer.options.name();
    let up = u64::from(peer.state() == SessionState::Established);
    out.gauge(
        "sentrypeer_bgp_session_established",
        "1 while the BGP session with the peer is established.",
        up,
    )
    .label("peer", name.clone());
    out.gauge(
        "sentrypeer_bgp_session_uptime_seconds",
        "Seconds the BGP session has been established (0 while down).",
        peer.uptime_seconds().unwrap_or(0),
    )
    .label("peer", name.clone());
    out.gauge(
        "sentrypeer_bgp_prefixes_sent",
        "Prefixes announced to the peer now.",
        u64::try_from(peer.prefixes_held()).unwrap_or(u64::MAX),
    )
    .label("peer", name.clone());
    #[rustfmt::skip]
    let totals = [
        ("sentrypeer_bgp_sessions_established_total", "Times the BGP session was established.", &peer.established),
        ("sentrypeer_bgp_updates_sent_total", "UPDATE messages sent to the peer.", &peer.updates_sent),
        ("sentrypeer_bgp_prefixes_announced_total", "Prefixes announced to the peer, re-announcements included.", &peer.prefixes_announced),
        ("sentrypeer_bgp_prefixes_withdrawn_total", "Prefixes withdrawn from the peer.", &peer.prefixes_withdrawn),
        ("sentrypeer_bgp_prefixes_received_total", "Prefixes the peer announced to us (ignored).", &peer.prefixes_received),
        ("sentrypeer_bgp_malformed_updates_total", "UPDATEs from the peer that did not parse (ignored).", &peer.malformed_updates),
        ("sentrypeer_bgp_notifications_received_total", "NOTIFICATION messages the peer sent.", &peer.notifications_received),
    ];
    for (metric, help, counter) in totals {
        out.counter(metric, help, counter.count())
            .label("peer", name.clone());
    }
}
