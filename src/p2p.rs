//! Peer-to-peer sharing of bad actors between SentryPeer nodes over rust-libp2p (`-p`): each
//! locally captured event is signed and pushed (gossipsub, batched); records from peers are
//! verified, deduplicated, rate-limited and stored with their origin, never re-published as
//! ours; a node that joins gets the retention window it missed (request-response catch-up) from
//! peers it has contributed to.
//!
//! # Layout
//!
//! - `protocol`: the wire protocol: version, protocol names, every message and every limit.
//! - `record`: signing records and checking records from the network.
//! - `inbound`: what becomes of a peer's record (the checks, dedup, per-author rate), as a plain
//!   value.
//! - `outbox`: our events gathered, signed and cut into batches, as a plain value.
//! - `catch_up`: whom to ask for the window and how fast, whom to serve and how much, what a
//!   page holds, as plain values.
//! - `admission`: the connection caps (in all, per address, per peer, handshakes), as a plain
//!   value and the swarm behaviour that applies it.
//! - `community`: community analytics (`--share-stats`): our signed hourly summary, the checks
//!   of peers' summaries, and their sums for `/api/v1/community`.
//! - `reciprocity`: who contributed, who may catch up, who is cut off, gossipsub application
//!   scores.
//! - `scoring`: gossipsub's peer-score parameters and thresholds, with their reasons.
//! - `identity`: the persistent ed25519 key (PeerId).
//! - `behaviour`: the libp2p protocols, built from `protocol`'s names and limits.
//! - `node`: the event loop, glue between the swarm and the plain values.

pub mod admission;
pub mod behaviour;
mod catch_up;
pub mod community;
pub mod connected;
pub mod drops;
pub mod identity;
mod inbound;
mod node;
mod outbox;
pub mod protocol;
pub mod reciprocity;
pub mod record;
pub mod scoring;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::SignedDuration;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};

use crate::store::ReadPool;
use crate::telemetry::{Count, Readings, Report};

pub use admission::ConnectionCaps;
pub use connected::{ConnectedPeer, ConnectedPeers, PeersView};
pub use drops::{DropReason, MAX_TRACKED_PEERS, PeerDrops};
pub use node::{DiscoveryChannels, announced, build_swarm, run};
pub use protocol::Batch;

/// Default `--p2p-listen-address`: the original's DHT port.
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:4222";
/// Default `--p2p-network`.
pub const DEFAULT_NETWORK: &str = "sentrypeer";

/// Errors of the peer-to-peer node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum P2pError {
    /// The identity key file.
    #[error("peer-to-peer key {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An address that is neither `host:port` nor a multiaddr.
    #[error("invalid peer-to-peer address {0:?}: expected host:port or a multiaddr")]
    Address(String),
    /// A PeerId that does not parse.
    #[error("invalid PeerId {0:?}")]
    PeerId(String),
    /// The network name, or setting up the transport or behaviour.
    #[error("peer-to-peer set-up failed: {0}")]
    Network(String),
    /// This node's community summary could not be built or signed.
    #[error("community summary: {0}")]
    Summary(String),
    /// Listening failed.
    #[error("cannot listen for peers on {address}: {reason}")]
    Listen {
        /// The address.
        address: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// What the node is configured with (everything but its key and the database).
#[derive(Debug, Clone)]
pub struct P2pOptions {
    /// Separate communities never mix: protocol names carry this name.
    pub network: String,
    /// Where to listen.
    pub listen: Vec<Multiaddr>,
    /// Whom to dial first (and again when every peer is gone).
    pub bootstrap: Vec<Multiaddr>,
    /// Addresses announced for discovery through OpenDHT (port 0: the port listened on);
    /// public listen addresses are announced besides.
    pub announce: Vec<Multiaddr>,
    /// Find peers on the local network with mDNS.
    pub mdns: bool,
    /// Records older than this are refused and not served; `None` keeps forever.
    pub retention: Option<SignedDuration>,
    /// Records a peer must have contributed before it gets catch-up.
    pub min_contribution: u64,
    /// Time a new peer has to contribute before gossipsub scores it down.
    pub freeloader_grace: Duration,
    /// When not empty, only records authored by these peers are accepted.
    pub receive_only_from: Vec<PeerId>,
    /// Peers whose records are refused and whose connections are closed.
    pub deny: Vec<PeerId>,
    /// Records accepted per second from one author ([`protocol::RATE_BURST_SECONDS`] seconds'
    /// worth at once), pushed or caught up.
    pub max_records_per_second: u32,
    /// Records one peer may send in one catch-up pass (a window's worth); a peer that answers
    /// "more" beyond it is cut off.
    pub max_catch_up_records: u64,
    /// The connections the node takes.
    pub caps: ConnectionCaps,
    /// Community analytics: whether this node publishes its summaries, and how often.
    pub share_stats: community::ShareStats,
}

/// Everything the node needs.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// Its options.
    pub options: P2pOptions,
    /// The node's identity.
    pub key: Keypair,
    /// The store's read pool: catch-up pages, contribution counts and community summaries are
    /// read through it.
    pub reader: ReadPool,
    /// The community's summaries (received) and their counters.
    pub community: std::sync::Arc<community::Community>,
    /// Where the countries of our summaries come from.
    pub countries: std::sync::Arc<crate::countries::Countries>,
    /// The peers connected now, as the node last published them (for the API and dashboard).
    pub connected: std::sync::Arc<ConnectedPeers>,
}

