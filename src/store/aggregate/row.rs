//! The rows the aggregate tables are written from and loaded into: [`AggregateRow`], a batch of
//! them ([`AggregateFlush`]), where the writer pulls them from ([`AggregateSource`]), and how two
//! rows of one key combine ([`AggregateRow::absorb`]).

use std::net::IpAddr;
use std::sync::Arc;

use jiff::Timestamp;

/// Distinct remote authors a row names; later ones only set [`AggregateRow::more_authors`]
/// (the live blocklist keeps as many per key).
pub const MAX_ROW_AUTHORS: usize = 4;

/// One row of the aggregate tables (`ip_addresses`, `called_numbers`), both ways:
///
/// - into the store, one key's events since the previous flush: exactly what is added to the
///   stored row (`seen_count += ..`, `first_seen = min(..)`, `last_seen = max(..)`,
///   `local_count += ..`, `local_last_seen = max(..)`, the `peer_*` columns from the `remote_*`
///   fields, `attack_types |= ..`, `transports |= ..`, `proven ||= ..`, authors merged);
/// - out of the store ([`load_ips`](super::load_ips), [`load_numbers`](super::load_numbers)), a
///   row as stored. `seen_count` may then exceed `local_count + remote_count`: retention resets
///   a side silent for longer than the window, not the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow<K> {
    /// The IP (any form; stored as its canonical text, IPv4-mapped IPv6 as IPv4) or the number
    /// (only phone numbers are stored, see [`is_phone_number`](crate::store::is_phone_number)).
    pub key: K,
    /// Events (`local_count + remote_count` in a flush).
    pub seen_count: u64,
    /// The oldest (nanosecond precision, as the events carry it).
    pub first_seen: Timestamp,
    /// The newest.
    pub last_seen: Timestamp,
    /// Those this node captured.
    pub local_count: u64,
    /// The newest of those.
    pub local_last_seen: Option<Timestamp>,
    /// Those reported by peers and feeds (the store's `peer_count`).
    pub remote_count: u64,
    /// The newest of those (the store's `peer_last_seen`).
    pub remote_last_seen: Option<Timestamp>,
    /// Their attack types (`AttackType::bit`s).
    pub attack_types: u8,
    /// Transports of the local ones (bits `1 << Transport::index()`: UDP 1, TCP 2, TLS 4).
    pub transports: u8,
    /// Whether one of them proved the source receives our replies (always `false` for numbers).
    pub proven: bool,
    /// Remote authors, in the order they first reported the key, at most [`MAX_ROW_AUTHORS`].
    pub authors: Vec<Arc<str>>,
    /// Whether more remote authors reported the key than `authors` names.
    pub more_authors: bool,
}

impl<K> AggregateRow<K> {
    /// Adds `delta`, a later flush of the same key, to this row: counts add up (saturating),
    /// times widen, bits are OR-ed, new authors are appended while there is room and set
    /// [`more_authors`](Self::more_authors) beyond it.
    pub fn absorb<L>(&mut self, delta: &AggregateRow<L>) {
        self.seen_count = self.seen_count.saturating_add(delta.seen_count);
        self.first_seen = self.first_seen.min(delta.first_seen);
        self.last_seen = self.last_seen.max(delta.last_seen);
        self.local_count = self.local_count.saturating_add(delta.local_count);
        self.local_last_seen = newest(self.local_last_seen, delta.local_last_seen);
        self.remote_count = self.remote_count.saturating_add(delta.remote_count);
        self.remote_last_seen = newest(self.remote_last_seen, delta.remote_last_seen);
        self.attack_types |= delta.attack_types;
        self.transports |= delta.transports;
        self.proven |= delta.proven;
        self.more_authors |= merge_authors(&mut self.authors, &delta.authors);
        self.more_authors |= delta.more_authors;
    }

