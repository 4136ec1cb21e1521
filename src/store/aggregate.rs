//! Keeping the aggregate tables `ip_addresses` and `called_numbers` up to date: the writer adds
//! each batch's events to a [`BatchTally`] (one entry per distinct key), then writes one UPSERT
//! per key in the same transaction as the batch's `honey` rows, so the aggregates never disagree
//! with the events they count.
//!
//! # What the counters mean
//!
//! A row lives from the first event of its key until retention finds its `last_seen` older than
//! the window (its events are gone by then). `seen_count` counts the key's events since that row
//! was created, so for a key that stays active within the window it keeps counting events that
//! retention has already deleted from `honey`. The local and peer halves follow the same rule on
//! their own: retention resets `local_count`/`local_last_seen` (or the peer pair) to 0/NULL when
//! that side has been silent for longer than the window.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;

use jiff::Timestamp;
use rusqlite::{Transaction, params};

use super::schema::is_phone_number;
use crate::event::{BadActor, Origin, format_timestamp};

/// Adds one batch's tally for a source IP (`?1`). `max()` with a NULL argument is NULL in SQLite,
/// hence the `coalesce` for the nullable per-origin timestamps. `attack_types` (`?9`, the set of
/// attack types seen as `AttackType::bit`s) is OR-ed in.
const UPSERT_IP: &str = "
INSERT INTO ip_addresses (
    source_ip, seen_count, first_seen, last_seen,
    local_count, local_last_seen, peer_count, peer_last_seen, attack_types)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (source_ip) DO UPDATE SET
    attack_types = attack_types | excluded.attack_types,
    seen_count = seen_count + excluded.seen_count,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen),
    local_count = local_count + excluded.local_count,
    local_last_seen = coalesce(max(local_last_seen, excluded.local_last_seen),
                               local_last_seen, excluded.local_last_seen),
    peer_count = peer_count + excluded.peer_count,
    peer_last_seen = coalesce(max(peer_last_seen, excluded.peer_last_seen),
                              peer_last_seen, excluded.peer_last_seen)";

/// Adds one batch's tally for a called phone number (`?1`); see [`UPSERT_IP`].
const UPSERT_NUMBER: &str = "
INSERT INTO called_numbers (
    called_number, seen_count, first_seen, last_seen,
    local_count, local_last_seen, peer_count, peer_last_seen)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (called_number) DO UPDATE SET
    seen_count = seen_count + excluded.seen_count,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen),
    local_count = local_count + excluded.local_count,
    local_last_seen = coalesce(max(local_last_seen, excluded.local_last_seen),
                               local_last_seen, excluded.local_last_seen),
    peer_count = peer_count + excluded.peer_count,
    peer_last_seen = coalesce(max(peer_last_seen, excluded.peer_last_seen),
                              peer_last_seen, excluded.peer_last_seen)";

/// One key's events within a batch.
#[derive(Debug, Clone, Copy)]
struct Tally {
    /// Events.
    count: u64,
    /// Oldest event.
    first: Timestamp,
    /// Newest event.
    last: Timestamp,
    /// Events captured here.
    local_count: u64,
    /// Newest event captured here.
    local_last: Option<Timestamp>,
    /// Events from peers.
    peer_count: u64,
    /// Newest event from a peer.
    peer_last: Option<Timestamp>,
}

impl Tally {
    /// The tally of one event.
    fn new(at: Timestamp, local: bool) -> Self {
        let mut tally = Self {
            count: 0,
            first: at,
            last: at,
            local_count: 0,
            local_last: None,
            peer_count: 0,
            peer_last: None,
        };
        tally.add(at, local);
        tally
    }

    /// Counts one more event.
    fn add(&mut self, at: Timestamp, local: bool) {
        self.count += 1;
        self.first = self.first.min(at);
        self.last = self.last.max(at);
        let (count, last) = if local {
            (&mut self.local_count, &mut self.local_last)
        } else {
            (&mut self.peer_count, &mut self.peer_last)
        };
        *count += 1;
        *last = Some(last.map_or(at, |seen| seen.max(at)));
    }

