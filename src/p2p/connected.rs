//! The peers connected right now, for `/api/v1/peers` and the dashboard's Peers page: the node
//! task keeps a [`PeerTable`] (one line per peer: the remote address of its first connection,
//! who dialled, since when, connections open), bounded by the connection caps, and publishes
//! it, with what each peer contributed and what was refused from it by reason, to
//! [`ConnectedPeers`], which readers copy without ever waiting on the swarm.

use std::collections::BTreeMap;
use std::sync::RwLock;

use jiff::Timestamp;
use libp2p::{Multiaddr, PeerId};
use serde::Serialize;

use super::drops::PeerDrops;
use super::reciprocity::Contributions;

/// Who opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// This node dialled the peer.
    Outbound,
    /// The peer dialled this node.
    Inbound,
}

impl Direction {
    /// `outbound` or `inbound`, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::Inbound => "inbound",
        }
    }
}

/// One connected peer, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectedPeer {
    /// Its PeerId (base58).
    pub peer_id: String,
    /// The remote address of its first connection still open when it was listed.
    pub address: String,
    /// Who opened that connection.
    pub direction: Direction,
    /// When that connection was established (RFC 3339, UTC, seconds).
    pub connected_since: String,
    /// Connections open with it.
    pub connections: u32,
    /// Records accepted with it as author (the window's at start, and since).
    pub contributed: u64,
    /// Whether it contributed enough to be served catch-up (`--p2p-min-contribution`).
    pub may_catch_up: bool,
    /// Records (and community summaries) from it refused or dropped since start, by reason.
    pub refused: BTreeMap<&'static str, u64>,
}

/// What `/api/v1/peers` answers: this node and the peers connected to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeersView {
    /// This node's PeerId.
    pub peer_id: String,
    /// Records a peer must contribute before it is served catch-up.
    pub min_contribution: u64,
    /// The peers connected now, by PeerId.
    pub connected: Vec<ConnectedPeer>,
}

/// The view the node task last published (written only by it; readers take a copy).
#[derive(Debug, Default)]
pub struct ConnectedPeers {
    view: RwLock<PeersView>,
}

impl ConnectedPeers {
    /// A copy of the last view published.
    pub fn view(&self) -> PeersView {
        self.view
            .read()
            .map(|view| view.clone())
            .unwrap_or_default()
    }

    /// Replaces the view.
    pub(crate) fn publish(&self, view: PeersView) {
        if let Ok(mut published) = self.view.write() {
            *published = view;
        }
    }
}

/// A connected peer's line in the node's table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    address: Multiaddr,
    direction: Direction,
    since: Timestamp,
    connections: u32,
}

/// The peers connected now: at most `capacity` (the node's connection cap: each peer holds at
/// least one connection, so the table never turns a peer away that the caps let in).
#[derive(Debug)]
pub(crate) struct PeerTable {
    lines: BTreeMap<PeerId, Line>,
    capacity: usize,
}

impl PeerTable {
    /// An empty table of at most `capacity` peers.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            lines: BTreeMap::new(),
            capacity,
        }
    }

    /// A connection with `peer` was established at `now` (`connections`: open with it now,
    /// this one included); its first connection gives the address and direction.
    pub(crate) fn connected(
        &mut self,
        peer: PeerId,
        address: &Multiaddr,
        direction: Direction,
        connections: u32,
        now: Timestamp,
    ) {
        if let Some(line) = self.lines.get_mut(&peer) {
            line.connections = connections;
        } else if self.lines.len() < self.capacity {
            let line = Line {
                address: address.clone(),
                direction,
                since: now,
                connections,
            };
            self.lines.insert(peer, line);
        }
    }

    /// A connection with `peer` closed, leaving `connections` open: at none it is gone.
    pub(crate) fn disconnected(&mut self, peer: &PeerId, connections: u32) {
        if connections == 0 {
            self.lines.remove(peer);
        } else if let Some(line) = self.lines.get_mut(peer) {
            line.connections = connections;
        }
    }

    /// Peers listed.
    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }

    /// The published lines, with what each peer contributed (`contributions`) and what was
    /// refused from it (`drops`); a peer may catch up from `min_contribution` records.
    pub(crate) fn peers(
        &self,
        contributions: &Contributions,
        drops: &PeerDrops,
        min_contribution: u64,
    ) -> Vec<ConnectedPeer> {
        (self.lines.iter())
            .map(|(peer, line)| ConnectedPeer {
                peer_id: peer.to_base58(),
                address: line.address.to_string(),
                direction: line.direction,
                connected_since: format!("{:.0}", line.since),
                connections: line.connections,
                contributed: contributions.count(peer),
                may_catch_up: contributions.may_catch_up(peer, min_contribution),
                refused: drops.by_reason(peer),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
