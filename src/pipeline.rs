//! Bounded fan-out of events from the listeners to every consumer (store writer, sinks), with
//! counters. Each consumer's queue is bounded twice: by a number of events and by the bytes those
//! events hold ([`DEFAULT_QUEUE_BYTES`]), so a flood of maximal datagrams cannot queue gigabytes.
//! A full consumer queue drops the event for that consumer and counts it: attacker traffic never
//! waits on storage or a sink. Consumers are threads (a std channel) or tokio tasks (a tokio
//! channel); both kinds have the same drop-and-count semantics.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{
    Receiver, RecvError, RecvTimeoutError, SyncSender, TryRecvError, TrySendError, sync_channel,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::event::{BadActor, Origin};

/// How often at most a "queue full" warning is logged per consumer.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Bytes of events (see [`event_bytes`]) one consumer's queue holds at most by default: 16 MiB,
/// 256 maximal datagrams, far more than the count bound lets typical probes (~0.5 KiB) take.
pub const DEFAULT_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Memory an event holds, as the byte bounds count it: the record plus its text fields.
pub fn event_bytes(event: &BadActor) -> usize {
    let peer = match &event.origin {
        Origin::Local => 0,
        Origin::Peer(peer) => {
            peer.peer_id.len() + peer.signed_record.as_ref().map_or(0, |record| record.len())
        }
    };
    size_of::<BadActor>()
        + event.called_number.len()
        + event.request_uri_user.as_ref().map_or(0, String::len)
        + event.sip_method.len()
        + event.sip_user_agent.len()
        + event.sip_message.len()
        + peer
}

/// Bytes of the events in one consumer's queue, shared by its sending and receiving ends.
#[derive(Debug, Default)]
struct QueuedBytes {
    bytes: AtomicUsize,
}

impl QueuedBytes {
    /// Reserves room for `size` bytes within `limit`; a queue holding nothing always takes one
    /// event, however large, so no event is too big to ever be queued.
    fn reserve(&self, size: usize, limit: usize) -> bool {
        let before = self.bytes.fetch_add(size, Ordering::Relaxed);
        if before == 0 || before.saturating_add(size) <= limit {
            return true;
        }
        self.release(size);
        false
    }

    fn release(&self, size: usize) {
        self.bytes.fetch_sub(size, Ordering::Relaxed);
    }

    /// An event left the queue.
    fn taken(&self, event: &BadActor) {
        self.release(event_bytes(event));
    }
}

/// The receiving end a consumer thread reads events from: a std channel's receiver (same
/// methods) that keeps its queue's byte count.
#[derive(Debug)]
pub struct EventReceiver {
    receiver: Receiver<Arc<BadActor>>,
    queued: Arc<QueuedBytes>,
}

impl EventReceiver {
    fn taken(&self, event: Arc<BadActor>) -> Arc<BadActor> {
        self.queued.taken(&event);
        event
    }

    /// Waits for the next event; an error once the pipeline is gone and the queue is empty.
    ///
    /// # Errors
    /// [`RecvError`] when every sender is gone and nothing is queued.
    pub fn recv(&self) -> Result<Arc<BadActor>, RecvError> {
        self.receiver.recv().map(|event| self.taken(event))
    }

    /// The next event if one is queued.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
    pub fn try_recv(&self) -> Result<Arc<BadActor>, TryRecvError> {
        self.receiver.try_recv().map(|event| self.taken(event))
    }

    /// Waits at most `timeout` for the next event.
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Arc<BadActor>, RecvTimeoutError> {
        self.receiver
            .recv_timeout(timeout)
            .map(|event| self.taken(event))
    }

    /// Every event, waiting for each, until the pipeline is gone and the queue is empty.
    pub fn iter(&self) -> impl Iterator<Item = Arc<BadActor>> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// The events queued now, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = Arc<BadActor>> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }
}

