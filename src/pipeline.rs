//! Bounded fan-out of events from the listeners to every consumer (store writer, sinks), with
//! counters. Each consumer's queue is bounded twice: by a number of events and by the bytes those
//! events hold ([`DEFAULT_QUEUE_BYTES`], or a bound of the consumer's own), so a flood of maximal datagrams cannot queue gigabytes.
//! A full consumer queue drops the event for that consumer and counts it: attacker traffic never
//! waits on storage or a sink. Consumers are threads (a std channel) or tokio tasks (a tokio
//! channel); both kinds have the same drop-and-count semantics. Each consumer says when it is
//! registered whether it takes events received from peers ([`PeerRecords`]); events it does not
//! take are never offered to it (not a drop). A consumer may also be offered events only while
//! someone wants them ([`Demand`]; the others are not drops either).

mod counters;
mod demand;
mod queue;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

use crate::event::BadActor;
use counters::{ConsumerCounters, Counters};

pub use counters::{ConsumerStats, PipelineMonitor, PipelineStats};
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
    /// Bounds the queues of consumers added from now on to `bytes` of events (default
    /// [`DEFAULT_QUEUE_BYTES`]), unless added with a bound of their own.
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
        self.consumer_with_byte_bound(name, capacity, self.queue_bytes, peer_records)
    }

    /// [`PipelineBuilder::consumer`] whose queue holds at most `byte_bound` bytes of events
    /// instead of the pipeline's bound: the store writer's queue absorbs the writer's pauses
    /// (see `config::defaults::STORE_QUEUE_BYTES`).
    pub fn consumer_with_byte_bound(
        &mut self,
        name: &'static str,
        capacity: usize,
        byte_bound: usize,
        peer_records: PeerRecords,
    ) -> EventReceiver {
        let (sender, receiver) = channel();
        let sender = EventSender::Thread {
            sender,
            capacity: capacity.max(1),
        };
        let queued = self.add(name, peer_records, None, sender, byte_bound);
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
        let sender = EventSender::Task(sender);
        let queued = self.add(name, peer_records, demand, sender, self.queue_bytes);
        AsyncEventReceiver { receiver, queued }
    }

    fn add(
        &mut self,
        name: &'static str,
        peer_records: PeerRecords,
        demand: Option<Demand>,
        sender: EventSender,
        byte_bound: usize,
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
            byte_bound,
        });
        queued
    }

    /// Finishes the pipeline.
    pub fn build(self) -> Pipeline {
        Pipeline {
            inner: Arc::new(Inner {
                senders: self.senders,
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
            if !consumer.queued.reserve(size, consumer.byte_bound) {
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

    /// Whether every consumer that takes peer records has less than a quarter of its own byte
    /// bound queued: a producer that can wait (peer-to-peer catch-up) asks for more only then, so
    /// what it fetches is never dropped.
    pub fn has_room_for_peer_records(&self) -> bool {
        self.inner
            .counters
            .consumers
            .iter()
            .filter(|consumer| consumer.peer_records == PeerRecords::Taken)
            .all(|consumer| consumer.queued.bytes() < consumer.byte_bound / 4)
    }

    /// A handle that reads the counters without keeping the queues open.
    pub fn monitor(&self) -> PipelineMonitor {
        PipelineMonitor {
            counters: Arc::clone(&self.inner.counters),
        }
    }
}
