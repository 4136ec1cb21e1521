//! Which connections the node takes, decided without a network: caps on connections in all, from
//! one address, to one peer, and in their handshake ([`ConnectionCaps`]), so identities, however
//! many, cannot take the file descriptors SIP, TLS and the API need. [`Admission`] counts the
//! connections and says yes or no; `gate` applies its answers to the swarm.
//!
//! The cap per address holds once the node is half full: before, nobody is waiting for the
//! places, and refusing would only keep out nodes that share an address (behind one NAT, on one
//! host), which may have no other way into the network than this node. So one address holds at
//! most its cap or half the node's connections, whichever is more, and the other half stays for
//! everyone else.

mod gate;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use libp2p::PeerId;
use libp2p::swarm::ConnectionId;

pub use gate::Gate;

use super::protocol::{
    MAX_CONNECTIONS_PER_PEER, MAX_PENDING_INBOUND, MAX_PENDING_OUTBOUND, NODE_DESCRIPTORS,
};

/// How many connections the node takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCaps {
    /// Connections established, both ways.
    pub max_connections: u32,
    /// Incoming connections (in their handshake or established) from one IP address, once the
    /// node is half full.
    pub max_per_address: u32,
    /// Connections established with one peer.
    pub max_per_peer: u32,
    /// Incoming connections in their handshake.
    pub max_pending_inbound: u32,
    /// Outgoing dials in progress.
    pub max_pending_outbound: u32,
}

impl ConnectionCaps {
    /// `max_connections` in all and `max_per_address` from one address (at least 1 each), with
    /// the protocol's caps per peer and on handshakes.
    pub fn new(max_connections: u32, max_per_address: u32) -> Self {
        let max_connections = max_connections.max(1);
        Self {
            max_connections,
            max_per_address: max_per_address.clamp(1, max_connections),
            max_per_peer: MAX_CONNECTIONS_PER_PEER,
            max_pending_inbound: MAX_PENDING_INBOUND,
            max_pending_outbound: MAX_PENDING_OUTBOUND,
        }
    }

    /// File descriptors the node holds at most with these caps (one per connection, in its
    /// handshake or established, and the node's own: listeners, mDNS, DNS).
    pub fn descriptors(&self) -> u64 {
        u64::from(self.max_connections)
            + u64::from(self.max_pending_inbound)
            + u64::from(self.max_pending_outbound)
            + u64::from(NODE_DESCRIPTORS)
    }

    /// These caps, lowered so the node never holds more than `available` file descriptors:
    /// handshakes keep at most an eighth each, established connections the rest (at least one
    /// of each).
    pub fn within_descriptors(self, available: u64) -> Self {
        if self.descriptors() <= available {
            return self;
        }
        let room = u32::try_from(available.saturating_sub(u64::from(NODE_DESCRIPTORS)))
            .unwrap_or(u32::MAX)
            .max(3);
        let pending_inbound = self.max_pending_inbound.min(room / 8).max(1);
        let pending_outbound = self.max_pending_outbound.min(room / 8).max(1);
        let max_connections = self
            .max_connections
            .min(room - pending_inbound - pending_outbound)
            .max(1);
        Self {
            max_connections,
            max_per_address: self.max_per_address.min(max_connections),
            max_per_peer: self.max_per_peer,
            max_pending_inbound: pending_inbound,
            max_pending_outbound: pending_outbound,
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Too many connections in their handshake (or dials in progress).
    #[error("too many connections in their handshake")]
    Handshakes,
    /// The node holds as many connections as it takes.
    #[error("too many connections")]
    Full,
    /// Too many connections from the address.
    #[error("too many connections from this address")]
    Address,
    /// Too many connections with the peer.
    #[error("too many connections with this peer")]
    Peer,
}

/// An established connection: whose, and the address it came from when it came in.
#[derive(Debug, Clone, Copy)]
struct Established {
    peer: PeerId,
    from: Option<IpAddr>,
}

/// The connections the node holds, counted against its [`ConnectionCaps`].
#[derive(Debug)]
pub(crate) struct Admission {
    caps: ConnectionCaps,
    pending_inbound: HashMap<ConnectionId, IpAddr>,
    pending_outbound: HashSet<ConnectionId>,
    established: HashMap<ConnectionId, Established>,
    per_address: HashMap<IpAddr, u32>,
    per_peer: HashMap<PeerId, u32>,
}

impl Admission {
    /// No connection yet.
    pub(crate) fn new(caps: ConnectionCaps) -> Self {
        Self {
            caps,
            pending_inbound: HashMap::new(),
            pending_outbound: HashSet::new(),
            established: HashMap::new(),
            per_address: HashMap::new(),
            per_peer: HashMap::new(),
        }
    }

    /// A connection from `from` starts its handshake: taken (and counted) or refused.
    pub(crate) fn on_pending_inbound(
        &mut self,
        connection: ConnectionId,
        from: IpAddr,
    ) -> Result<(), Refusal> {
        if self.pending_inbound.len() >= self.caps.max_pending_inbound as usize {
            return Err(Refusal::Handshakes);
        }
        let from_address = self.per_address.get(&from).copied().unwrap_or(0);
        let held = self.established.len() + self.pending_inbound.len();
        let half_full = held >= self.caps.max_connections as usize / 2;
        if half_full && from_address >= self.caps.max_per_address {
            return Err(Refusal::Address);
        }
        self.check_room()?;
        self.pending_inbound.insert(connection, from);
        *self.per_address.entry(from).or_default() += 1;
        Ok(())
    }

    /// We start a dial: taken (and counted) or refused.
    pub(crate) fn on_pending_outbound(&mut self, connection: ConnectionId) -> Result<(), Refusal> {
        if self.pending_outbound.len() >= self.caps.max_pending_outbound as usize {
            return Err(Refusal::Handshakes);
        }
        self.check_room()?;
        self.pending_outbound.insert(connection);
        Ok(())
    }

    /// Whether a connection with `peer` that finished its handshake may be established.
    pub(crate) fn check_established(&self, peer: &PeerId) -> Result<(), Refusal> {
        self.check_room()?;
        let with_peer = self.per_peer.get(peer).copied().unwrap_or(0);
        if with_peer >= self.caps.max_per_peer {
            return Err(Refusal::Peer);
        }
        Ok(())
    }

    fn check_room(&self) -> Result<(), Refusal> {
        if self.established.len() >= self.caps.max_connections as usize {
            return Err(Refusal::Full);
        }
        Ok(())
    }

    /// The connection is established with `peer`.
    pub(crate) fn on_established(&mut self, connection: ConnectionId, peer: PeerId) {
        self.pending_outbound.remove(&connection);
        let from = self.pending_inbound.remove(&connection);
        self.established
            .insert(connection, Established { peer, from });
        *self.per_peer.entry(peer).or_default() += 1;
    }

    /// The connection closed, or failed before it was established: its places come back.
    pub(crate) fn on_gone(&mut self, connection: ConnectionId) {
        self.pending_outbound.remove(&connection);
        let from = match self.established.remove(&connection) {
            Some(established) => {
                decrement(&mut self.per_peer, &established.peer);
                established.from
            }
            None => self.pending_inbound.remove(&connection),
        };
        if let Some(from) = from {
            decrement(&mut self.per_address, &from);
        }
    }

    /// Connections established now.
    #[cfg(test)]
    pub(crate) fn established(&self) -> usize {
        self.established.len()
    }
}

/// One less for `key`; no entry is kept at zero, so gone peers and addresses cost nothing.
fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(key);
        }
    }
}

#[cfg(test)]
mod tests;