impl<'a> IntoIterator for &'a EventReceiver {
    type Item = Arc<BadActor>;
    type IntoIter = Box<dyn Iterator<Item = Arc<BadActor>> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// A plain channel as an event queue (no byte bound): for tests and tools.
impl From<Receiver<Arc<BadActor>>> for EventReceiver {
    fn from(receiver: Receiver<Arc<BadActor>>) -> Self {
        Self {
            receiver,
            queued: Arc::default(),
        }
    }
}

/// A queue a consumer thread takes events from, blocking: the pipeline's [`EventReceiver`], or
/// a plain channel receiver (tests and tools feed the store writer directly).
pub trait EventQueue {
    /// See [`EventReceiver::recv`].
    ///
    /// # Errors
    /// [`RecvError`] when every sender is gone and nothing is queued.
    fn recv(&self) -> Result<Arc<BadActor>, RecvError>;
    /// See [`EventReceiver::try_recv`].
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
    fn try_recv(&self) -> Result<Arc<BadActor>, TryRecvError>;
    /// See [`EventReceiver::recv_timeout`].
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    fn recv_timeout(&self, timeout: Duration) -> Result<Arc<BadActor>, RecvTimeoutError>;
}

impl EventQueue for EventReceiver {
    fn recv(&self) -> Result<Arc<BadActor>, RecvError> {
        EventReceiver::recv(self)
    }
    fn try_recv(&self) -> Result<Arc<BadActor>, TryRecvError> {
        EventReceiver::try_recv(self)
    }
    fn recv_timeout(&self, timeout: Duration) -> Result<Arc<BadActor>, RecvTimeoutError> {
        EventReceiver::recv_timeout(self, timeout)
    }
}

impl EventQueue for Receiver<Arc<BadActor>> {
    fn recv(&self) -> Result<Arc<BadActor>, RecvError> {
        Receiver::recv(self)
    }
    fn try_recv(&self) -> Result<Arc<BadActor>, TryRecvError> {
        Receiver::try_recv(self)
    }
    fn recv_timeout(&self, timeout: Duration) -> Result<Arc<BadActor>, RecvTimeoutError> {
        Receiver::recv_timeout(self, timeout)
    }
}

/// The receiving end a consumer task reads events from: a tokio channel's receiver (same
/// methods) that keeps its queue's byte count.
#[derive(Debug)]
pub struct AsyncEventReceiver {
    receiver: tokio::sync::mpsc::Receiver<Arc<BadActor>>,
    queued: Arc<QueuedBytes>,
}

impl AsyncEventReceiver {
    fn taken(&self, event: Arc<BadActor>) -> Arc<BadActor> {
        self.queued.taken(&event);
        event
    }

    /// The next event; `None` once the pipeline is gone and the queue is empty.
    /// Cancel-safe, as tokio's `recv`.
    pub async fn recv(&mut self) -> Option<Arc<BadActor>> {
        let event = self.receiver.recv().await?;
        Some(self.taken(event))
    }

    /// Closes the queue: nothing more is accepted (the pipeline counts further events as
    /// dropped); what is queued can still be received.
    pub fn close(&mut self) {
        self.receiver.close();
    }

    /// The next event if one is queued.
    ///
    /// # Errors
    /// Tokio's `TryRecvError::Empty` or `TryRecvError::Disconnected`.
    pub fn try_recv(&mut self) -> Result<Arc<BadActor>, tokio::sync::mpsc::error::TryRecvError> {
        let event = self.receiver.try_recv()?;
        Ok(self.taken(event))
    }
}

/// A plain tokio channel as an event queue (no byte bound): for tests and tools.
impl From<tokio::sync::mpsc::Receiver<Arc<BadActor>>> for AsyncEventReceiver {
    fn from(receiver: tokio::sync::mpsc::Receiver<Arc<BadActor>>) -> Self {
        Self {
            receiver,
            queued: Arc::default(),
        }
    }
}

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
const QUEUE_BYTES_FULL: &str = "queue holds too many bytes";
const CONSUMER_STOPPED: &str = "consumer stopped";

/// One consumer's counters, and its queue's byte count.
#[derive(Debug)]
struct ConsumerCounters {
    name: &'static str,
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

