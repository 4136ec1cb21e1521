//! INVITE server transactions of the redirect agent (RFC 3261 §17.2.1), after the final
//! response: retransmitted on Timer G over UDP until the `ACK` or Timer H, then kept for Timer I
//! to absorb retransmitted `ACK`s. Bounded: at the cap the least recently used transaction is
//! forgotten (a late retransmission of its INVITE is then decided again). Timers sit in a heap;
//! a transaction has at most one live entry there, older ones are skipped when they come up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;

/// RFC 3261 T1: the round-trip estimate, Timer G's first interval.
pub const T1: Duration = Duration::from_millis(500);
/// RFC 3261 T2: the longest Timer G interval.
pub const T2: Duration = Duration::from_secs(4);
/// RFC 3261 T4: how long a confirmed transaction absorbs `ACK`s over UDP (Timer I).
pub const T4: Duration = Duration::from_secs(5);
/// Timer H (64 × T1): how long a final response waits for its `ACK`.
pub const TIMER_H: Duration = Duration::from_secs(32);

/// Where a transaction stands.
#[derive(Debug)]
enum State {
    /// Final response sent, waiting for the `ACK`; retransmitted (over UDP) at the next due time.
    Completed {
        response: Vec<u8>,
        interval: Duration,
        gives_up_at: Instant,
    },
    /// `ACK` received; absorbs retransmitted `ACK`s until the due time.
    Confirmed,
}

#[derive(Debug)]
struct Entry {
    source: SocketAddr,
    state: State,
    /// When its timer fires next (the heap holds this time for it).
    due: Instant,
}

/// A final response to send again (Timer G).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retransmission {
    /// Where the INVITE came from.
    pub destination: SocketAddr,
    /// The response, byte for byte as first sent.
    pub bytes: Vec<u8>,
}

/// What a transaction made of a request that matched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Matched {
    /// No such transaction.
    None,
    /// Its final response, to send again (a retransmitted INVITE).
    Again(Vec<u8>),
    /// Absorbed (an INVITE or `ACK` after the `ACK`).
    Absorbed,
}

/// What [`Transactions::due`] found.
#[derive(Debug, Default)]
pub struct Due {
    /// Responses to send again.
    pub retransmissions: Vec<Retransmission>,
    /// Transactions that gave up waiting for their `ACK` (Timer H).
    pub timed_out: u64,
}

/// The INVITE server transactions, keyed by a hash of their source and branch.
#[derive(Debug)]
pub(super) struct Transactions {
    entries: LruCache<u64, Entry>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    reliable: bool,
    evicted: u64,
}

impl Transactions {
    /// Room for `capacity` transactions; `reliable` transports (TCP) never retransmit and keep
    /// no `ACK`-absorbing state after the `ACK` (Timer I is 0 there).
    pub(super) fn new(capacity: NonZeroUsize, reliable: bool) -> Self {
        Self {
            entries: LruCache::new(capacity),
            timers: BinaryHeap::new(),
            reliable,
            evicted: 0,
        }
    }

    /// Records a final response sent for the INVITE transaction `key` from `source`.
    pub(super) fn completed(
        &mut self,
        key: u64,
        source: SocketAddr,
        response: Vec<u8>,
        now: Instant,
    ) {
        let gives_up_at = now + TIMER_H;
        let due = if self.reliable { gives_up_at } else { now + T1 };
        let entry = Entry {
            source,
            state: State::Completed {
                response,
                interval: T1,
                gives_up_at,
            },
            due,
        };
        if let Some((old_key, _)) = self.entries.push(key, entry)
            && old_key != key
        {
            self.evicted += 1;
        }
        self.schedule(key, due);
    }

    /// What an INVITE for transaction `key` gets: its response again while waiting for the
    /// `ACK`, nothing once confirmed.
    pub(super) fn invite(&mut self, key: u64) -> Matched {
        match self.entries.get(&key) {
            None => Matched::None,
            Some(Entry {
                state: State::Completed { response, .. },
                ..
            }) => Matched::Again(response.clone()),
            Some(_) => Matched::Absorbed,
        }
    }

    /// An `ACK` for transaction `key`: confirms it (its response is let go).
    pub(super) fn ack(&mut self, key: u64, now: Instant) -> Matched {
        let Some(entry) = self.entries.get_mut(&key) else {
            return Matched::None;
        };
        if matches!(entry.state, State::Completed { .. }) {
            if self.reliable {
                self.entries.pop(&key);
                return Matched::Absorbed;
            }
            entry.state = State::Confirmed;
            entry.due = now + T4;
            let due = entry.due;
            self.schedule(key, due);
        }
        Matched::Absorbed
    }

    /// Whether transaction `key` exists (a CANCEL's INVITE was answered).
    pub(super) fn contains(&self, key: u64) -> bool {
        self.entries.contains(&key)
    }

    /// Fires every timer due at `now`: Timer G retransmissions, Timer H and Timer I ends.
    pub(super) fn due(&mut self, now: Instant) -> Due {
        let mut due = Due::default();
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.entries.peek_mut(&key).filter(|entry| entry.due == at) else {
                continue;
            };
            match &mut entry.state {
                State::Completed {
                    response,
                    interval,
                    gives_up_at,
                } if now < *gives_up_at && !self.reliable => {
                    due.retransmissions.push(Retransmission {
                        destination: entry.source,
                        bytes: response.clone(),
                    });
                    *interval = (*interval * 2).min(T2);
                    entry.due = (now + *interval).min(*gives_up_at);
                    let next = entry.due;
                    self.schedule(key, next);
                }
                State::Completed { .. } => {
                    due.timed_out += 1;
                    self.entries.pop(&key);
                }
                State::Confirmed => {
                    self.entries.pop(&key);
                }
            }
        }
        due
    }

    /// When the next timer fires.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Transactions held.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Transactions forgotten at the cap so far.
    pub(super) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds a timer; rebuilds the heap from the live entries when stale ones pile up (each
    /// transaction has one live entry, so the heap stays within a few times the cap).
    fn schedule(&mut self, key: u64, at: Instant) {
        self.timers.push(Reverse((at, key)));
        if self.timers.len() > 4 * self.entries.cap().get() {
            self.timers = self
                .entries
                .iter()
                .map(|(key, entry)| Reverse((entry.due, *key)))
                .collect();
        }
    }
}
