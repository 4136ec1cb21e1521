//! The libp2p behaviour of a node: the connection caps (`admission`), gossipsub (push of new
//! records, scored as `scoring` says), Kademlia and identify (discovery), request-response
//! (catch-up), built from the names and limits in `protocol`. Every protocol name carries the
//! network name, so separate communities (`--p2p-network`) never mix.
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
use super::admission::{ConnectionCaps, Gate};
pub use super::protocol::Protocols;
use super::protocol::{
    CATCH_UP_REQUEST_TIMEOUT, CATCH_UP_STREAMS_PER_CONNECTION, CatchUpRequest, CatchUpResponse,
    MAX_GOSSIP_BYTES, PEER_SEND_QUEUE_MESSAGES,
};
use super::{P2pError, scoring};

/// The node's protocols.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Connection caps: first, so a refused connection costs the other protocols nothing.
    gate: Gate,
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
    /// The behaviour of a node with `key` on `network` taking connections within `caps`, with
    /// mDNS LAN discovery when `mdns`.
    ///
    /// # Errors
    /// [`P2pError::Network`] when the network name cannot be part of a protocol name, or mDNS
    /// cannot start.
    pub fn new(
        key: &Keypair,
        network: &str,
        mdns: bool,
        caps: ConnectionCaps,
    ) -> Result<Self, P2pError> {
        let peer_id = key.public().to_peer_id();
        let names = Protocols::new(network);
        let gossip_config = gossipsub::ConfigBuilder::default()
            .protocol_id_prefix(names.gossip_prefix)
            .heartbeat_interval(scoring::HEARTBEAT)
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
            .with_peer_score(
                scoring::params([names.topic.hash(), names.stats_topic.hash()]),
                scoring::thresholds(),
            )
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
            request_response::Config::default()
                .with_request_timeout(CATCH_UP_REQUEST_TIMEOUT)
                .with_max_concurrent_streams(CATCH_UP_STREAMS_PER_CONNECTION),
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
            gate: Gate::new(caps),
            gossipsub,
            kademlia,
            identify,
            sync,
            mdns: Toggle::from(mdns),
        })
    }
}
