//! The node's event loop: thin glue between the swarm and the plain parts that decide. Local
//! events go to the [`Outbox`], whose batches are published; peers' records pass the
//! [`InboundPolicy`] and what it accepts is stored; [`CatchUpRequests`] says whom to ask for the
//! window and when, [`ServePolicy`] and [`Serving`] whom to answer and how much, with pages read
//! from the store's read pool; the connection caps are the behaviour's own (`admission`).
//! `gossip` publishes and receives batches, `catch_up` asks for and serves pages, `peers` keeps
//! connections, discovery and bootstrap.

mod announce;
mod catch_up;
mod community;
mod gossip;
mod peers;

pub use announce::{DiscoveryChannels, announced};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use libp2p::futures::StreamExt;
use libp2p::request_response::ResponseChannel;
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{PeerId, Swarm, identify, kad, noise, tcp, yamux};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::admission::ConnectionCaps;
use super::behaviour::{Behaviour, BehaviourEvent};
use super::catch_up::{CatchUpRequests, ServePolicy, Serving, window_start};
use super::connected::PeerTable;
use super::inbound::{InboundPolicy, InboundRules};
use super::outbox::Outbox;
use super::protocol::{CatchUpResponse, Protocols};
use super::reciprocity::Contributions;
use super::{P2pConfig, P2pError, P2pStats};
use crate::blocklist::Intake;
use crate::config::defaults::{P2P_MAX_CONNECTIONS, P2P_MAX_CONNECTIONS_PER_ADDRESS};
use crate::pipeline::AsyncEventReceiver;
use crate::store::query;

/// How often the outbox is pushed, scores are updated, catch-up retried and bootstrap retried.
const TICK: Duration = Duration::from_millis(100);
/// First and longest wait between re-bootstrap attempts when no peer is connected.
const BOOTSTRAP_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));
/// How long a connection with no protocol in use stays open.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(300);
/// Catch-up pages read and signed but not yet handed to the swarm.
const SERVED_PAGES_QUEUE: usize = 16;
/// How often the memory of gone authors is pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);
/// How often the published view of connected peers takes in their contributions and refusals
/// (it changes at once when a peer connects or leaves).
const PEERS_REFRESH: Duration = Duration::from_secs(1);

/// A catch-up page read on the read pool, to be answered on the swarm.
struct ServedPage {
    peer: PeerId,
    connection: ConnectionId,
    channel: ResponseChannel<CatchUpResponse>,
    response: CatchUpResponse,
}

/// The node's state besides the swarm.
struct Node {
    config: P2pConfig,
    local_peer: PeerId,
    protocols: Protocols,
    intake: Intake,
    stats: Arc<P2pStats>,
    contributions: Contributions,
    inbound: InboundPolicy,
    outbox: Outbox,
    catch_up: CatchUpRequests,
    serve_policy: ServePolicy,
    serving: Serving,
    next_bootstrap: Instant,
    next_prune: Instant,
    /// The peers connected now, published to `config.connected`.
    peer_table: PeerTable,
    next_peers_refresh: Instant,
    bootstrap_backoff: Duration,
    /// Dials of bootstrap nodes still in progress: no new round starts while one is, so a
    /// handshake slower than the back-off never opens a second connection to the same node.
    bootstrap_dials: HashSet<ConnectionId>,
    served: mpsc::Sender<ServedPage>,
    /// Addresses the node listens on (for what it announces).
    listening: Vec<libp2p::Multiaddr>,
    /// Discovery through OpenDHT, when on.
    discovery: Option<DiscoveryChannels>,
    /// The hour our last community summary went out in.
    summary_hour: Option<i64>,
    /// Our community summary is being made.
    summary_pending: bool,
}