    /// Adds a consumer thread with a queue of `capacity` events; returns the end it reads from.
    pub fn consumer(&mut self, name: &'static str, capacity: usize) -> EventReceiver {
        let (sender, receiver) = sync_channel(capacity.max(1));
        let queued = self.add(name, EventSender::Thread(sender));
        EventReceiver { receiver, queued }
    }

    /// Adds a consumer task (tokio) with a queue of `capacity` events; returns the end it
    /// reads from. Same semantics and counters as [`PipelineBuilder::consumer`].
    pub fn async_consumer(&mut self, name: &'static str, capacity: usize) -> AsyncEventReceiver {
        let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
        let queued = self.add(name, EventSender::Task(sender));
        AsyncEventReceiver { receiver, queued }
    }

    fn add(&mut self, name: &'static str, sender: EventSender) -> Arc<QueuedBytes> {
        let queued = Arc::new(QueuedBytes::default());
        self.senders.push(sender);
        self.consumers.push(ConsumerCounters {
            name,
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
        let event = Arc::new(event);
        let counters = &self.inner.counters;
        for (sender, consumer) in self.inner.senders.iter().zip(&counters.consumers) {
            if !consumer.queued.reserve(size, self.inner.queue_bytes) {
                consumer.count_drop(QUEUE_BYTES_FULL);
                continue;
            }
            match sender.try_send(Arc::clone(&event)) {
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

    fn sized(bytes: usize) -> BadActor {
        BadActor {
            sip_message: "x".repeat(bytes),
            ..event()
        }
    }

    #[test]
    fn a_queue_holding_too_many_bytes_drops_and_counts_until_events_are_taken() {
        let one = event_bytes(&sized(10_000));
        let mut builder = Pipeline::builder().queue_bytes(3 * one);
        let big = builder.consumer("big", 100);
        let pipeline = builder.build();
        for _ in 0..5 {
            pipeline.submit(sized(10_000));
        }
        let stats = pipeline.stats();
        assert_eq!(
            (stats.consumers[0].delivered, stats.consumers[0].dropped),
            (3, 2)
        );
        // Taking one event frees its bytes: the next fits again, and no more.
        big.try_recv().expect("queued event");
        pipeline.submit(sized(10_000));
        pipeline.submit(sized(10_000));
        let stats = pipeline.stats();
        assert_eq!(
            (stats.consumers[0].delivered, stats.consumers[0].dropped),
            (4, 3)
        );
        drop(pipeline);
        assert_eq!(big.iter().count(), 3);
    }

    #[test]
    fn an_event_larger_than_the_bound_is_queued_when_the_queue_is_empty() {
        let mut builder = Pipeline::builder().queue_bytes(100);
        let queue = builder.consumer("queue", 10);
        let pipeline = builder.build();
        pipeline.submit(sized(65_536));
        pipeline.submit(sized(65_536));
        assert_eq!(pipeline.stats().consumers[0].delivered, 1);
        assert_eq!(pipeline.stats().consumers[0].dropped, 1);
        assert_eq!(queue.recv().expect("queued").sip_message.len(), 65_536);
        pipeline.submit(sized(65_536));
        assert_eq!(
            pipeline.stats().consumers[0].delivered,
            2,
            "room again once taken"
        );
    }

    #[tokio::test]
    async fn an_async_queue_has_the_same_byte_bound() {
        let one = event_bytes(&sized(10_000));
        let mut builder = Pipeline::builder().queue_bytes(2 * one);
        let mut task = builder.async_consumer("task", 100);
        let pipeline = builder.build();
        for _ in 0..3 {
            pipeline.submit(sized(10_000));
        }
        assert_eq!(pipeline.stats().consumers[0].dropped, 1);
        task.recv().await.expect("queued");
        pipeline.submit(sized(10_000));
        assert_eq!(pipeline.stats().consumers[0].delivered, 3);
        assert!(task.try_recv().is_ok());
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
