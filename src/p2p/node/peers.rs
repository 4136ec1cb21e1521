//! Connections and discovery: denied peers and peers cut off are dropped, peers of another
//! network too; new peers start their grace period and may be asked for catch-up; what a peer
//! leaves behind is forgotten when its last connection closes; connections over the caps are
//! counted; Kademlia, identify and mDNS find more peers, dialled up to [`MAX_DIALLED_PEERS`];
//! bootstrap nodes are dialled again when alone; the peers connected now are published for the
//! API and the dashboard.

use std::time::Instant;

use jiff::Timestamp;
use libp2p::core::ConnectedPoint;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionDenied, ConnectionId};
use libp2p::{Multiaddr, PeerId, Swarm, identify};

use super::{BOOTSTRAP_BACKOFF, Node};
use crate::p2p::P2pStats;
use crate::p2p::admission::Refusal;
use crate::p2p::behaviour::Behaviour;
use crate::p2p::connected::{Direction, PeersView};
use crate::p2p::protocol::MAX_DIALLED_PEERS;

impl Node {
    /// Dials every bootstrap node, noting each dial until it connects or fails.
    pub(super) fn bootstrap(&mut self, swarm: &mut Swarm<Behaviour>) {
        for address in self.config.options.bootstrap.clone() {
            let dial = DialOpts::unknown_peer_id().address(address.clone()).build();
            let connection = dial.connection_id();
            match swarm.dial(dial) {
                Ok(()) => {
                    self.bootstrap_dials.insert(connection);
                }
                Err(error) => tracing::debug!(%address, %error, "cannot dial bootstrap node"),
            }
        }
        if !self.config.options.bootstrap.is_empty() {
            tracing::debug!("bootstrapping");
        }
    }

    fn count_connected(&self, swarm: &Swarm<Behaviour>) {
        self.stats.connected_peers.store(
            swarm.connected_peers().count() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub(super) fn on_connected(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        connections: u32,
        endpoint: &ConnectedPoint,
    ) {
        if self.config.options.deny.contains(&peer)
            || self.contributions.is_cut_off(&peer, Instant::now())
        {
            let _ = swarm.disconnect_peer_id(peer);
            return;
        }
        self.count_connected(swarm);
        self.bootstrap_backoff = BOOTSTRAP_BACKOFF.0;
        self.contributions.connected(peer);
        let direction = if endpoint.is_dialer() {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let address = endpoint.get_remote_address();
        (self.peer_table).connected(peer, address, direction, connections, Timestamp::now());
        self.publish_peers();
        if endpoint.is_dialer() {
            swarm
                .behaviour_mut()
                .kademlia
                .add_address(&peer, endpoint.get_remote_address().clone());
        }
        tracing::info!(%peer, "peer connected");
        if connections == 1 {
            self.catch_up.on_connected(peer, endpoint.is_dialer());
        }
    }

    pub(super) fn on_disconnected(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        connection: ConnectionId,
        connections: u32,
    ) {
        self.count_connected(swarm);
        self.serving.on_closed(peer, connection);
        self.peer_table.disconnected(&peer, connections);
        self.publish_peers();
        if connections == 0 {
            tracing::info!(%peer, "peer disconnected");
            self.catch_up.on_disconnected(&peer);
            self.contributions.disconnected(&peer);
        }
    }

    /// Publishes the peers connected now, with what each contributed and what was refused.
    pub(super) fn publish_peers(&self) {
        let min_contribution = self.config.options.min_contribution;
        self.config.connected.publish(PeersView {
            peer_id: self.local_peer.to_base58(),
            min_contribution,
            connected: (self.peer_table).peers(
                &self.contributions,
                &self.stats.dropped_by_peer,
                min_contribution,
            ),
        });
    }

    /// A connection was refused by the caps: counted by cap.
    pub(super) fn on_refused(&self, cause: &ConnectionDenied) {
        let Some(refusal) = cause.downcast_ref::<Refusal>() else {
            return;
        };
        P2pStats::bump(match refusal {
            Refusal::Handshakes => &self.stats.connections_refused_handshakes,
            Refusal::Full => &self.stats.connections_refused_full,
            Refusal::Address => &self.stats.connections_refused_per_address,
            Refusal::Peer => &self.stats.connections_refused_per_peer,
        });
        tracing::debug!(%refusal, "connection refused");
    }

    pub(super) fn on_identified(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        info: identify::Info,
    ) {
        if info.protocol_version != self.protocols.identify {
            tracing::debug!(%peer, version = %info.protocol_version, "peer of another network");
            let _ = swarm.disconnect_peer_id(peer);
            return;
        }
        for address in info.listen_addrs {
            swarm.behaviour_mut().kademlia.add_address(&peer, address);
        }
        if swarm.behaviour().kademlia.iter_queries().next().is_none() {
            let _ = swarm.behaviour_mut().kademlia.bootstrap();
        }
    }

    pub(super) fn on_routing_updated(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId) {
        let connected = swarm.connected_peers().count() as u64;
        if !swarm.is_connected(&peer)
            && connected < MAX_DIALLED_PEERS
            && !self.config.options.deny.contains(&peer)
        {
            let _ = swarm.dial(peer);
        }
    }

    pub(super) fn on_discovered(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        found: Vec<(PeerId, Multiaddr)>,
    ) {
        for (peer, address) in found {
            if self.config.options.deny.contains(&peer) || peer == self.local_peer {
                continue;
            }
            tracing::debug!(%peer, %address, "found on the LAN");
            swarm
                .behaviour_mut()
                .kademlia
                .add_address(&peer, address.clone());
            if !swarm.is_connected(&peer) {
                // From a new port, not the listening one: two nodes that find each other at
                // the same moment dial each other at once, and from both listening ports the
                // two dials become one TCP connection (a simultaneous open) on which both
                // sides start the Noise handshake as initiator, so both fail and neither
                // dials again until mDNS answers anew (seen in the LAN test, about 1 run in
                // 10). From new ports they are two connections, and both succeed.
                let dial = DialOpts::unknown_peer_id()
                    .address(address)
                    .allocate_new_port()
                    .build();
                let _ = swarm.dial(dial);
            }
        }
    }
}
