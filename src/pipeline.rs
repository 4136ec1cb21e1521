//! Bounded fan-out of events from the listeners to every consumer (store writer, sinks), with
//! counters. Each consumer's queue is bounded twice: by a number of events and by the bytes those
//! events hold ([`DEFAULT_QUEUE_BYTES`]), so a flood of maximal datagrams cannot queue gigabytes.
//! A full consumer queue drops the event for that consumer and counts it: attacker traffic never
//! waits on storage or a sink. Consumers are threads (a std channel) or tokio tasks (a tokio
//! channel); both kinds have the same drop-and-count semantics. Each consumer says when it is
//! registered whether it takes events received from peers ([`PeerRecords`]); events it does not
//! take are never offered to it (not a drop). A consumer may also be offered events only while
//! someone wants them ([`Demand`]; the others are not drops either).

mod demand;
mod queue;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::event::{BadActor, Transport};
use crate::telemetry::{Readings, Report};

/// How often at most a "queue full" warning is logged per consumer.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

pub use demand::{Demand, Wanted};
use queue::QueuedBytes;
pub use queue::{AsyncEventReceiver, DEFAULT_QUEUE_BYTES, EventQueue, EventReceiver, event_bytes};

/// One consumer's queue: a thread's or a task's.
#[derive(Debug)]
enum EventSender {
    /// A std channel that grows as it fills (std's bounded channel writes every slot at start:
    /// 128 KiB at the default capacity, per consumer thread), bounded to `capacity` events by
    /// the queue's count of places taken ([`QueuedBytes::take_place`]).
    Thread {
        sender: Sender<Arc<BadActor>>,
        capacity: usize,
    },
    Task(tokio::sync::mpsc::Sender<Arc<BadActor>>),
}

impl EventSender {
    /// Queues without waiting; the reason when the event was not queued.
    fn try_send(&self, event: Arc<BadActor>, queued: &QueuedBytes) -> Result<(), &'static str> {
        use tokio::sync::mpsc::error::TrySendError as TaskError;
        match self {
            Self::Thread { sender, capacity } => {
                if !queued.take_place(*capacity) {
                    return Err(QUEUE_FULL);
                }
                sender.send(event).map_err(|_| {
                    queued.free_place();
                    CONSUMER_STOPPED
                })
            }
            Self::Task(sender) => sender.try_send(event).map_err(|error| match error {
                TaskError::Full(_) => QUEUE_FULL,
                TaskError::Closed(_) => CONSUMER_STOPPED,
            }),
        }
    }
}

const QUEUE_FULL: &str = "queue full";
const QUEUE_BYTES_FULL: &str = "queue holds too many bytes";
const CONSUMER_STOPPED: &str = "consumer stopped";

/// Whether a consumer takes events received from peers, or only this node's own captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerRecords {
    /// Every event, this node's and its peers'.
    Taken,
    /// Only events this node captured.
    LeftOut,
}

impl PeerRecords {
    /// [`PeerRecords::Taken`] when `include` is set, [`PeerRecords::LeftOut`] otherwise.
    pub fn taken_if(include: bool) -> Self {
        if include { Self::Taken } else { Self::LeftOut }
    }
}

/// One consumer's counters, and its queue's byte count.
#[derive(Debug)]
struct ConsumerCounters {
    name: &'static str,
    peer_records: PeerRecords,
    /// `Some`: offered events only while they are wanted.
    demand: Option<Demand>,
    delivered: AtomicU64,
    dropped: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
    queued: Arc<QueuedBytes>,
}

impl ConsumerCounters {
    fn count_drop(&self, reason: &'static str) {
        let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        if last.is_none_or(|at| at.elapsed() >= DROP_WARNING_INTERVAL) {
            *last = Some(Instant::now());
            tracing::warn!(
                consumer = self.name,
                reason,
                dropped_total = total,
                "dropping events"
            );
        }
    }
}

/// Counters of the whole pipeline, shared with [`PipelineMonitor`].
#[derive(Debug)]
struct Counters {
    received: [AtomicU64; 3],
    received_from_peers: AtomicU64,
    consumers: Vec<ConsumerCounters>,
}

