//! The node's event loop: publishes local events in signed batches, verifies and stores peers'
//! records, serves and requests catch-up, keeps peers connected and scores freeloaders down.
//! The loop and connection handling are here; `outbound` pushes our events, `inbound` checks
//! peers' records, `catch_up` asks for and serves the retention window.

mod catch_up;
mod inbound;
mod outbound;

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;
use libp2p::futures::StreamExt;
use libp2p::request_response::ResponseChannel;
use libp2p::swarm::SwarmEvent;
use libp2p::{PeerId, Swarm, gossipsub, identify, kad, noise, tcp, yamux};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::behaviour::{Behaviour, BehaviourEvent, Protocols};
use super::reciprocity::Contributions;
use super::sync::SyncResponse;
use super::{P2pConfig, P2pError, P2pStats};
use crate::event::{BadActor, format_timestamp};
use crate::pipeline::{AsyncEventReceiver, Pipeline};
use crate::store::{self, query};

/// Local records gathered before a push (or at every tick, whichever comes first).
const BATCH_RECORDS: usize = 200;
/// How often the outbox is pushed, scores are updated and bootstrap is retried.
const TICK: Duration = Duration::from_millis(100);
/// Event ids remembered to drop records already seen without asking the database.
const SEEN_CAPACITY: usize = 200_000;
/// First and longest wait between re-bootstrap attempts when no peer is connected.
const BOOTSTRAP_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));
/// First and longest wait before asking a peer that refused catch-up again.
const CATCH_UP_RETRY: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(60));
/// Most peers dialled on discovery.
const MAX_PEERS: u64 = 50;

/// A gossip message: a batch of signed records.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Format version, 1.
    pub v: u8,
    /// Signed records (JSON texts).
    pub records: Vec<String>,
}

/// How a record reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// Pushed by gossip.
    Pushed,
    /// In a catch-up page this node asked for.
    CaughtUp,
}

/// A catch-up page computed on the blocking pool, to be answered on the swarm.
type ServedPage = (ResponseChannel<SyncResponse>, SyncResponse);

/// The node's state besides the swarm.
struct Node {
    config: P2pConfig,
    local_peer: PeerId,
    protocols: Protocols,
    pipeline: Pipeline,
    stats: Arc<P2pStats>,
    contributions: Contributions,
    rate: DefaultKeyedRateLimiter<PeerId>,
    seen: HashSet<Uuid>,
    seen_order: VecDeque<Uuid>,
    outbox: Vec<Arc<BadActor>>,
    /// Where catch-up from each peer stands: `None` = done; refused peers wait until a time.
    catch_up: HashMap<PeerId, CatchUp>,
    catch_up_retry: Duration,
    next_bootstrap: Instant,
    bootstrap_backoff: Duration,
    served: mpsc::Sender<ServedPage>,
}

#[derive(Debug, Clone)]
enum CatchUp {
    InFlight,
    Done,
    RetryAt(Instant, Option<(String, String)>),
}