    /// The same row under another key.
    pub fn with_key<L>(self, key: L) -> AggregateRow<L> {
        AggregateRow {
            key,
            seen_count: self.seen_count,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            local_count: self.local_count,
            local_last_seen: self.local_last_seen,
            remote_count: self.remote_count,
            remote_last_seen: self.remote_last_seen,
            attack_types: self.attack_types,
            transports: self.transports,
            proven: self.proven,
            authors: self.authors,
            more_authors: self.more_authors,
        }
    }
}

/// Every key that changed since the previous flush, one row each (see [`AggregateRow`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregateFlush {
    /// Per source IP.
    pub ips: Vec<AggregateRow<IpAddr>>,
    /// Per called number.
    pub numbers: Vec<AggregateRow<Box<str>>>,
}

impl AggregateFlush {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.numbers.is_empty()
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.ips.len() + self.numbers.len()
    }
}

/// Where the store writer pulls the aggregate rows from: every flush interval, and once more at
/// shutdown after the event queue is drained. Each call hands over everything counted since the
/// previous one; the writer then owns it (written, or retried until it is, see
/// `store::writer`). The live blocklist is the source in the daemon.
pub trait AggregateSource: Send + Sync {
    /// Everything counted since the previous call, one row per key.
    fn take(&self) -> AggregateFlush;
}

/// The newer of two optional times.
fn newest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Appends the authors of `new` missing from `authors` while there is room; whether some did
/// not fit.
fn merge_authors(authors: &mut Vec<Arc<str>>, new: &[Arc<str>]) -> bool {
    let mut overflow = false;
    for author in new {
        if authors.contains(author) {
            continue;
        }
        if authors.len() < MAX_ROW_AUTHORS {
            authors.push(Arc::clone(author));
        } else {
            overflow = true;
        }
    }
    overflow
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid")
    }

    fn row(seconds: i64, local: bool, authors: &[&str]) -> AggregateRow<&'static str> {
        AggregateRow {
            key: "k",
            seen_count: 1,
            first_seen: at(seconds),
            last_seen: at(seconds),
            local_count: u64::from(local),
            local_last_seen: local.then(|| at(seconds)),
            remote_count: u64::from(!local),
            remote_last_seen: (!local).then(|| at(seconds)),
            attack_types: if local { 1 } else { 8 },
            transports: u8::from(local),
            proven: false,
            authors: authors.iter().map(|name| Arc::from(*name)).collect(),
            more_authors: false,
        }
    }

    #[test]
    fn absorbing_adds_counts_widens_times_and_ors_bits() {
        let mut stored = row(100, true, &[]);
        stored.absorb(&row(50, false, &["a"]));
        stored.absorb(&row(200, true, &[]));
        assert_eq!(
            (stored.seen_count, stored.local_count, stored.remote_count),
            (3, 2, 1)
        );
        assert_eq!((stored.first_seen, stored.last_seen), (at(50), at(200)));
        assert_eq!(
            (stored.local_last_seen, stored.remote_last_seen),
            (Some(at(200)), Some(at(50)))
        );
        assert_eq!((stored.attack_types, stored.transports), (9, 1));
        assert_eq!(stored.authors, [Arc::<str>::from("a")]);
    }

    #[test]
    fn authors_merge_in_first_report_order_up_to_the_cap() {
        let mut stored = row(1, false, &["a", "b"]);
        stored.absorb(&row(2, false, &["b", "c"]));
        assert!(!stored.more_authors);
        stored.absorb(&row(3, false, &["d", "e"]));
        let names: Vec<&str> = stored.authors.iter().map(|name| &**name).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert!(stored.more_authors, "e did not fit");
        let mut flagged = row(1, false, &[]);
        flagged.absorb(&AggregateRow {
            more_authors: true,
            ..row(2, false, &[])
        });
        assert!(flagged.more_authors, "the flag carries over");
    }

    #[test]
    fn counts_saturate() {
        let mut stored = AggregateRow {
            seen_count: u64::MAX,
            ..row(1, true, &[])
        };
        stored.absorb(&row(2, true, &[]));
        assert_eq!(stored.seen_count, u64::MAX);
    }
}