/// Runs the node until `shutdown`: listens, dials the bootstrap nodes, shares what arrives on
/// `local_events` (events of other origins are ignored: peers' records are never re-published as
/// ours), hands peers' records to `intake`; with `discovery`, announces its addresses and dials
/// the peers found.
///
/// # Errors
/// When the transport cannot be built or a listen address cannot be used.
pub async fn run(
    config: P2pConfig,
    mut local_events: AsyncEventReceiver,
    intake: Intake,
    stats: Arc<P2pStats>,
    mut discovery: Option<DiscoveryChannels>,
    shutdown: CancellationToken,
) -> Result<(), P2pError> {
    let options = &config.options;
    let mut swarm = swarm_with(&config.key, &options.network, options.mdns, options.caps)?;
    let local_peer = *swarm.local_peer_id();
    tracing::info!(peer_id = %local_peer, network = %config.options.network, "p2p node");
    for address in &config.options.listen {
        swarm
            .listen_on(address.clone())
            .map_err(|error| P2pError::Listen {
                address: address.clone(),
                reason: error.to_string(),
            })?;
    }
    let protocols = Protocols::new(&config.options.network);
    for topic in [&protocols.topic, &protocols.stats_topic] {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(topic)
            .map_err(|error| P2pError::Network(error.to_string()))?;
    }
    let share = config.options.share_stats;
    let mut share_tick =
        tokio::time::interval_at((Instant::now() + share.interval).into(), share.interval);
    let (made, mut made_summaries) = mpsc::channel::<community::Made>(1);
    let contributions = load_contributions(&config).await;
    let (served, mut served_pages) = mpsc::channel::<ServedPage>(SERVED_PAGES_QUEUE);
    let mut found = discovery.as_mut().map(|channels| {
        let (_, empty) = mpsc::channel(1);
        std::mem::replace(&mut channels.found, empty)
    });
    let mut node = Node::new(config, local_peer, intake, stats, contributions, served);
    node.publish_peers();
    node.discovery = discovery;
    let mut tick = tokio::time::interval(TICK);
    let mut local_open = true;
    loop {
        let catch_up_wake = node.catch_up_wake();
        let far = Instant::now() + TICK;
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep_until(catch_up_wake.unwrap_or(far).into()),
                if catch_up_wake.is_some() => node.catch_up(&mut swarm),
            event = local_events.recv(), if local_open => match event {
                Some(event) => {
                    if node.outbox.push(event) {
                        node.publish(&mut swarm);
                    }
                }
                None => local_open = false,
            },
            _ = tick.tick() => node.on_tick(&mut swarm),
            _ = share_tick.tick(), if share.publish => node.make_summary(&made),
            Some(summary) = made_summaries.recv() => node.publish_summary(&mut swarm, summary),
            Some(page) = served_pages.recv() => node.answer(&mut swarm, page),
            Some((peer, addresses)) = next_found(&mut found) => {
                node.dial_found(&mut swarm, peer, addresses);
            }
            event = swarm.select_next_some() => node.on_swarm_event(&mut swarm, event),
        }
    }
    node.publish(&mut swarm);
    tracing::info!("p2p node stopped");
    Ok(())
}

