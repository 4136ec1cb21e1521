//! What becomes of a record from a peer, decided without a network: [`InboundPolicy::check`]
//! verifies it (size, schema, version, network, signature, fields, window: see `record`), then
//! judges its author (our own coming back, denied, not allowed), drops what was already seen and
//! holds back what exceeds the author's rate. Every record from outside goes through the same
//! checks and the same per-author rate, pushed or caught up: the node drops a pushed record over
//! the rate, and waits before taking the rest of a catch-up page. The node counts the
//! [`Verdict`] and stores accepted records.

use std::collections::{HashSet, VecDeque};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use jiff::{SignedDuration, Timestamp};
use libp2p::PeerId;
use uuid::Uuid;

use super::P2pStats;
use super::drops::DropReason;
use super::protocol::{RATE_BURST_SECONDS, SEEN_CAPACITY};
use super::record::{RecordError, SignedRecord};
use crate::event::BadActor;

/// What the node accepts from peers (from its options).
#[derive(Debug, Clone)]
pub(crate) struct InboundRules {
    /// Records of another `--p2p-network` are refused.
    pub(crate) network: String,
    /// Records older than this are refused; `None` keeps forever.
    pub(crate) retention: Option<SignedDuration>,
    /// This node: its own records coming back are duplicates.
    pub(crate) local_peer: PeerId,
    /// When not empty, only records authored by these peers are accepted.
    pub(crate) receive_only_from: Vec<PeerId>,
    /// Authors whose records are refused.
    pub(crate) deny: Vec<PeerId>,
    /// Records accepted per second from one author ([`RATE_BURST_SECONDS`] of them at once).
    pub(crate) max_records_per_second: u32,
}

/// What became of one record.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Passed every check: store it as `author`'s.
    Accepted {
        /// The node that signed it.
        author: PeerId,
        /// The event, with its peer origin.
        event: Box<BadActor>,
    },
    /// Already seen, or our own record coming back (forwarded, or in a peer's catch-up page).
    Duplicate,
    /// Refused: see the reason.
    Rejected(Rejection),
    /// Over its author's rate: dropped when pushed; a catch-up waits `wait` and asks again.
    RateLimited {
        /// Time until the author may send another record.
        wait: Duration,
    },
}

/// Why a record was refused.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// The record itself failed a check.
    Invalid(RecordError),
    /// Its author is denied, or not among those records are received from.
    Denied,
}

impl Verdict {
    /// Whether the record was forged (a signature that does not match): gossipsub then refuses
    /// the whole batch and penalises the peer that sent it.
    pub(crate) fn is_forged(&self) -> bool {
        matches!(
            self,
            Self::Rejected(Rejection::Invalid(RecordError::BadSignature))
        )
    }

    /// Counts the record in `stats`: received, then by verdict; refusals and drops also against
    /// `from`, the peer that sent it, by reason.
    pub(crate) fn count(&self, stats: &P2pStats, from: &PeerId) {
        P2pStats::bump(&stats.received_records);
        match self.drop_reason() {
            Some(reason) => stats.dropped_from(from, reason),
            None if matches!(self, Self::Accepted { .. }) => {
                P2pStats::bump(&stats.accepted_records)
            }
            None => P2pStats::bump(&stats.duplicate_records),
        }
    }

    /// Why the record was refused or dropped (`None`: accepted, or a duplicate).
    fn drop_reason(&self) -> Option<DropReason> {
        Some(match self {
            Self::Accepted { .. } | Self::Duplicate => return None,
            Self::Rejected(Rejection::Denied) => DropReason::Denied,
            Self::Rejected(Rejection::Invalid(error)) => match error {
                RecordError::BadSignature | RecordError::UnknownKey => DropReason::Signature,
                RecordError::OutOfWindow => DropReason::Window,
                RecordError::OtherNetwork => DropReason::Network,
                _ => DropReason::Malformed,
            },
            Self::RateLimited { .. } => DropReason::RateLimited,
        })
    }
}

/// Per-author rate limiter on clock `C` (tests drive a fake one).
type AuthorRate<C> =
    RateLimiter<PeerId, DefaultKeyedStateStore<PeerId>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The checks of records from peers, and what they remember (ids seen, authors' rates).
pub(crate) struct InboundPolicy<C: Clock = DefaultClock> {
    rules: InboundRules,
    seen: SeenIds,
    rate: AuthorRate<C>,
}

impl InboundPolicy {
    /// A policy for `rules`, on the real clock.
    pub(crate) fn new(rules: InboundRules) -> Self {
        Self::with_clock(rules, DefaultClock::default())
    }
}

impl<C: Clock> InboundPolicy<C> {
    /// A policy for `rules` whose rate limit reads `clock`.
    pub(crate) fn with_clock(rules: InboundRules, clock: C) -> Self {
        let rate = NonZeroU32::new(rules.max_records_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(RATE_BURST_SECONDS).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(rate).allow_burst(rate.saturating_mul(burst));
        Self {
            rules,
            seen: SeenIds::new(SEEN_CAPACITY),
            rate: RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock),
        }
    }

    /// Judges the record `text`, at `now` (for its window), pushed or caught up alike.
    pub(crate) fn check(&mut self, text: &str, now: Timestamp) -> Verdict {
        let rules = &self.rules;
        let (author, event) = match SignedRecord::verify(text, &rules.network, rules.retention, now)
        {
            Ok(verified) => verified,
            Err(error) => return Verdict::Rejected(Rejection::Invalid(error)),
        };
        if author == rules.local_peer {
            return Verdict::Duplicate;
        }
        let allowed = !rules.deny.contains(&author)
            && (rules.receive_only_from.is_empty() || rules.receive_only_from.contains(&author));
        if !allowed {
            return Verdict::Rejected(Rejection::Denied);
        }
        if self.seen.contains(&event.event_uuid) {
            return Verdict::Duplicate;
        }
        if let Err(not_until) = self.rate.check_key(&author) {
            return Verdict::RateLimited {
                wait: not_until.wait_time_from(self.rate.clock().now()),
            };
        }
        self.seen.remember(event.event_uuid);
        Verdict::Accepted {
            author,
            event: Box::new(event),
        }
    }

    /// Remembers an event id this node published, so it is a duplicate if it comes back.
    pub(crate) fn remember(&mut self, uuid: Uuid) {
        self.seen.remember(uuid);
    }

    /// Forgets the rate of authors that have not sent for a while (their state is that of a
    /// new author anyway), so a flood of identities leaves nothing behind.
    pub(crate) fn prune(&mut self) {
        self.rate.retain_recent();
        self.rate.shrink_to_fit();
    }

    /// Authors whose rate is remembered.
    #[cfg(test)]
    pub(crate) fn tracked_authors(&self) -> usize {
        self.rate.len()
    }
}

/// Event ids seen lately: at most `capacity`, the oldest forgotten first.
#[derive(Debug)]
struct SeenIds {
    ids: HashSet<Uuid>,
    order: VecDeque<Uuid>,
    capacity: usize,
}

impl SeenIds {
    fn new(capacity: usize) -> Self {
        Self {
            ids: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn contains(&self, uuid: &Uuid) -> bool {
        self.ids.contains(uuid)
    }

    fn remember(&mut self, uuid: Uuid) {
        if self.ids.insert(uuid) {
            self.order.push_back(uuid);
            if self.order.len() > self.capacity
                && let Some(oldest) = self.order.pop_front()
            {
                self.ids.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests;