    /// Parameters `?2`..`?8` of the UPSERTs.
    fn columns(
        &self,
    ) -> (
        i64,
        String,
        String,
        i64,
        Option<String>,
        i64,
        Option<String>,
    ) {
        (
            as_i64(self.count),
            format_timestamp(self.first),
            format_timestamp(self.last),
            as_i64(self.local_count),
            self.local_last.map(format_timestamp),
            as_i64(self.peer_count),
            self.peer_last.map(format_timestamp),
        )
    }
}

/// A batch's events summed per source IP and per called phone number.
#[derive(Debug, Default)]
pub(crate) struct BatchTally<'a> {
    /// Per source IP (the address `honey.source_ip` stores as text).
    ips: HashMap<IpAddr, Tally>,
    /// Per called number, phone numbers only.
    numbers: HashMap<&'a str, Tally>,
    /// Per source IP, the attack types of its events (`AttackType::bit`s).
    ip_attack_types: HashMap<IpAddr, u8>,
}

impl<'a> BatchTally<'a> {
    /// An empty tally with room for `events` distinct keys of each kind.
    pub(crate) fn with_capacity(events: usize) -> Self {
        Self {
            ips: HashMap::with_capacity(events),
            numbers: HashMap::with_capacity(events),
            ip_attack_types: HashMap::with_capacity(events),
        }
    }

    /// Counts `event` for its source IP and, when it is a phone number, its called number.
    pub(crate) fn add(&mut self, event: &'a BadActor) {
        let at = event.event_timestamp;
        let local = event.origin == Origin::Local;
        count_into(&mut self.ips, event.source.ip(), at, local);
        *self.ip_attack_types.entry(event.source.ip()).or_default() |=
            event.attack.attack_type.bit();
        if is_phone_number(&event.called_number) {
            count_into(&mut self.numbers, event.called_number.as_str(), at, local);
        }
    }

    /// Writes one UPSERT per distinct key, inside the batch's transaction `tx`.
    pub(crate) fn write(&self, tx: &Transaction<'_>) -> Result<(), rusqlite::Error> {
        let mut upsert = tx.prepare_cached(UPSERT_IP)?;
        for (ip, tally) in &self.ips {
            let (count, first, last, local, local_last, peer, peer_last) = tally.columns();
            upsert.execute(params![
                ip.to_string(),
                count,
                first,
                last,
                local,
                local_last,
                peer,
                peer_last,
                self.ip_attack_types.get(ip).copied().unwrap_or_default()
            ])?;
        }
        let mut upsert = tx.prepare_cached(UPSERT_NUMBER)?;
        for (number, tally) in &self.numbers {
            let (count, first, last, local, local_last, peer, peer_last) = tally.columns();
            upsert.execute(params![
                number, count, first, last, local, local_last, peer, peer_last
            ])?;
        }
        Ok(())
    }
}

/// Adds one event at `at` to `key`'s tally in `tallies`.
fn count_into<K: Eq + std::hash::Hash>(
    tallies: &mut HashMap<K, Tally>,
    key: K,
    at: Timestamp,
    local: bool,
) {
    match tallies.entry(key) {
        Entry::Occupied(mut entry) => entry.get_mut().add(at, local),
        Entry::Vacant(entry) => {
            entry.insert(Tally::new(at, local));
        }
    }
}

/// A counter as an SQLite integer (a batch never comes near `i64::MAX`).
fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn tally_keeps_extremes_and_the_origin_split() {
        let mut tally = Tally::new(at("2024-01-02T00:00:00Z"), true);
        tally.add(at("2024-01-01T00:00:00Z"), false);
        tally.add(at("2024-01-03T00:00:00Z"), true);
        tally.add(at("2024-01-02T12:00:00Z"), false);
        let (count, first, last, local, local_last, peer, peer_last) = tally.columns();
        assert_eq!((count, local, peer), (4, 2, 2));
        assert_eq!(first, "2024-01-01 00:00:00.000000000");
        assert_eq!(last, "2024-01-03 00:00:00.000000000");
        assert_eq!(local_last.as_deref(), Some("2024-01-03 00:00:00.000000000"));
        assert_eq!(peer_last.as_deref(), Some("2024-01-02 12:00:00.000000000"));
    }

    #[test]
    fn one_sided_tally_leaves_the_other_side_empty() {
        let (_, _, _, local, local_last, peer, peer_last) =
            Tally::new(at("2024-01-02T00:00:00Z"), false).columns();
        assert_eq!((local, local_last, peer), (0, None, 1));
        assert!(peer_last.is_some());
    }
}
