//! The BGP blackhole feed (`--bgp`): a BGP speaker that announces one host route (/32, /128) per
//! IP on the live blocklist that passes the BGP policy, with a discard next hop and the
//! BLACKHOLE and NO_EXPORT communities, as Team Cymru's route servers do; routers drop traffic to
//! those addresses and, with unicast RPF, from them. It never accepts a route: what peers
//! announce is counted and ignored.
//!
//! # Layout
//!
//! - `selector`: blocklist (change stream, full reads, sweeps) + policy → the route table;
//! - `table`: the announced routes, capped by recency, and each session's outbox;
//! - `session`: one task per peer (connect or accept, rustbgpd's state machine, timers,
//!   back-off), with its writer;
//! - `update`: the UPDATEs we send; `inbound`: framing and decoding what peers send (fuzzed:
//!   `fuzz/fuzz_targets/bgp_message.rs`);
//! - `listener`: the listening socket for passive peers;
//! - `stats`: counters and session status for health, metrics and `GET /api/v1/bgp/routes`.
//!
//! # The speaker
//!
//! rustbgpd's `rustbgpd-fsm` (the RFC 4271 state machine, no I/O) and `rustbgpd-wire` (the
//! codec): see the reasons in `Cargo.toml`. TCP-MD5 (RFC 2385) is not offered: it needs the
//! `TCP_MD5SIG` socket option with a `struct tcp_md5sig`, which no safe API provides (socket2
//! 0.6, rustix 1.1 and nix 0.32 have none), and this crate forbids `unsafe` code. A `password`
//! in a peer's configuration is refused at start, never silently ignored.

mod inbound;
mod listener;
mod options;
mod selector;
mod session;
mod stats;
mod table;
mod update;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use jiff::Timestamp;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use options::{
    BLACKHOLE, BgpOptions, CommunityError, LargeCommunityError, NEVER_ANNOUNCED, NO_ADVERTISE,
    NO_EXPORT, NO_EXPORT_SUBCONFED, NO_PEER, PeerOptions, community_text, never_announced,
    parse_community, parse_large_community,
};
pub use stats::{PeerStatus, SpeakerCounters, SpeakerStatus};

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use inbound::{Framer, Inbound, interpret};

use crate::blocklist::{Blocklist, Policy};
use selector::Selector;
use table::RouteTable;

/// What every session shares.
#[derive(Debug)]
struct Shared {
    options: BgpOptions,
    table: Arc<RouteTable>,
}

/// The speaker, ready to run.
#[derive(Debug)]
pub struct Speaker {
    shared: Arc<Shared>,
    selector: Selector,
    status: Arc<SpeakerStatus>,
}

impl Speaker {
    /// A speaker announcing what `policy` lets through of `blocklist`.
    pub fn new(options: BgpOptions, blocklist: Arc<Blocklist>, policy: Policy) -> Self {
        let table = Arc::new(RouteTable::new(options.max_routes));
        let status = Arc::new(SpeakerStatus {
            options: options.clone(),
            table: Arc::clone(&table),
            counters: SpeakerCounters::default(),
            peers: (options.peers.iter())
                .map(|peer| Arc::new(PeerStatus::new(peer.clone())))
                .collect(),
        });
        Self {
            selector: Selector {
                blocklist,
                policy,
                table: Arc::clone(&table),
                counters: Arc::clone(&status),
            },
            shared: Arc::new(Shared { options, table }),
            status,
        }
    }

    /// Its routes, counters and sessions.
    pub fn status(&self) -> Arc<SpeakerStatus> {
        Arc::clone(&self.status)
    }

    /// Runs until `stop`, then ends every session with a Cease NOTIFICATION. `listener`
    /// accepts passive peers' connections.
    pub async fn run(self, listener: Option<TcpListener>, stop: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(self.selector.run(stop.clone()));
        let mut passive = HashMap::new();
        for peer in &self.status.peers {
            let (accepted_tx, accepted) = mpsc::channel(1);
            if peer.options.passive {
                passive.insert(peer.options.address.to_canonical(), accepted_tx);
            }
            tasks.spawn(session::run_peer(
                Arc::clone(&self.shared),
                Arc::clone(peer),
                accepted,
                stop.clone(),
            ));
        }
        match listener {
            Some(listener) => {
                tasks.spawn(listener::accept(
                    listener,
                    passive,
                    Arc::clone(&self.status),
                    stop.clone(),
                ));
            }
            None if !passive.is_empty() => {
                tracing::warn!(
                    "passive BGP peers wait for connections, but bgp.listen_address is not set"
                );
            }
            None => {}
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// One announced route as `GET /api/v1/bgp/routes` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncedRoute {
    /// The IP (its host route).
    pub ip: IpAddr,
    /// Its newest counted event.
    pub last_seen: Timestamp,
    /// The peers (addresses) that hold it from us now.
    pub peers: Vec<IpAddr>,
}

impl SpeakerStatus {
    /// Every announced route and which peers hold it, newest first.
    pub fn announced(&self) -> Vec<AnnouncedRoute> {
        let outboxes: Vec<_> = (self.peers.iter())
            .filter_map(|peer| Some((peer.options.address, peer.outbox()?)))
            .collect();
        let mut routes: Vec<AnnouncedRoute> = (self.table.routes().into_iter())
            .map(|(ip, route)| AnnouncedRoute {
                ip,
                last_seen: Timestamp::from_second(route.last_seen).unwrap_or_default(),
                peers: (outboxes.iter())
                    .filter(|(_, outbox)| outbox.has_sent(&ip))
                    .map(|(address, _)| *address)
                    .collect(),
            })
            .collect();
        routes.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.ip.cmp(&b.ip)));
        routes
    }
}
