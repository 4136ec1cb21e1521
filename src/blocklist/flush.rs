//! What changed since the last flush, per key, for the store's aggregate tables
//! (`ip_addresses`, `called_numbers`), and the rows the store hands back at start.
//!
//! Every observation adds to its key's [`Pending`] tally (exact: `u64` counts, nanosecond
//! times), kept beside the live table under the same shard lock; [`take`](super::Blocklist::take_changed)
//! hands them over and starts afresh. The tally holds one slot per key, so it is bounded by the
//! number of distinct keys seen between two flushes (and by twice the key cap: past that, counted in
//! `flush_overflow`, which only a flusher stalled for millions of new keys can reach). Eviction
//! and expiry remove live entries, never their pending tally.

use std::net::IpAddr;
use std::sync::Arc;

use jiff::Timestamp;

use super::authors::{AuthorId, AuthorSet, MAX_TRACKED_AUTHORS};
use super::entry::{Side, Update};

/// A key's events since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    local_count: u64,
    remote_count: u64,
    /// Oldest event, nanoseconds since the Unix epoch.
    first: i64,
    /// Newest local event (ns), `i64::MIN` when none.
    local_last: i64,
    /// Newest remote event (ns), `i64::MIN` when none.
    remote_last: i64,
    authors: [u16; MAX_TRACKED_AUTHORS],
    more_authors: bool,
    attack_types: u8,
    transports: u8,
    proven: bool,
}

impl Pending {
    /// The tally of one event at `at`.
    pub(crate) fn new(at: Timestamp, update: &Update) -> Self {
        let mut pending = Self {
            local_count: 0,
            remote_count: 0,
            first: nanos(at),
            local_last: i64::MIN,
            remote_last: i64::MIN,
            authors: [0; MAX_TRACKED_AUTHORS],
            more_authors: false,
            attack_types: 0,
            transports: 0,
            proven: false,
        };
        pending.add(at, update);
        pending
    }

    /// Adds one event at `at`.
    pub(crate) fn add(&mut self, at: Timestamp, update: &Update) {
        let at = nanos(at);
        self.first = self.first.min(at);
        self.attack_types |= update.attack_bit;
        match update.side {
            Side::Local {
                transport_bit,
                proven,
            } => {
                self.local_count += 1;
                self.local_last = self.local_last.max(at);
                self.transports |= transport_bit;
                self.proven |= proven;
            }
            Side::Remote { author } => {
                self.remote_count += 1;
                self.remote_last = self.remote_last.max(at);
                if let Some(id) = author.map(AuthorId::get)
                    && !self.authors.contains(&id)
                {
                    match self.authors.iter_mut().find(|slot| **slot == 0) {
                        Some(slot) => *slot = id,
                        None => self.more_authors = true,
                    }
                }
            }
        }
    }

    /// The flush row for `key`, author names resolved by `name`.
    pub(crate) fn row<K>(
        &self,
        key: K,
        name: impl Fn(AuthorId) -> Option<Arc<str>>,
    ) -> AggregateRow<K> {
        let local_last_seen = (self.local_last != i64::MIN).then(|| from_nanos(self.local_last));
        let remote_last_seen = (self.remote_last != i64::MIN).then(|| from_nanos(self.remote_last));
        let authors = AuthorSet::new(self.authors, self.more_authors);
        AggregateRow {
            key,
            seen_count: self.local_count + self.remote_count,
            first_seen: from_nanos(self.first),
            last_seen: from_nanos(self.local_last.max(self.remote_last)),
            local_count: self.local_count,
            local_last_seen,
            remote_count: self.remote_count,
            remote_last_seen,
            attack_types: self.attack_types,
            transports: self.transports,
            proven: self.proven,
            authors: authors.ids().filter_map(name).collect(),
        }
    }
}

