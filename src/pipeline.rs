//! Bounded fan-out of events from the listeners to every consumer (store writer, sinks), with
//! counters. A full consumer queue drops the event for that consumer and counts it: attacker
//! traffic never waits on storage or a sink. Consumers are threads (a std channel) or tokio
//! tasks (a tokio channel); both kinds have the same drop-and-count semantics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::event::BadActor;

/// How often at most a "queue full" warning is logged per consumer.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The receiving end a consumer thread reads events from.
pub type EventReceiver = Receiver<Arc<BadActor>>;

/// The receiving end a consumer task reads events from.
pub type AsyncEventReceiver = tokio::sync::mpsc::Receiver<Arc<BadActor>>;

/// One consumer's queue: a thread's or a task's.
#[derive(Debug)]
enum EventSender {
    Thread(SyncSender<Arc<BadActor>>),
    Task(tokio::sync::mpsc::Sender<Arc<BadActor>>),
}

impl EventSender {
    /// Queues without waiting; the reason when the event was not queued.
    fn try_send(&self, event: Arc<BadActor>) -> Result<(), &'static str> {
        use tokio::sync::mpsc::error::TrySendError as TaskError;
        match self {
            Self::Thread(sender) => sender.try_send(event).map_err(|error| match error {
                TrySendError::Full(_) => QUEUE_FULL,
                TrySendError::Disconnected(_) => CONSUMER_STOPPED,
            }),
            Self::Task(sender) => sender.try_send(event).map_err(|error| match error {
                TaskError::Full(_) => QUEUE_FULL,
                TaskError::Closed(_) => CONSUMER_STOPPED,
            }),
        }
    }
}

const QUEUE_FULL: &str = "queue full";
const CONSUMER_STOPPED: &str = "consumer stopped";

/// One consumer's counters.
#[derive(Debug)]
struct ConsumerCounters {
    name: &'static str,
    delivered: AtomicU64,
    dropped: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
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
#[derive(Debug, Default)]
pub struct PipelineBuilder {
    senders: Vec<EventSender>,
    consumers: Vec<ConsumerCounters>,
}

impl PipelineBuilder {
    /// Adds a consumer thread with a queue of `capacity` events; returns the end it reads from.
    pub fn consumer(&mut self, name: &'static str, capacity: usize) -> EventReceiver {
        let (sender, receiver) = sync_channel(capacity.max(1));
        self.add(name, EventSender::Thread(sender));
        receiver
    }

    /// Adds a consumer task (tokio) with a queue of `capacity` events; returns the end it
    /// reads from. Same semantics and counters as [`PipelineBuilder::consumer`].
    pub fn async_consumer(&mut self, name: &'static str, capacity: usize) -> AsyncEventReceiver {
        let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
        self.add(name, EventSender::Task(sender));
        receiver
    }

    fn add(&mut self, name: &'static str, sender: EventSender) {
        self.senders.push(sender);
        self.consumers.push(ConsumerCounters {
            name,
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last_warning: Mutex::new(None),
        });
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
        let event = Arc::new(event);
        let counters = &self.inner.counters;
        for (sender, consumer) in self.inner.senders.iter().zip(&counters.consumers) {
            match sender.try_send(Arc::clone(&event)) {
                Ok(()) => {
                    consumer.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Err(reason) => consumer.count_drop(reason),
            }
        }
    }

    /// Current counters.
    pub fn stats(&self) -> PipelineStats {
        self.monitor().stats()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Attack, CollectedMethod, Origin, Transport};
    use crate::sip::MessageKind;

    fn event() -> BadActor {
        BadActor {
            event_timestamp: jiff::Timestamp::now(),
            event_uuid: uuid::Uuid::now_v7(),
            created_by_node_id: uuid::Uuid::new_v4(),
            collected_method: CollectedMethod::Passive,
            transport: Transport::Tcp,
            source: "127.0.0.1:5060".parse().expect("addr"),
            destination: "127.0.0.1:5060".parse().expect("addr"),
            called_number: "100".to_owned(),
            request_uri_user: None,
            sip_method: "OPTIONS".to_owned(),
            sip_user_agent: "test".to_owned(),
            sip_message: String::new(),
            message_kind: MessageKind::Request,
            origin: Origin::Local,
            attack: Attack::default(),
        }
    }

    #[test]
    fn a_full_consumer_drops_and_counts_without_starving_the_others() {
        let mut builder = Pipeline::builder();
        let slow = builder.consumer("slow", 1);
        let fast = builder.consumer("fast", 10);
        let pipeline = builder.build();
        for _ in 0..3 {
            pipeline.submit(event());
        }
        let stats = pipeline.stats();
        assert_eq!(stats.received, [0, 3, 0]);
        assert_eq!(stats.consumers[0].delivered, 1);
        assert_eq!(stats.consumers[0].dropped, 2);
        assert_eq!(stats.consumers[1].delivered, 3);
        assert_eq!(stats.consumers[1].dropped, 0);
        drop(pipeline);
        assert_eq!(slow.iter().count(), 1);
        assert_eq!(
            fast.iter().count(),
            3,
            "queue drains then closes when the pipeline is dropped"
        );
    }

    #[tokio::test]
    async fn an_async_consumer_has_the_same_drop_and_count_semantics() {
        let mut builder = Pipeline::builder();
        let mut task = builder.async_consumer("task", 2);
        let thread = builder.consumer("thread", 10);
        let pipeline = builder.build();
        for _ in 0..5 {
            pipeline.submit(event());
        }
        let stats = pipeline.stats();
        assert_eq!(stats.consumers[0].name, "task");
        assert_eq!(stats.consumers[0].delivered, 2);
        assert_eq!(stats.consumers[0].dropped, 3);
        assert_eq!(stats.consumers[1].delivered, 5);
        assert_eq!(stats.dropped(), 3);
        drop(pipeline);
        let mut received = 0;
        while task.recv().await.is_some() {
            received += 1;
        }
        assert_eq!(
            received, 2,
            "queue drains then closes when the pipeline is dropped"
        );
        assert_eq!(thread.iter().count(), 5);
    }

    #[test]
    fn a_stopped_async_consumer_is_counted_as_dropping() {
        let mut builder = Pipeline::builder();
        drop(builder.async_consumer("gone", 4));
        let pipeline = builder.build();
        pipeline.submit(event());
        assert_eq!(pipeline.stats().consumers[0].dropped, 1);
        assert_eq!(pipeline.stats().consumers[0].delivered, 0);
    }

    #[test]
    fn a_stopped_consumer_is_counted_as_dropping() {
        let mut builder = Pipeline::builder();
        drop(builder.consumer("gone", 4));
        let pipeline = builder.build();
        pipeline.submit(event());
        assert_eq!(pipeline.stats().consumers[0].dropped, 1);
    }
}
