//! The libp2p behaviour of a node: gossipsub (push of new records), Kademlia and identify
#![allow(
    missing_docs,
    reason = "the NetworkBehaviour derive generates an event enum without documentation"
)]
//! (discovery), request-response (catch-up). Every protocol name carries the network name, so
//! separate communities (`--p2p-network`) never mix.

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{StreamProtocol, gossipsub, identify, kad, mdns, request_response};

use super::P2pError;
use super::sync::{SyncRequest, SyncResponse};

/// Largest gossipsub message: a batch of signed records.
pub const MAX_GOSSIP_BYTES: usize = 256 * 1024;

/// Largest batch of records we publish: well under [`MAX_GOSSIP_BYTES`]. libp2p-gossipsub
/// (0.50.1) checks the size of its read buffer against the limit, not the size of the frame,
/// and it reads 8 KiB at a time, so a frame within 8 KiB of the limit followed by the next one
/// is refused by the receiver, which drops the stream; after five such drops the sender stops
/// sending to that peer for the life of the connection. 16 KiB of room covers the 8 KiB read
/// and the message's own envelope (source, sequence number, topic, signature).
pub const MAX_BATCH_BYTES: usize = MAX_GOSSIP_BYTES - 16 * 1024;

/// Messages queued for one peer before more are dropped (counted in `unsent_to_slow_peers`):
/// at most about 8 MiB of batches per peer that reads too slowly, instead of gossipsub's default
/// 5,000 messages (over a gigabyte of full batches).
pub const PEER_SEND_QUEUE_MESSAGES: usize = 32;

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
    pub sync: request_response::json::Behaviour<SyncRequest, SyncResponse>,
    /// LAN discovery (`--p2p-mdns`), off unless asked for.
    pub mdns: Toggle<mdns::tokio::Behaviour>,
}

/// Protocol names of one network.
#[derive(Debug, Clone)]
pub struct Protocols {
    /// Identify's protocol version string (`/sentrypeer/<network>/1`).
    pub identify: String,
    /// The gossipsub topic.
    pub topic: gossipsub::IdentTopic,
}

impl Protocols {
    /// Names for `network`.
    pub fn new(network: &str) -> Self {
        Self {
            identify: format!("/sentrypeer/{network}/1"),
            topic: gossipsub::IdentTopic::new(format!("sentrypeer/{network}/bad-actors/1")),
        }
    }
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
        let gossip_config = gossipsub::ConfigBuilder::default()
            .protocol_id_prefix(format!("/sentrypeer/{network}/meshsub"))
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
        let mut kad_config = kad::Config::new(protocol(format!("/sentrypeer/{network}/kad/1"))?);
        kad_config.set_query_timeout(Duration::from_secs(30));
        let mut kademlia =
            kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
        kademlia.set_mode(Some(kad::Mode::Server));
        let identify = identify::Behaviour::new(identify::Config::new(
            Protocols::new(network).identify,
            key.public(),
        ));
        let sync = request_response::json::Behaviour::new(
            [(
                protocol(format!("/sentrypeer/{network}/sync/1"))?,
                request_response::ProtocolSupport::Full,
            )],
            request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
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