/// The next peer discovery found; never, without discovery (or once it stopped).
async fn next_found(
    found: &mut Option<mpsc::Receiver<(PeerId, Vec<libp2p::Multiaddr>)>>,
) -> Option<(PeerId, Vec<libp2p::Multiaddr>)> {
    match found {
        Some(receiver) => match receiver.recv().await {
            Some(peer) => Some(peer),
            None => {
                *found = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// A swarm with this crate's transport (TCP, Noise, Yamux, DNS) and behaviour for `key` on
/// `network`, with mDNS when `mdns` and the default connection caps (public for tools and tests
/// that speak to nodes).
///
/// # Errors
/// [`P2pError::Network`] when the transport or behaviour cannot be built.
pub fn build_swarm(
    key: &libp2p::identity::Keypair,
    network: &str,
    mdns: bool,
) -> Result<Swarm<Behaviour>, P2pError> {
    let caps = ConnectionCaps::new(P2P_MAX_CONNECTIONS, P2P_MAX_CONNECTIONS_PER_ADDRESS);
    swarm_with(key, network, mdns, caps)
}

/// [`build_swarm`] taking connections within `caps`.
fn swarm_with(
    key: &libp2p::identity::Keypair,
    network: &str,
    mdns: bool,
    caps: ConnectionCaps,
) -> Result<Swarm<Behaviour>, P2pError> {
    let network = network.to_owned();
    Ok(libp2p::SwarmBuilder::with_existing_identity(key.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|error| P2pError::Network(error.to_string()))?
        .with_dns()
        .map_err(|error| P2pError::Network(error.to_string()))?
        .with_behaviour(|key| {
            Behaviour::new(key, &network, mdns, caps)
                .map_err(|error| Box::new(error) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|error| P2pError::Network(error.to_string()))?
        .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build())
}

/// Contributions of the window, from the database (so reciprocity survives restarts).
async fn load_contributions(config: &P2pConfig) -> Contributions {
    let since = window_start(config.options.retention, Timestamp::now());
    let counts = config
        .reader
        .run(move |conn| query::contributions_since(conn, &since))
        .await;
    match counts {
        Ok(counts) => Contributions::from_counts(
            counts
                .into_iter()
                .filter_map(|(peer, count)| Some((peer.parse().ok()?, count))),
        ),
        Err(error) => {
            tracing::warn!(%error, "cannot read peer contributions; starting from none");
            Contributions::default()
        }
    }
}

impl Node {
    fn new(
        config: P2pConfig,
        local_peer: PeerId,
        intake: Intake,
        stats: Arc<P2pStats>,
        contributions: Contributions,
        served: mpsc::Sender<ServedPage>,
    ) -> Self {
        let inbound = InboundPolicy::new(InboundRules {
            network: config.options.network.clone(),
            retention: config.options.retention,
            local_peer,
            receive_only_from: config.options.receive_only_from.clone(),
            deny: config.options.deny.clone(),
            max_records_per_second: config.options.max_records_per_second,
        });
        let serve_policy = ServePolicy {
            min_contribution: config.options.min_contribution,
            deny: config.options.deny.clone(),
        };
        Self {
            local_peer,
            protocols: Protocols::new(&config.options.network),
            intake,
            stats,
            contributions,
            inbound,
            outbox: Outbox::new(config.options.network.clone(), config.key.clone()),
            catch_up: CatchUpRequests::new(config.options.max_catch_up_records),
            serve_policy,
            serving: Serving::default(),
            next_bootstrap: Instant::now(),
            next_prune: Instant::now() + PRUNE_INTERVAL,
            peer_table: PeerTable::new(config.options.caps.max_connections as usize),
            next_peers_refresh: Instant::now() + PEERS_REFRESH,
            bootstrap_backoff: BOOTSTRAP_BACKOFF.0,
            bootstrap_dials: HashSet::new(),
            served,
            config,
            listening: Vec::new(),
            discovery: None,
            summary_hour: None,
            summary_pending: false,
        }
    }

    fn on_tick(&mut self, swarm: &mut Swarm<Behaviour>) {
        self.publish(swarm);
        let connected: Vec<PeerId> = swarm.connected_peers().copied().collect();
        for peer in &connected {
            self.update_score(swarm, peer);
        }
        let now = Instant::now();
        if connected.is_empty() && self.bootstrap_dials.is_empty() && now >= self.next_bootstrap {
            self.bootstrap(swarm);
            self.next_bootstrap = now + self.bootstrap_backoff;
            self.bootstrap_backoff = (self.bootstrap_backoff * 2).min(BOOTSTRAP_BACKOFF.1);
        }
        self.catch_up(swarm);
        if now >= self.next_prune {
            self.inbound.prune();
            self.next_prune = now + PRUNE_INTERVAL;
        }
        if now >= self.next_peers_refresh && self.peer_table.len() > 0 {
            self.publish_peers();
            self.next_peers_refresh = now + PEERS_REFRESH;
        }
    }

    /// Sets `peer`'s gossipsub application score from what it contributed and did.
    fn update_score(&mut self, swarm: &mut Swarm<Behaviour>, peer: &PeerId) {
        let score = self
            .contributions
            .score(peer, self.config.options.freeloader_grace);
        swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(peer, score);
    }

    fn on_swarm_event(&mut self, swarm: &mut Swarm<Behaviour>, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!("listening for P2P on {address}");
                self.listening_on(address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                self.bootstrap_dials.remove(&connection_id);
                self.on_connected(swarm, peer_id, num_established.get(), &endpoint);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => self.on_disconnected(swarm, peer_id, connection_id, num_established),
            SwarmEvent::IncomingConnectionError {
                error: libp2p::swarm::ListenError::Denied { cause },
                ..
            } => self.on_refused(&cause),
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                self.bootstrap_dials.remove(&connection_id);
                match error {
                    libp2p::swarm::DialError::Denied { cause } => self.on_refused(&cause),
                    error => tracing::debug!(peer = ?peer_id, %error, "dial failed"),
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(swarm, event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => self.on_identified(swarm, peer_id, info),
            SwarmEvent::Behaviour(BehaviourEvent::Kademlia(kad::Event::RoutingUpdated {
                peer,
                ..
            })) => self.on_routing_updated(swarm, peer),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Discovered(found))) => {
                self.on_discovered(swarm, found);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(swarm, event),
            _ => {}
        }
    }
}