/// Parses `host:port` (IP or DNS name, TCP) or a multiaddr.
///
/// # Errors
/// [`P2pError::Address`].
pub fn parse_address(text: &str) -> Result<Multiaddr, P2pError> {
    let error = || P2pError::Address(text.to_owned());
    if text.starts_with('/') {
        return text.parse().map_err(|_| error());
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        let ip = match socket.ip() {
            std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
            std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
        };
        return format!("{ip}/tcp/{}", socket.port())
            .parse()
            .map_err(|_| error());
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(error)?;
    let port: u16 = port.parse().map_err(|_| error())?;
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !valid_host {
        return Err(error());
    }
    format!("/dns/{host}/tcp/{port}")
        .parse()
        .map_err(|_| error())
}

/// Parses a list of PeerIds.
///
/// # Errors
/// [`P2pError::PeerId`] naming the first bad one.
pub fn parse_peer_ids(texts: &[String]) -> Result<Vec<PeerId>, P2pError> {
    texts
        .iter()
        .map(|text| text.parse().map_err(|_| P2pError::PeerId(text.clone())))
        .collect()
}

/// Counters of the node, for health details and metrics.
#[derive(Debug, Default)]
pub struct P2pStats {
    /// This node's PeerId, once known.
    pub peer_id: std::sync::OnceLock<String>,
    /// Peers connected now.
    pub connected_peers: AtomicU64,
    /// Local records published.
    pub published_records: AtomicU64,
    /// Gossip messages published.
    pub published_messages: AtomicU64,
    /// Bytes of the gossip messages published (payload, before transport framing).
    pub published_bytes: AtomicU64,
    /// Local records not pushed (no peer to push to); catch-up still serves them.
    pub unpublished_records: AtomicU64,
    /// Gossip messages not sent to a peer that read too slowly: its send queue was full, or a
    /// batch waited there past gossipsub's publish timeout. The peer can still get the records
    /// by catch-up, if it shares enough to be served.
    pub unsent_to_slow_peers: AtomicU64,
    /// Records received from peers (push and catch-up).
    pub received_records: AtomicU64,
    /// Records accepted and stored.
    pub accepted_records: AtomicU64,
    /// Records already seen, or our own coming back.
    pub duplicate_records: AtomicU64,
    /// Records refused: bad signature.
    pub rejected_signature: AtomicU64,
    /// Records refused: malformed, wrong version, bad fields, too large.
    pub rejected_malformed: AtomicU64,
    /// Records refused: outside the retention window or in the future.
    pub rejected_window: AtomicU64,
    /// Records refused: another network.
    pub rejected_network: AtomicU64,
    /// Records refused: author denied or not allowed.
    pub rejected_denied: AtomicU64,
    /// Records dropped: their author exceeded its rate.
    pub rate_limited: AtomicU64,
    /// Catch-up pages served.
    pub catch_up_pages_served: AtomicU64,
    /// Bytes of the records in the catch-up pages served.
    pub catch_up_bytes_served: AtomicU64,
    /// Catch-up requests refused (requester contributed too little).
    pub catch_up_refused: AtomicU64,
    /// Catch-up requests refused: the requester had one being answered, or the node was reading
    /// as many pages as it serves at once.
    pub catch_up_refused_busy: AtomicU64,
    /// Catch-up requests refused: sooner than the pace allows after the requester's last page.
    pub catch_up_refused_pace: AtomicU64,
    /// Catch-up requests refused: the window was served on that connection already, or the
    /// requester started too many windows this hour.
    pub catch_up_refused_window_served: AtomicU64,
    /// Catch-up requests of ours that peers refused.
    pub catch_up_refused_by_peers: AtomicU64,
    /// Times our catch-up waited before taking the rest of a page, its author being over its
    /// rate.
    pub catch_up_rate_waits: AtomicU64,
    /// Peers cut off and scored down for breaking the catch-up protocol (endless, malformed or
    /// forged pages).
    pub catch_up_cut_off: AtomicU64,
    /// Local events not shared: even with its message cut, their record would be too large.
    pub records_too_large: AtomicU64,
    /// Connections refused: too many in their handshake (or dials in progress).
    pub connections_refused_handshakes: AtomicU64,
    /// Connections refused: the node holds as many as it takes.
    pub connections_refused_full: AtomicU64,
    /// Connections refused: too many from one address.
    pub connections_refused_per_address: AtomicU64,
    /// Connections refused: too many with one peer.
    pub connections_refused_per_peer: AtomicU64,
    /// Records refused or dropped, per peer that sent them, by reason (at most
    /// [`MAX_TRACKED_PEERS`] peers).
    pub dropped_by_peer: PeerDrops,
}

impl P2pStats {
    /// Adds one to a counter.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a record refused or dropped for `reason` because of what `peer` sent: in the
    /// node-wide counter of the reason and against `peer`.
    pub(crate) fn dropped_from(&self, peer: &PeerId, reason: DropReason) {
        if let Some(counter) = reason.counter(self) {
            Self::bump(counter);
        }
        self.dropped_by_peer.count(peer, reason);
    }

    /// Drops per peer, all reasons together (a copy).
    pub fn dropped_by_peer(&self) -> std::collections::BTreeMap<String, u64> {
        self.dropped_by_peer.totals()
    }
}

impl Report for P2pStats {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["p2p"]]
    }

    fn report(&self, out: &mut Readings) {
        #[rustfmt::skip]
        let counters = [
            ("connected_peers", self.connected_peers.count()),
            ("published_records", self.published_records.count()),
            ("published_messages", self.published_messages.count()),
            ("published_bytes", self.published_bytes.count()),
            ("unpublished_records", self.unpublished_records.count()),
            ("unsent_to_slow_peers", self.unsent_to_slow_peers.count()),
            ("received_records", self.received_records.count()),
            ("accepted_records", self.accepted_records.count()),
            ("duplicate_records", self.duplicate_records.count()),
            ("rejected_signature", self.rejected_signature.count()),
            ("rejected_malformed", self.rejected_malformed.count()),
            ("rejected_window", self.rejected_window.count()),
            ("rejected_network", self.rejected_network.count()),
            ("rejected_denied", self.rejected_denied.count()),
            ("rate_limited", self.rate_limited.count()),
            ("catch_up_pages_served", self.catch_up_pages_served.count()),
            ("catch_up_bytes_served", self.catch_up_bytes_served.count()),
            ("catch_up_refused", self.catch_up_refused.count()),
            ("catch_up_refused_busy", self.catch_up_refused_busy.count()),
            ("catch_up_refused_pace", self.catch_up_refused_pace.count()),
            ("catch_up_refused_window_served", self.catch_up_refused_window_served.count()),
            ("catch_up_refused_by_peers", self.catch_up_refused_by_peers.count()),
            ("catch_up_rate_waits", self.catch_up_rate_waits.count()),
            ("catch_up_cut_off", self.catch_up_cut_off.count()),
            ("records_too_large", self.records_too_large.count()),
            ("connections_refused_handshakes", self.connections_refused_handshakes.count()),
            ("connections_refused_full", self.connections_refused_full.count()),
            ("connections_refused_per_address", self.connections_refused_per_address.count()),
            ("connections_refused_per_peer", self.connections_refused_per_peer.count()),
        ];
        for (name, count) in counters {
            out.counter(
                "sentrypeer_p2p_total",
                "Peer-to-peer counters by name: records published, received, accepted and refused \
                 by reason; catch-up served and refused; connections refused.",
                count,
            )
            .label("counter", name)
            .health(&["p2p", name]);
        }
        out.health(&["p2p", "peer_id"], self.peer_id.get().cloned());
        out.health(
            &["p2p", "dropped_by_peer"],
            serde_json::json!(self.dropped_by_peer()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_as_host_port_or_multiaddr() {
        let parse = |text: &str| parse_address(text).map(|addr| addr.to_string()).ok();
        assert_eq!(
            parse("127.0.0.1:4222").as_deref(),
            Some("/ip4/127.0.0.1/tcp/4222")
        );
        assert_eq!(parse("[::1]:4222").as_deref(), Some("/ip6/::1/tcp/4222"));
        assert_eq!(
            parse("bootstrap.sentrypeer.org:4222").as_deref(),
            Some("/dns/bootstrap.sentrypeer.org/tcp/4222")
        );
        assert_eq!(
            parse("/ip4/10.0.0.1/tcp/4222").as_deref(),
            Some("/ip4/10.0.0.1/tcp/4222")
        );
        for bad in [
            "",
            "nohost",
            "host:port",
            ":4222",
            "/not/a/multiaddr",
            "a b:1",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
        assert!(parse_peer_ids(&["nope".to_owned()]).is_err());
    }
}