/// Counters of one consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerStats {
    /// Consumer name (`store`, `json_log`, `syslog`, ...).
    pub name: &'static str,
    /// Events queued for it.
    pub delivered: u64,
    /// Events it never got (queue full, or the consumer had stopped).
    pub dropped: u64,
}

/// Snapshot of the pipeline's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineStats {
    /// Events submitted, per transport in [`Transport::ALL`](crate::event::Transport::ALL) order.
    pub received: [u64; 3],
    /// Events received from peers.
    pub received_from_peers: u64,
    /// Per-consumer counters.
    pub consumers: Vec<ConsumerStats>,
}

impl PipelineStats {
    /// Events dropped for any consumer.
    pub fn dropped(&self) -> u64 {
        self.consumers.iter().map(|consumer| consumer.dropped).sum()
    }
}

/// Builds a [`Pipeline`]: one bounded queue per consumer.
#[derive(Debug)]
pub struct PipelineBuilder {
    senders: Vec<EventSender>,
    consumers: Vec<ConsumerCounters>,
    queue_bytes: usize,
}

impl Default for PipelineBuilder {
    fn default() -> Self {
        Self {
            senders: Vec::new(),
            consumers: Vec::new(),
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

impl PipelineBuilder {
    /// Bounds each consumer's queue to `bytes` of events (default [`DEFAULT_QUEUE_BYTES`]).
    #[must_use]
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// Adds a consumer thread with a queue of `capacity` events, offered the events
    /// `peer_records` says it takes; returns the end it reads from.
    pub fn consumer(
        &mut self,
        name: &'static str,
        capacity: usize,
        peer_records: PeerRecords,
    ) -> EventReceiver {
        let (sender, receiver) = channel();
        let sender = EventSender::Thread {
            sender,
            capacity: capacity.max(1),
        };
        let queued = self.add(name, peer_records, None, sender);
        EventReceiver { receiver, queued }
    }

    /// Adds a consumer task (tokio) with a queue of `capacity` events; returns the end it
    /// reads from. Same semantics and counters as [`PipelineBuilder::consumer`].
    pub fn async_consumer(
        &mut self,
        name: &'static str,
        capacity: usize,
        peer_records: PeerRecords,
    ) -> AsyncEventReceiver {
        self.async_consumer_with(name, capacity, peer_records, None)
    }

    /// [`PipelineBuilder::async_consumer`] offered events only while `demand` is wanted.
    pub fn async_consumer_on_demand(
        &mut self,
        name: &'static str,
        capacity: usize,
        peer_records: PeerRecords,
        demand: Demand,
    ) -> AsyncEventReceiver {
        self.async_consumer_with(name, capacity, peer_records, Some(demand))
    }

    fn async_consumer_with(
        &mut self,
        name: &'static str,
        capacity: usize,
        peer_records: PeerRecords,
        demand: Option<Demand>,
    ) -> AsyncEventReceiver {
        let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
        let queued = self.add(name, peer_records, demand, EventSender::Task(sender));
        AsyncEventReceiver { receiver, queued }
    }

    fn add(
        &mut self,
        name: &'static str,
        peer_records: PeerRecords,
        demand: Option<Demand>,
        sender: EventSender,
    ) -> Arc<QueuedBytes> {
        let queued = Arc::new(QueuedBytes::default());
        self.senders.push(sender);
        self.consumers.push(ConsumerCounters {
            name,
            peer_records,
            demand,
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last_warning: Mutex::new(None),
            queued: Arc::clone(&queued),
        });
        queued
    }

    /// Finishes the pipeline.
    pub fn build(self) -> Pipeline {
        Pipeline {
            inner: Arc::new(Inner {
                senders: self.senders,
                queue_bytes: self.queue_bytes,
                counters: Arc::new(Counters {
                    received: Default::default(),
                    received_from_peers: AtomicU64::new(0),
                    consumers: self.consumers,
                }),
            }),
        }
    }
}

#[derive(Debug)]
struct Inner {
    senders: Vec<EventSender>,
    queue_bytes: usize,
    counters: Arc<Counters>,
}

/// Handle the listeners submit events to. Cheap to clone; when the last clone is dropped every
/// consumer sees its queue close, drains it and stops.
#[derive(Debug, Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

impl Pipeline {
    /// Starts building a pipeline.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// Hands one event to every consumer without ever blocking.
    pub fn submit(&self, event: BadActor) {
        if let Some(counter) = self.inner.counters.received.get(event.transport.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.fan_out(event);
    }

    /// Hands one event received from a peer to every consumer (counted apart from captures).
    pub fn submit_from_peer(&self, event: BadActor) {
        self.inner
            .counters
            .received_from_peers
            .fetch_add(1, Ordering::Relaxed);
        self.fan_out(event);
    }

    fn fan_out(&self, event: BadActor) {
        let size = event_bytes(&event);
        let from_peer = !event.origin.is_local();
        let event = Arc::new(event);
        let counters = &self.inner.counters;
        for (sender, consumer) in self.inner.senders.iter().zip(&counters.consumers) {
            if (from_peer && consumer.peer_records == PeerRecords::LeftOut)
                || consumer
                    .demand
                    .as_ref()
                    .is_some_and(|demand| !demand.is_wanted())
            {
                continue;
            }
            if !consumer.queued.reserve(size, self.inner.queue_bytes) {
                consumer.count_drop(QUEUE_BYTES_FULL);
                continue;
            }
            match sender.try_send(Arc::clone(&event), &consumer.queued) {
                Ok(()) => {
                    consumer.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Err(reason) => {
                    consumer.queued.release(size);
                    consumer.count_drop(reason);
                }
            }
        }
    }

    /// Current counters.
    pub fn stats(&self) -> PipelineStats {
        self.monitor().stats()
    }

    /// Whether every consumer that takes peer records has less than a quarter of its byte bound
    /// queued: a producer that can wait (peer-to-peer catch-up) asks for more only then, so
    /// what it fetches is never dropped.
    pub fn has_room_for_peer_records(&self) -> bool {
        self.inner
            .counters
            .consumers
            .iter()
            .filter(|consumer| consumer.peer_records == PeerRecords::Taken)
            .all(|consumer| consumer.queued.bytes() < self.inner.queue_bytes / 4)
    }

    /// A handle that reads the counters without keeping the queues open.
    pub fn monitor(&self) -> PipelineMonitor {
        PipelineMonitor {
            counters: Arc::clone(&self.inner.counters),
        }
    }
}

/// Reads a pipeline's counters (for health details and metrics); holding it does not keep the
/// consumers' queues open.
#[derive(Debug, Clone)]
pub struct PipelineMonitor {
    counters: Arc<Counters>,
}

impl PipelineMonitor {
    /// Current counters.
    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            received: self
                .counters
                .received
                .each_ref()
                .map(|counter| counter.load(Ordering::Relaxed)),
            received_from_peers: self.counters.received_from_peers.load(Ordering::Relaxed),
            consumers: self
                .counters
                .consumers
                .iter()
                .map(|consumer| ConsumerStats {
                    name: consumer.name,
                    delivered: consumer.delivered.load(Ordering::Relaxed),
                    dropped: consumer.dropped.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }
}

impl Report for PipelineMonitor {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[
            &["events", "received"],
            &["events", "dropped"],
            &["events", "dropped_by_consumer"],
            &["p2p", "received_from_peers"],
        ]
    }

    fn report(&self, out: &mut Readings) {
        let stats = self.stats();
        for (transport, received) in Transport::ALL.into_iter().zip(stats.received) {
            out.counter(
                "sentrypeer_events_received_total",
                "Events captured, per transport.",
                received,
            )
            .label("transport", transport.as_str())
            .health(&["events", "received", transport.as_str()]);
        }
        out.health(&["events", "dropped"], stats.dropped());
        // An object even before any consumer is added.
        out.health(&["events", "dropped_by_consumer"], serde_json::Map::new());
        for consumer in &stats.consumers {
            out.counter(
                "sentrypeer_events_dropped_total",
                "Events a consumer never got (its queue was full, or it had stopped).",
                consumer.dropped,
            )
            .label("consumer", consumer.name)
            .health(&["events", "dropped_by_consumer", consumer.name]);
        }
        out.health(&["p2p", "received_from_peers"], stats.received_from_peers);
    }
}
