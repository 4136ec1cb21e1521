//! The libp2p behaviour of a node: gossipsub (push of new records), Kademlia and identify
//! (discovery), request-response (catch-up), built from the names and limits in `protocol`.
//! Every protocol name carries the network name, so separate communities (`--p2p-network`)
//! never mix.
#![allow(
    missing_docs,
    reason = "the NetworkBehaviour derive generates an event enum without documentation"
)]

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{StreamProtocol, gossipsub, identify, kad, mdns, request_response};

// `Protocols` is named here too, where tools and tests have always found it.
use super::P2pError;
pub use super::protocol::Protocols;
use super::protocol::{
    CATCH_UP_REQUEST_TIMEOUT, CatchUpRequest, CatchUpResponse, MAX_GOSSIP_BYTES,
    PEER_SEND_QUEUE_MESSAGES,
};

/// The node's protocols.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Push of new records.
    pub gossipsub: gossipsub::Behaviour,
    /// Peer routing and discovery.
    pub kademlia: kad::Behaviour<kad::store::MemoryStore>,
    /// Exchanges listen addresses and the protocol version.
    pub identify: identify::Behaviour,
    /// Catch-up of the retention window.
    pub sync: request_response::json::Behaviour<CatchUpRequest, CatchUpResponse>,
    /// LAN discovery (`--p2p-mdns`), off unless asked for.
    pub mdns: Toggle<mdns::tokio::Behaviour>,
}

fn protocol(name: String) -> Result<StreamProtocol, P2pError> {
    StreamProtocol::try_from_owned(name.clone()).map_err(|_| P2pError::Network(name))
}

impl Behaviour {
    /// The behaviour of a node with `key` on `network`, with mDNS LAN discovery when `mdns`.
    ///
    /// # Errors
    /// [`P2pError::Network`] when the network name cannot be part of a protocol name, or mDNS
    /// cannot start.
    pub fn new(key: &Keypair, network: &str, mdns: bool) -> Result<Self, P2pError> {
        let peer_id = key.public().to_peer_id();
        let names = Protocols::new(network);
        let gossip_config = gossipsub::ConfigBuilder::default()
            .protocol_id_prefix(names.gossip_prefix)
            .heartbeat_interval(Duration::from_millis(500))
            .max_transmit_size(MAX_GOSSIP_BYTES)
            .connection_handler_queue_len(PEER_SEND_QUEUE_MESSAGES)
            .validation_mode(gossipsub::ValidationMode::Strict)
            .validate_messages()
            .build()
            .map_err(|error| P2pError::Network(error.to_string()))?;
        let mut gossipsub = gossipsub::Behaviour::new(
            gossipsub::MessageAuthenticity::Signed(key.clone()),
            gossip_config,
        )
        .map_err(|error| P2pError::Network(error.to_owned()))?;
        gossipsub
            .with_peer_score(gossipsub::PeerScoreParams::default(), score_thresholds())
            .map_err(P2pError::Network)?;
        let mut kad_config = kad::Config::new(protocol(names.kademlia)?);
        kad_config.set_query_timeout(Duration::from_secs(30));
        let mut kademlia =
            kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
        kademlia.set_mode(Some(kad::Mode::Server));
        let identify =
            identify::Behaviour::new(identify::Config::new(names.identify, key.public()));
        let sync = request_response::json::Behaviour::new(
            [(
                protocol(names.catch_up)?,
                request_response::ProtocolSupport::Full,
            )],
            request_response::Config::default().with_request_timeout(CATCH_UP_REQUEST_TIMEOUT),
        );
        let mdns = if mdns {
            Some(
                mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
                    .map_err(|error| P2pError::Network(format!("mDNS: {error}")))?,
            )
        } else {
            None
        };
        Ok(Self {
            gossipsub,
            kademlia,
            identify,
            sync,
            mdns: Toggle::from(mdns),
        })
    }
}

/// Gossipsub thresholds: a freeloader's application score takes it below all of them.
fn score_thresholds() -> gossipsub::PeerScoreThresholds {
    gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: -80.0,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 20.0,
    }
}
