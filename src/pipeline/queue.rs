//! The consumers' ends of the pipeline's queues, and the byte count each queue keeps: an event
//! is counted in when the pipeline queues it and out when the consumer takes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvError, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use crate::event::{BadActor, Origin};

/// Bytes of events (see [`event_bytes`]) one consumer's queue holds at most by default: 16 MiB,
/// 256 maximal datagrams, far more than the count bound lets typical probes (~0.5 KiB) take.
pub const DEFAULT_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Memory an event holds, as the byte bounds count it: the record plus its text fields.
pub fn event_bytes(event: &BadActor) -> usize {
    let peer = match &event.origin {
        Origin::Local | Origin::OpenDht => 0,
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

/// Bytes of the events in one consumer's queue, shared by its sending and receiving ends; for a
/// consumer thread's queue also the events in it (its count bound).
#[derive(Debug, Default)]
pub(super) struct QueuedBytes {
    bytes: AtomicUsize,
    events: AtomicUsize,
}

impl QueuedBytes {
    /// Reserves room for `size` bytes within `limit`; a queue holding nothing always takes one
    /// event, however large, so no event is too big to ever be queued.
    pub(super) fn reserve(&self, size: usize, limit: usize) -> bool {
        let before = self.bytes.fetch_add(size, Ordering::Relaxed);
        if before == 0 || before.saturating_add(size) <= limit {
            return true;
        }
        self.release(size);
        false
    }

    /// Bytes queued now.
    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(super) fn release(&self, size: usize) {
        self.bytes.fetch_sub(size, Ordering::Relaxed);
    }

    /// An event left the queue.
    fn taken(&self, event: &BadActor) {
        self.release(event_bytes(event));
    }

    /// Takes a place for one event in a queue of `capacity` events; `false` when it is full.
    pub(super) fn take_place(&self, capacity: usize) -> bool {
        if self.events.fetch_add(1, Ordering::Relaxed) < capacity {
            return true;
        }
        self.free_place();
        false
    }

    /// Gives a place back (its event left the queue, or was never sent). Never below zero: a
    /// plain channel's receiver (`From<Receiver>`, tests and tools) takes events no place was
    /// taken for.
    pub(super) fn free_place(&self) {
        let _ = self
            .events
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |events| {
                events.checked_sub(1)
            });
    }
}

/// The receiving end a consumer thread reads events from: a std channel's receiver (same
/// methods) that keeps its queue's byte count.
#[derive(Debug)]
pub struct EventReceiver {
    pub(super) receiver: Receiver<Arc<BadActor>>,
    pub(super) queued: Arc<QueuedBytes>,
}

impl EventReceiver {
    fn taken(&self, event: Arc<BadActor>) -> Arc<BadActor> {
        self.queued.taken(&event);
        self.queued.free_place();
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
    pub(super) receiver: tokio::sync::mpsc::Receiver<Arc<BadActor>>,
    pub(super) queued: Arc<QueuedBytes>,
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
