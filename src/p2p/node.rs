//! The node's event loop: publishes local events in signed batches, verifies and stores peers'
//! records, serves and requests catch-up, keeps peers connected and scores freeloaders down.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;
use libp2p::futures::StreamExt;
use libp2p::request_response::{self, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{PeerId, Swarm, gossipsub, identify, kad, noise, tcp, yamux};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::behaviour::{Behaviour, BehaviourEvent, MAX_GOSSIP_BYTES, Protocols};
use super::reciprocity::Contributions;
use super::record::{RecordError, SignedRecord};
use super::sync::{PAGE_RECORDS, SyncRequest, SyncResponse};
use super::{P2pConfig, P2pError, P2pStats};
use crate::event::{BadActor, format_timestamp};
use crate::pipeline::Pipeline;
use crate::store::{self, query};

/// Local records gathered before a push (or at every tick, whichever comes first).
const BATCH_RECORDS: usize = 200;
/// How often the outbox is pushed, scores are updated and bootstrap is retried.
const TICK: Duration = Duration::from_millis(250);
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
    mut local_events: mpsc::Receiver<Arc<BadActor>>,
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

    /// Signs and pushes the outbox.
    fn publish(&mut self, swarm: &mut Swarm<Behaviour>) {
        if self.outbox.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.outbox);
        let mut records = Vec::with_capacity(events.len());
        for event in &events {
            match SignedRecord::sign(event, &self.config.network, &self.config.key) {
                Ok(record) => {
                    self.remember(event.event_uuid);
                    records.push(record.to_json());
                }
                Err(error) => tracing::error!(%error, "cannot sign a record"),
            }
        }
        for chunk in chunks_within(records, MAX_GOSSIP_BYTES - 1024) {
            let count = chunk.len() as u64;
            let Ok(data) = serde_json::to_vec(&Batch {
                v: 1,
                records: chunk,
            }) else {
                continue;
            };
            let topic = self.protocols.topic.clone();
            let bytes = data.len() as u64;
            match swarm.behaviour_mut().gossipsub.publish(topic, data) {
                Ok(_) => {
                    P2pStats::bump(&self.stats.published_messages);
                    self.stats
                        .published_bytes
                        .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
                    self.stats
                        .published_records
                        .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                    // A refused catch-up may now be granted: ask again soon.
                    self.catch_up_retry = CATCH_UP_RETRY.0;
                }
                Err(error) => {
                    self.stats
                        .unpublished_records
                        .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!(%error, records = count, "records not pushed");
                }
            }
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

    /// Verifies and ingests a batch; the verdict tells gossipsub whether to forward it and
    /// whether to penalise the peer that sent it.
    fn on_batch(&mut self, data: &[u8], from: PeerId) -> gossipsub::MessageAcceptance {
        let batch = serde_json::from_slice::<Batch>(data)
            .ok()
            .filter(|batch| batch.v == 1);
        let Some(batch) = batch else {
            P2pStats::bump(&self.stats.rejected_malformed);
            self.stats.dropped_from(&from);
            return gossipsub::MessageAcceptance::Reject;
        };
        let mut forged = false;
        for record in &batch.records {
            if let Err(RecordError::BadSignature) = self.ingest(record, from, Arrival::Pushed) {
                forged = true;
            }
        }
        if forged {
            gossipsub::MessageAcceptance::Reject
        } else {
            gossipsub::MessageAcceptance::Accept
        }
    }

    /// Verifies one record and submits it to the pipeline. Records of our own or already seen
    /// are dropped quietly. Pushed records are rate-limited per author; records this node asked
    /// for in catch-up are not (a window can hold far more than a second's worth).
    fn ingest(&mut self, text: &str, from: PeerId, arrival: Arrival) -> Result<(), RecordError> {
        P2pStats::bump(&self.stats.received_records);
        let verified = SignedRecord::verify(
            text,
            &self.config.network,
            self.config.retention,
            Timestamp::now(),
        );
        let (author, event) = match verified {
            Ok(verified) => verified,
            Err(error) => {
                let counter = match &error {
                    RecordError::BadSignature | RecordError::UnknownKey => {
                        &self.stats.rejected_signature
                    }
                    RecordError::OutOfWindow => &self.stats.rejected_window,
                    RecordError::OtherNetwork => &self.stats.rejected_network,
                    _ => &self.stats.rejected_malformed,
                };
                P2pStats::bump(counter);
                self.stats.dropped_from(&from);
                tracing::debug!(peer = %from, %error, "record refused");
                return Err(error);
            }
        };
        if author == self.local_peer {
            return Ok(());
        }
        let allowed = !self.config.deny.contains(&author)
            && (self.config.receive_only_from.is_empty()
                || self.config.receive_only_from.contains(&author));
        if !allowed {
            P2pStats::bump(&self.stats.rejected_denied);
            self.stats.dropped_from(&from);
            return Ok(());
        }
        if self.seen.contains(&event.event_uuid) {
            P2pStats::bump(&self.stats.duplicate_records);
            return Ok(());
        }
        if arrival == Arrival::Pushed && self.rate.check_key(&author).is_err() {
            P2pStats::bump(&self.stats.rate_limited);
            self.stats.dropped_from(&from);
            return Ok(());
        }
        self.remember(event.event_uuid);
        self.contributions.accepted(author);
        P2pStats::bump(&self.stats.accepted_records);
        tracing::debug!(
            peer = %author,
            source = %event.source.ip(),
            event_uuid = %event.event_uuid,
            "peer record accepted"
        );
        self.pipeline.submit_from_peer(event);
        Ok(())
    }

    fn remember(&mut self, uuid: Uuid) {
        if self.seen.insert(uuid) {
            self.seen_order.push_back(uuid);
            if self.seen_order.len() > SEEN_CAPACITY
                && let Some(oldest) = self.seen_order.pop_front()
            {
                self.seen.remove(&oldest);
            }
        }
    }

    fn request_catch_up(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        after: Option<(String, String)>,
    ) {
        let since = window_start(&self.config);
        swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, SyncRequest { since, after });
        self.catch_up.insert(peer, CatchUp::InFlight);
    }

    fn on_sync(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        event: request_response::Event<SyncRequest, SyncResponse>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    self.serve_catch_up(peer, request, channel);
                }
                request_response::Message::Response { response, .. } => match response {
                    SyncResponse::Page { records, next } => {
                        for record in &records {
                            let _ = self.ingest(record, peer, Arrival::CaughtUp);
                        }
                        match next {
                            Some(after) => self.request_catch_up(swarm, peer, Some(after)),
                            None => {
                                tracing::info!(%peer, "caught up");
                                self.catch_up.insert(peer, CatchUp::Done);
                            }
                        }
                    }
                    SyncResponse::Refused { reason } => {
                        P2pStats::bump(&self.stats.catch_up_refused_by_peers);
                        tracing::info!(%peer, %reason, "catch-up refused by peer");
                        let retry = Instant::now() + self.catch_up_retry;
                        self.catch_up_retry = (self.catch_up_retry * 2).min(CATCH_UP_RETRY.1);
                        self.catch_up.insert(peer, CatchUp::RetryAt(retry, None));
                    }
                },
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "catch-up request failed");
                let retry = Instant::now() + CATCH_UP_RETRY.1;
                self.catch_up.insert(peer, CatchUp::RetryAt(retry, None));
            }
            _ => {}
        }
    }

    /// Answers a catch-up request from the blocking pool, or refuses a peer that has not
    /// contributed enough.
    fn serve_catch_up(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        let served = self.served.clone();
        if self.config.deny.contains(&peer)
            || !self
                .contributions
                .may_catch_up(&peer, self.config.min_contribution)
        {
            P2pStats::bump(&self.stats.catch_up_refused);
            tracing::info!(%peer, contributed = self.contributions.count(&peer), "catch-up refused");
            let reason = format!(
                "share at least {} record(s) first",
                self.config.min_contribution.max(1)
            );
            let _ = served.try_send((channel, SyncResponse::Refused { reason }));
            return;
        }
        P2pStats::bump(&self.stats.catch_up_pages_served);
        let window = window_start(&self.config);
        let since = request.since.max(window);
        let db_file = self.config.db_file.clone();
        let key = self.config.key.clone();
        let network = self.config.network.clone();
        tokio::task::spawn_blocking(move || {
            let page = store::open_read_only(&db_file).and_then(|conn| {
                let after = request
                    .after
                    .as_ref()
                    .map(|(time, uuid)| (time.as_str(), uuid.as_str()));
                query::shareable_events(&conn, &since, after, PAGE_RECORDS)
            });
            let response = match page {
                Ok(page) => {
                    let full = page.events.len() >= PAGE_RECORDS;
                    let records = page
                        .events
                        .into_iter()
                        .filter_map(|shareable| match shareable {
                            query::Shareable::Local(event) => {
                                SignedRecord::sign(&event, &network, &key)
                                    .ok()
                                    .map(|r| r.to_json())
                            }
                            query::Shareable::Peer(text) => Some(text),
                        })
                        .collect();
                    SyncResponse::Page {
                        records,
                        next: if full { page.last } else { None },
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "cannot read catch-up page");
                    SyncResponse::Page {
                        records: Vec::new(),
                        next: None,
                    }
                }
            };
            let _ = served.blocking_send((channel, response));
        });
    }
}

/// Splits records into groups whose JSON stays under `limit` bytes.
fn chunks_within(records: Vec<String>, limit: usize) -> Vec<Vec<String>> {
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut size = 0;
    for record in records {
        let needed = record.len() + 8;
        if chunks.is_empty() || size + needed > limit {
            chunks.push(Vec::new());
            size = 0;
        }
        size += needed;
        if let Some(last) = chunks.last_mut() {
            last.push(record);
        }
    }
    chunks
}
