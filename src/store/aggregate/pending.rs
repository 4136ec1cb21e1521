//! Aggregate rows gathered by key before they are written: a flush the store could not write
//! yet (kept and merged with the next ones until it can), or, without an aggregate source, the
//! tally of the events a batch stored.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::net::IpAddr;

use rusqlite::Transaction;

use super::write::{RowsWritten, write_rows};
use super::{AggregateFlush, AggregateRow};
use crate::event::{BadActor, Origin, Transport, canonical_ip};
use crate::store::schema::is_phone_number;

/// Rows by key, each key once.
#[derive(Debug, Default)]
pub(crate) struct PendingRows {
    ips: HashMap<IpAddr, AggregateRow<IpAddr>>,
    numbers: HashMap<Box<str>, AggregateRow<Box<str>>>,
}

impl PendingRows {
    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.ips.len() + self.numbers.len()
    }

    /// Whether no key is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.numbers.is_empty()
    }

    /// Drops every row.
    pub(crate) fn clear(&mut self) {
        self.ips.clear();
        self.numbers.clear();
    }

    /// Merges `flush` in; a key not held yet is taken only while fewer than `max_keys` are.
    /// Returns how many rows were left out.
    pub(crate) fn absorb(&mut self, flush: AggregateFlush, max_keys: usize) -> u64 {
        let mut left_out = 0;
        for row in flush.ips {
            let room = self.len() < max_keys;
            left_out += u64::from(!merge(&mut self.ips, row.key, row, room));
        }
        for row in flush.numbers {
            let room = self.len() < max_keys;
            left_out += u64::from(!merge(&mut self.numbers, row.key.clone(), row, room));
        }
        left_out
    }

    /// Counts one stored event, as the live blocklist would: for its source IP and, when it is
    /// a phone number, its called number.
    pub(crate) fn add_event(&mut self, event: &BadActor) {
        let ip = canonical_ip(event.source.ip());
        merge(&mut self.ips, ip, row_of(event, ip, true), true);
        if is_phone_number(&event.called_number) {
            let number: Box<str> = event.called_number.as_str().into();
            merge(
                &mut self.numbers,
                number.clone(),
                row_of(event, number, false),
                true,
            );
        }
    }

    /// Writes every row inside `tx` (they stay held: clear them once `tx` commits).
    pub(crate) fn write(&self, tx: &Transaction<'_>) -> Result<RowsWritten, rusqlite::Error> {
        write_rows(tx, self.ips.values(), self.numbers.values())
    }
}

/// Absorbs `row` into `key`'s row, or holds it when `room`; whether it is held.
fn merge<K: Eq + Hash>(
    rows: &mut HashMap<K, AggregateRow<K>>,
    key: K,
    row: AggregateRow<K>,
    room: bool,
) -> bool {
    match rows.entry(key) {
        Entry::Occupied(mut held) => {
            held.get_mut().absorb(&row);
            true
        }
        Entry::Vacant(slot) if room => {
            slot.insert(row);
            true
        }
        Entry::Vacant(_) => false,
    }
}

/// The row of one event under `key`; `source` says whether the key is its source IP (proof and
/// transports describe the source, not the number).
fn row_of<K>(event: &BadActor, key: K, source: bool) -> AggregateRow<K> {
    let at = event.event_timestamp;
    let (local, authors) = match &event.origin {
        Origin::Local => (true, Vec::new()),
        Origin::Peer(peer) if peer.peer_id.is_empty() => (false, Vec::new()),
        Origin::Peer(peer) => (false, vec![peer.peer_id.as_str().into()]),
        // Unsigned: every OpenDHT value is one author, as the blocklist counts it.
        Origin::OpenDht => (false, vec![crate::event::OPENDHT_ORIGIN.into()]),
    };
    AggregateRow {
        key,
        seen_count: 1,
        first_seen: at,
        last_seen: at,
        local_count: u64::from(local),
        local_last_seen: local.then_some(at),
        remote_count: u64::from(!local),
        remote_last_seen: (!local).then_some(at),
        attack_types: event.attack.attack_type.bit(),
        transports: if local {
            1 << event.transport.index()
        } else {
            0
        },
        proven: source && local && event.transport != Transport::Udp,
        authors,
        more_authors: false,
    }
}