/// One row of the store's aggregate tables (`ip_addresses`, `called_numbers`), both ways:
///
/// - from [`take_changed`](super::Blocklist::take_changed), one key's events since the previous
///   flush: exactly what an UPSERT adds (`seen_count += ..`, `first_seen = min(..)`,
///   `last_seen = max(..)`, `local_count += ..`, `local_last_seen = max(..)`, the `peer_*`
///   columns from the `remote_*` fields, `attack_types |= ..`);
/// - to [`load_ips`](super::Blocklist::load_ips) / [`load_numbers`](super::Blocklist::load_numbers),
///   a row as stored (`seen_count` is not used: the live table counts per side; rows with
///   neither local nor remote events, which retention has reset, are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow<K> {
    /// The IP (any form; normalised) or the number (a phone number).
    pub key: K,
    /// Events (`local_count + remote_count`).
    pub seen_count: u64,
    /// The oldest (nanosecond precision, as the events carry it).
    pub first_seen: Timestamp,
    /// The newest.
    pub last_seen: Timestamp,
    /// Those this node captured (saturates at `u32::MAX` in the live table).
    pub local_count: u64,
    /// The newest of those.
    pub local_last_seen: Option<Timestamp>,
    /// Those reported by peers and feeds (the store's `peer_count`).
    pub remote_count: u64,
    /// The newest of those (the store's `peer_last_seen`).
    pub remote_last_seen: Option<Timestamp>,
    /// Their attack types (`AttackType::bit`s; the store keeps them for IPs only).
    pub attack_types: u8,
    /// Transports of the local ones (bits `1 << Transport::index()`; 0 when not stored).
    pub transports: u8,
    /// Whether one of them proved the source receives our replies (`false` when not stored).
    pub proven: bool,
    /// Remote authors (a flush carries at most [`MAX_TRACKED_AUTHORS`] new ones). When the
    /// store does not keep them, a key reported only by peers loads with none, so it needs
    /// trusted or fresh reports to reach a quorum again.
    pub authors: Vec<Arc<str>>,
}

/// Everything that changed since the previous [`take_changed`](super::Blocklist::take_changed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flush {
    /// Per source IP.
    pub ips: Vec<AggregateRow<IpAddr>>,
    /// Per called number.
    pub numbers: Vec<AggregateRow<Box<str>>>,
}

impl Flush {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.numbers.is_empty()
    }
}

/// What a load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadReport {
    /// Rows now in the table.
    pub loaded: u64,
    /// Rows skipped: not a phone number, or no events on either side.
    pub skipped: u64,
    /// Keys evicted to stay under the cap (the least recently seen).
    pub evicted: u64,
}

/// Nanoseconds since the Unix epoch, clamped to `i64` (years 1678 to 2262).
fn nanos(at: Timestamp) -> i64 {
    i64::try_from(at.as_nanosecond()).unwrap_or(if at < Timestamp::UNIX_EPOCH {
        i64::MIN + 1
    } else {
        i64::MAX
    })
}

/// The time of [`nanos`]' value.
fn from_nanos(nanos: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU16;

    use super::*;
    use crate::sip::AttackType;

    fn at(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp::new(seconds, nanos).expect("valid")
    }

    fn update(side: Side, attack_type: AttackType) -> Update {
        Update {
            at: 0,
            attack_bit: attack_type.bit(),
            side,
        }
    }

    #[test]
    fn the_tally_keeps_exact_times_and_the_split_by_side() {
        let local = update(
            Side::Local {
                transport_bit: 1,
                proven: false,
            },
            AttackType::Scan,
        );
        let remote = update(
            Side::Remote {
                author: NonZeroU16::new(3).map(AuthorId::from_raw),
            },
            AttackType::CallAttempt,
        );
        let mut pending = Pending::new(at(100, 5), &local);
        pending.add(at(99, 7), &remote);
        pending.add(at(101, 1), &local);
        let row = pending.row("k", |id| Some(format!("author{}", id.get()).into()));
        assert_eq!(
            (row.seen_count, row.local_count, row.remote_count),
            (3, 2, 1)
        );
        assert_eq!(row.first_seen, at(99, 7));
        assert_eq!(row.last_seen, at(101, 1));
        assert_eq!(row.local_last_seen, Some(at(101, 1)));
        assert_eq!(row.remote_last_seen, Some(at(99, 7)));
        assert_eq!(
            row.attack_types,
            AttackType::Scan.bit() | AttackType::CallAttempt.bit()
        );
        assert_eq!(row.authors, vec![Arc::<str>::from("author3")]);
        assert!(!row.proven);
    }

    #[test]
    fn a_one_sided_tally_leaves_the_other_side_empty() {
        let remote = update(Side::Remote { author: None }, AttackType::Scan);
        let row = Pending::new(at(5, 0), &remote).row((), |_| None);
        assert_eq!((row.local_count, row.local_last_seen), (0, None));
        assert_eq!(row.remote_last_seen, Some(at(5, 0)));
        assert!(row.authors.is_empty());
    }

    #[test]
    fn extreme_times_clamp_instead_of_failing() {
        assert_eq!(nanos(Timestamp::MAX), i64::MAX);
        assert_eq!(nanos(Timestamp::MIN), i64::MIN + 1);
        assert_eq!(from_nanos(nanos(at(7, 9))), at(7, 9));
    }
}