/// Runs the node until `shutdown`: listens, dials the bootstrap nodes, shares what arrives on
/// `local_events` (events of other origins are ignored: peers' records are never re-published as
/// ours), submits peers' records to `pipeline`.
///
/// # Errors
/// When the transport cannot be built or a listen address cannot be used.
pub async fn run(
    config: P2pConfig,
    mut local_events: AsyncEventReceiver,
    pipeline: Pipeline,
    stats: Arc<P2pStats>,
    shutdown: CancellationToken,
) -> Result<(), P2pError> {
    let mut swarm = build_swarm(&config.key, &config.network, config.mdns)?;
    let local_peer = *swarm.local_peer_id();
    tracing::info!(peer_id = %local_peer, network = %config.network, "p2p node");
    for address in &config.listen {
        swarm
            .listen_on(address.clone())
            .map_err(|error| P2pError::Listen {
                address: address.clone(),
                reason: error.to_string(),
            })?;
    }
    let protocols = Protocols::new(&config.network);
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&protocols.topic)
        .map_err(|error| P2pError::Network(error.to_string()))?;
    let contributions = load_contributions(&config).await;
    let rate_limit = NonZeroU32::new(config.max_records_per_second).unwrap_or(NonZeroU32::MIN);
    let (served, mut served_pages) = mpsc::channel::<ServedPage>(16);
    let mut node = Node {
        local_peer,
        protocols,
        pipeline,
        stats,
        contributions,
        rate: RateLimiter::keyed(
            Quota::per_second(rate_limit)
                .allow_burst(rate_limit.saturating_mul(NonZeroU32::MIN.saturating_add(1))),
        ),
        seen: HashSet::new(),
        seen_order: VecDeque::new(),
        outbox: Vec::new(),
        catch_up: HashMap::new(),
        catch_up_retry: CATCH_UP_RETRY.0,
        next_bootstrap: Instant::now(),
        bootstrap_backoff: BOOTSTRAP_BACKOFF.0,
        served,
        config,
    };
    let mut tick = tokio::time::interval(TICK);
    let mut local_open = true;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            event = local_events.recv(), if local_open => match event {
                Some(event) if event.origin.is_local() => {
                    node.outbox.push(event);
                    if node.outbox.len() >= BATCH_RECORDS {
                        node.publish(&mut swarm);
                    }
                }
                Some(_) => {}
                None => local_open = false,
            },
            _ = tick.tick() => node.on_tick(&mut swarm),
            Some((channel, response)) = served_pages.recv() => {
                if swarm.behaviour_mut().sync.send_response(channel, response).is_err() {
                    tracing::debug!("catch-up requester went away");
                }
            }
            event = swarm.select_next_some() => node.on_swarm_event(&mut swarm, event),
        }
    }
    node.publish(&mut swarm);
    tracing::info!("p2p node stopped");
    Ok(())
}

/// A swarm with this crate's transport (TCP, Noise, Yamux, DNS) and behaviour for `key` on
/// `network`, with mDNS when `mdns` (public for tools and tests that speak to nodes).
///
/// # Errors
/// [`P2pError::Network`] when the transport or behaviour cannot be built.
pub fn build_swarm(
    key: &libp2p::identity::Keypair,
    network: &str,
    mdns: bool,
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
            Behaviour::new(key, &network, mdns)
                .map_err(|error| Box::new(error) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|error| P2pError::Network(error.to_string()))?
        .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(Duration::from_secs(300)))
        .build())
}

/// Contributions of the window, from the database (so reciprocity survives restarts).
async fn load_contributions(config: &P2pConfig) -> Contributions {
    let db_file = config.db_file.clone();
    let since = window_start(config);
    let counts = tokio::task::spawn_blocking(move || {
        let conn = store::open_read_only(&db_file)?;
        query::contributions_since(&conn, &since)
    })
    .await;
    match counts {
        Ok(Ok(counts)) => Contributions::from_counts(
            counts
                .into_iter()
                .filter_map(|(peer, count)| Some((peer.parse().ok()?, count))),
        ),
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot read peer contributions; starting from none");
            Contributions::default()
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read peer contributions; starting from none");
            Contributions::default()
        }
    }
}

