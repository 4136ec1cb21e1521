//! The change stream: every new key, every change of a key's verdict-relevant facts and every
//! removal is one [`Change`], numbered, kept in a bounded ring for resuming (SSE
//! `Last-Event-ID`) and sent on a bounded broadcast. Publishing never waits for a subscriber:
//! one that falls more than the broadcast's capacity behind is ended and counted.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::entry::EntryView;
use super::key::Key;
use super::reasons::Reasons;

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// First seen (or seen again after it was removed).
    New,
    /// A verdict-relevant fact changed (see [`Reasons`]).
    Updated,
    /// Removed: its newest event is older than the retention window.
    Expired,
    /// Removed: the key cap was reached and it was among the least recently seen.
    Evicted,
}

impl ChangeKind {
    /// `new`, `updated`, `expired` or `evicted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Updated => "updated",
            Self::Expired => "expired",
            Self::Evicted => "evicted",
        }
    }

    /// Whether the key left the list.
    pub fn is_removal(self) -> bool {
        matches!(self, Self::Expired | Self::Evicted)
    }
}

/// One change of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its number: one more than the previous change's. The first change of a run is numbered
    /// with the start time in microseconds since the Unix epoch, so numbers keep growing
    /// across restarts and an id from an earlier run is never mistaken for a recent one.
    pub seq: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// For [`ChangeKind::Updated`], what changed; empty otherwise.
    pub reasons: Reasons,
    /// The IP or number.
    pub key: Key,
    /// The key's facts after the change (for removals: the last facts it had).
    pub entry: EntryView,
}

/// Why [`Blocklist::resume`](super::Blocklist::resume) cannot replay from an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Changes after that id have already left the replay window; the client must start over
    /// (e.g. re-read the whole list).
    #[error("changes after {last_seen} are no longer kept (oldest kept: {oldest_kept})")]
    TooOld {
        /// The id the client last saw.
        last_seen: u64,
        /// The oldest id still kept.
        oldest_kept: u64,
    },
    /// The id was never issued by this run (from another run, or made up).
    #[error("change {last_seen} was never issued (next: {next})")]
    Unknown {
        /// The id the client sent.
        last_seen: u64,
        /// The next id this run will issue.
        next: u64,
    },
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionEnded {
    /// It fell more than the broadcast capacity behind; it was dropped (and counted).
    #[error("subscriber too slow: {missed} changes missed")]
    TooSlow {
        /// Changes it missed when it was dropped.
        missed: u64,
    },
    /// The blocklist is gone.
    #[error("the blocklist was closed")]
    Closed,
}

/// The numbered log: the replay ring and the broadcast.
pub(crate) struct ChangeLog {
    ring: Mutex<Ring>,
    sender: broadcast::Sender<Arc<Change>>,
    dropped_subscribers: Arc<AtomicU64>,
}

struct Ring {
    next_seq: u64,
    recent: VecDeque<Arc<Change>>,
    capacity: usize,
}

/// Counters only: the ring holds up to the replay window of changes.
impl fmt::Debug for ChangeLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeLog")
            .field("next_seq", &self.next_seq())
            .field("subscribers", &self.subscribers())
            .finish_non_exhaustive()
    }
}

impl ChangeLog {
    /// A log keeping `replay` changes for resuming and letting a subscriber lag `lag` changes.
    pub(crate) fn new(replay: usize, lag: usize, now: Timestamp) -> Self {
        let first = u64::try_from(now.as_microsecond()).unwrap_or(1).max(1);
        Self {
            ring: Mutex::new(Ring {
                next_seq: first,
                recent: VecDeque::with_capacity(replay.min(4096)),
                capacity: replay.max(1),
            }),
            sender: broadcast::Sender::new(lag.max(1)),
            dropped_subscribers: Arc::default(),
        }
    }