/// The oldest `event_timestamp` shared or accepted.
fn window_start(config: &P2pConfig) -> String {
    let now = Timestamp::now();
    let start = config
        .retention
        .and_then(|window| now.checked_sub(window).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    format_timestamp(start)
}

impl Node {
    fn on_tick(&mut self, swarm: &mut Swarm<Behaviour>) {
        self.publish(swarm);
        let connected: Vec<PeerId> = swarm.connected_peers().copied().collect();
        let grace = self.config.freeloader_grace;
        for peer in &connected {
            let score = self.contributions.score(peer, grace);
            swarm
                .behaviour_mut()
                .gossipsub
                .set_application_score(peer, score);
        }
        let now = Instant::now();
        if connected.is_empty() && now >= self.next_bootstrap {
            self.bootstrap(swarm);
            self.next_bootstrap = now + self.bootstrap_backoff;
            self.bootstrap_backoff = (self.bootstrap_backoff * 2).min(BOOTSTRAP_BACKOFF.1);
        }
        let due: Vec<(PeerId, Option<(String, String)>)> = self
            .catch_up
            .iter()
            .filter_map(|(peer, state)| match state {
                CatchUp::RetryAt(at, after) if *at <= now && connected.contains(peer) => {
                    Some((*peer, after.clone()))
                }
                _ => None,
            })
            .collect();
        for (peer, after) in due {
            self.request_catch_up(swarm, peer, after);
        }
    }

    fn bootstrap(&mut self, swarm: &mut Swarm<Behaviour>) {
        for address in self.config.bootstrap.clone() {
            if let Err(error) = swarm.dial(address.clone()) {
                tracing::debug!(%address, %error, "cannot dial bootstrap node");
            }
        }
        if !self.config.bootstrap.is_empty() {
            tracing::debug!("bootstrapping");
        }
    }

    fn on_swarm_event(&mut self, swarm: &mut Swarm<Behaviour>, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!("listening for P2P on {address}");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                endpoint,
                ..
            } => {
                if self.config.deny.contains(&peer_id) {
                    let _ = swarm.disconnect_peer_id(peer_id);
                    return;
                }
                self.stats.connected_peers.store(
                    swarm.connected_peers().count() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                self.bootstrap_backoff = BOOTSTRAP_BACKOFF.0;
                self.contributions.connected(peer_id);
                if endpoint.is_dialer() {
                    swarm
                        .behaviour_mut()
                        .kademlia
                        .add_address(&peer_id, endpoint.get_remote_address().clone());
                }
                tracing::info!(peer = %peer_id, "peer connected");
                if num_established.get() == 1 && !self.catch_up.contains_key(&peer_id) {
                    self.request_catch_up(swarm, peer_id, None);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => {
                self.stats.connected_peers.store(
                    swarm.connected_peers().count() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                if num_established == 0 {
                    tracing::info!(peer = %peer_id, "peer disconnected");
                    if let Some(CatchUp::InFlight) = self.catch_up.get(&peer_id) {
                        self.catch_up.remove(&peer_id);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let acceptance = self.on_batch(&message.data, propagation_source);
                swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            })) => {
                let unsent = failed_messages.priority + failed_messages.non_priority;
                self.stats
                    .unsent_to_slow_peers
                    .fetch_add(unsent as u64, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!(peer = %peer_id, unsent, "peer reads too slowly");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
                peer_id,
                ..
            })) => {
                tracing::debug!(peer = %peer_id, "peer subscribed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if info.protocol_version != self.protocols.identify {
                    tracing::debug!(peer = %peer_id, version = %info.protocol_version, "peer of another network");
                    let _ = swarm.disconnect_peer_id(peer_id);
                    return;
                }
                for address in info.listen_addrs {
                    swarm
                        .behaviour_mut()
                        .kademlia
                        .add_address(&peer_id, address);
                }
                if swarm.behaviour().kademlia.iter_queries().next().is_none() {
                    let _ = swarm.behaviour_mut().kademlia.bootstrap();
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kademlia(kad::Event::RoutingUpdated {
                peer,
                ..
            })) => {
                let connected = swarm.connected_peers().count() as u64;
                if !swarm.is_connected(&peer)
                    && connected < MAX_PEERS
                    && !self.config.deny.contains(&peer)
                {
                    let _ = swarm.dial(peer);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Discovered(found))) => {
                for (peer, address) in found {
                    if self.config.deny.contains(&peer) || peer == self.local_peer {
                        continue;
                    }
                    tracing::debug!(%peer, %address, "found on the LAN");
                    swarm
                        .behaviour_mut()
                        .kademlia
                        .add_address(&peer, address.clone());
                    if !swarm.is_connected(&peer) {
                        let _ = swarm.dial(address);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(swarm, event),
            _ => {}
        }
    }
}