    /// Numbers, keeps and sends one change. Never waits for a subscriber (the broadcast
    /// overwrites its oldest slot; the lagging subscriber notices on its next receive).
    pub(crate) fn publish(
        &self,
        kind: ChangeKind,
        reasons: Reasons,
        key: Key,
        entry: EntryView,
    ) -> Arc<Change> {
        let mut ring = self.lock();
        let change = Arc::new(Change {
            seq: ring.next_seq,
            kind,
            reasons,
            key,
            entry,
        });
        ring.next_seq += 1;
        if ring.recent.len() == ring.capacity {
            ring.recent.pop_front();
        }
        ring.recent.push_back(Arc::clone(&change));
        // An error only means nobody is subscribed.
        let _ = self.sender.send(Arc::clone(&change));
        change
    }

    /// A subscription to changes from now on.
    pub(crate) fn subscribe(&self) -> Subscription {
        let _ring = self.lock();
        self.subscription()
    }

    /// The changes after `last_seen` still kept, and a subscription to those after them (no
    /// gap, no repeat: both are taken under the lock that numbers changes).
    pub(crate) fn resume(
        &self,
        last_seen: u64,
    ) -> Result<(Vec<Arc<Change>>, Subscription), ReplayError> {
        let ring = self.lock();
        if last_seen >= ring.next_seq {
            return Err(ReplayError::Unknown {
                last_seen,
                next: ring.next_seq,
            });
        }
        let oldest_kept = ring
            .recent
            .front()
            .map_or(ring.next_seq, |change| change.seq);
        if last_seen + 1 < oldest_kept {
            return Err(ReplayError::TooOld {
                last_seen,
                oldest_kept,
            });
        }
        let skip = usize::try_from(last_seen + 1 - oldest_kept).unwrap_or(usize::MAX);
        let missed = ring.recent.iter().skip(skip).cloned().collect();
        Ok((missed, self.subscription()))
    }

    /// The id the next change will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    /// Subscribers dropped for being too slow.
    pub(crate) fn dropped_subscribers(&self) -> u64 {
        self.dropped_subscribers.load(Ordering::Relaxed)
    }

    /// Current subscribers.
    pub(crate) fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    fn subscription(&self) -> Subscription {
        Subscription {
            receiver: Ok(self.sender.subscribe()),
            dropped: Arc::clone(&self.dropped_subscribers),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A consumer's view of the change stream, in `seq` order.
pub struct Subscription {
    /// The receiver, until the subscription ends (then why it ended).
    receiver: Result<broadcast::Receiver<Arc<Change>>, SubscriptionEnded>,
    dropped: Arc<AtomicU64>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("ended", &self.receiver.as_ref().err())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next change.
    ///
    /// # Errors
    ///
    /// [`SubscriptionEnded::TooSlow`] once the subscriber fell too far behind (then always),
    /// [`SubscriptionEnded::Closed`] when the blocklist is gone.
    pub async fn recv(&mut self) -> Result<Arc<Change>, SubscriptionEnded> {
        let receiver = self.receiver.as_mut().map_err(|ended| *ended)?;
        match receiver.recv().await {
            Ok(change) => Ok(change),
            Err(RecvError::Lagged(missed)) => Err(self.end_too_slow(missed)),
            Err(RecvError::Closed) => Err(self.end(SubscriptionEnded::Closed)),
        }
    }

    /// The next change if one is waiting.
    ///
    /// # Errors
    ///
    /// As [`Subscription::recv`].
    pub fn try_recv(&mut self) -> Result<Option<Arc<Change>>, SubscriptionEnded> {
        let receiver = self.receiver.as_mut().map_err(|ended| *ended)?;
        match receiver.try_recv() {
            Ok(change) => Ok(Some(change)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Lagged(missed)) => Err(self.end_too_slow(missed)),
            Err(TryRecvError::Closed) => Err(self.end(SubscriptionEnded::Closed)),
        }
    }

    fn end_too_slow(&mut self, missed: u64) -> SubscriptionEnded {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        self.end(SubscriptionEnded::TooSlow { missed })
    }

    /// Ends the subscription, releasing its place in the broadcast.
    fn end(&mut self, why: SubscriptionEnded) -> SubscriptionEnded {
        self.receiver = Err(why);
        why
    }
}
