//! The live blocklist: the one in-memory truth for "is this IP / number bad", updated from the
//! capture path without waiting, with point lookups well under a microsecond, a numbered change
//! stream, lossless per-key tallies for the store's aggregates, and the verdict policy. No SQL
//! here: the store loads and flushes it with plain values.
//!
//! # What it holds
//!
//! Every source IP and every called phone number (the API's rule, [`Key::number`]) seen within
//! the retention window, each with first and last seen (whole seconds), local and remote event
//! counts (saturating at `u32::MAX` each; the flushed tallies are exact `u64`s), the attack types
//! seen, up to four distinct remote authors (P2P PeerIds, feed names such as `opendht`) plus
//! a "more" flag, and for IPs the transports of local events and whether the source proved it
//! receives our replies. 48 bytes per IP and 56 per number in the table.
//!
//! # Bounds, and what happens at them
//!
//! | What | Default | At the bound |
//! |---|---|---|
//! | IPs | [`DEFAULT_MAX_IPS`] (1,048,576) | the shard taking a new key first evicts its least recently seen 1/64 (by `last_seen`); each is counted (`evicted_ips`) and published as [`ChangeKind::Evicted`] |
//! | Numbers | [`DEFAULT_MAX_NUMBERS`] (5,242,880) | as for IPs (`evicted_numbers`) |
//! | Pending flush tallies | one per key seen since the last flush, at most twice the key cap (evicted keys keep theirs) | further new keys' events are counted in `flush_overflow` and not flushed (needs a flusher stalled for millions of new keys) |
//! | Remote authors | [`MAX_AUTHORS`] names of ≤ [`MAX_AUTHOR_NAME_BYTES`] bytes | events count, but not as an author (`authors_refused`): such a report can only stay out of a quorum |
//! | Replay ring | [`DEFAULT_REPLAY_WINDOW`] changes | older ids get [`ReplayError::TooOld`] (start over) |
//! | Subscriber lag | [`DEFAULT_SUBSCRIBER_LAG`] changes | the subscriber is ended ([`SubscriptionEnded::TooSlow`]) and counted (`subscribers_dropped`); publishing never waits |
//!
//! Caps are split evenly over the shards ([`DEFAULT_SHARDS`]), so eviction starts when one shard
//! is full: within a fraction of a percent of the cap for large caps.
//!
//! # Changes
//!
//! [`ChangeKind::New`] (first event of a key), [`ChangeKind::Updated`] with [`Reasons`] (a count
//! reached one of `count_thresholds`, a new attack type, a new origin or author, newly
//! proven), [`ChangeKind::Expired`] (retention), [`ChangeKind::Evicted`] (cap). Each carries a
//! sequence number one above the previous (starting at the start time in microseconds) and the
//! key's facts after the change. A key's changes are published in the order they happened.
//!
//! # Verdict policy
//!
//! A [`Policy`] per consumer decides what becomes a verdict (everything is still recorded):
//!
//! | Knob | Default | Where |
//! |---|---|---|
//! | special-purpose addresses (IANA registries, multicast) count | no | [`VerdictOptions::include_special_addresses`] |
//! | the node's own addresses | never a verdict | [`VerdictOptions::own_addresses`] |
//! | never-list: CIDRs, numbers, prefixes (`0900*`) | empty | [`VerdictOptions::never`], and per consumer [`ConsumerOptions::never`] |
//! | trusted authors (reports count alone) | none | [`VerdictOptions::trusted_authors`] |
//! | distinct authors that make untrusted reports count | [`DEFAULT_PEER_QUORUM`] (2) | [`VerdictOptions::peer_quorum`] |
//! | minimum counted events | 1 | [`ConsumerOptions::min_count`] |
//! | maximum age of the newest counted event | none (retention) | [`ConsumerOptions::max_age`] |
//! | origins that count | local and remote | [`ConsumerOptions::origins`] |
//! | UDP-only sources | listed; BGP: only once proven | [`ConsumerOptions::udp_only`] |
//! | SIP agent never-block numbers | [`EMERGENCY_NUMBERS`] | [`ConsumerOptions::sip_agent`] |
//!
//! # Figures
//!
//! `bench/blocklist.rs` (2 cores shared with other work, CPU time, medians of 3): `observe`
//! about 1.1 µs per event on one thread and on each of two (memory-bound: the probes' cache
//! misses); lookups among 1 M IPs + 5 M numbers 56 ns (IP) and 107 ns (number) for hot keys,
//! 380 and 554 ns for random ones (cache and TLB misses); 100 bytes per key in the tables,
//! 126 bytes of RSS.
//!
//! # Use
//!
//! - capture path: [`Blocklist::observe`] (any thread; a shard lock held for a hash-table update);
//! - consumers: [`Blocklist::lookup_ip`] / [`Blocklist::lookup_number`], [`Blocklist::subscribe`]
//!   / [`Blocklist::resume`], [`Blocklist::for_each_ip`] / [`Blocklist::for_each_number`], and a
//!   [`Policy`] per consumer;
//! - the owning task: [`Blocklist::take_changed`] every ≤ 1 s into the store,
//!   [`Blocklist::expire`] periodically, [`Blocklist::load_ips`] / [`Blocklist::load_numbers`]
//!   at start.

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

mod authors;
mod changes;
mod entry;
mod flush;
mod intake;
mod key;
mod options;
mod policy;
mod reasons;
mod report;
mod table;

pub use authors::{AuthorId, AuthorSet, MAX_AUTHOR_NAME_BYTES, MAX_AUTHORS, MAX_TRACKED_AUTHORS};
pub use changes::{Change, ChangeKind, ReplayError, Subscription, SubscriptionEnded};
pub use entry::{EntryView, ObservedOrigin, transport_bit};
pub use flush::{AggregateRow, Flush, LoadReport};
pub use intake::Intake;
pub use key::Key;
pub use options::{
    BlocklistOptions, BlocklistStats, DEFAULT_COUNT_THRESHOLDS, DEFAULT_MAX_IPS,
    DEFAULT_MAX_NUMBERS, DEFAULT_REPLAY_WINDOW, DEFAULT_SHARDS, DEFAULT_SUBSCRIBER_LAG,
    Observation,
};
pub use policy::{
    ConsumerOptions, CountedOrigins, DEFAULT_PEER_QUORUM, EMERGENCY_NUMBERS, MULTICAST_V4,
    NeverList, NumberRule, NumberRuleError, Policy, Refusal, SPECIAL_V4, SPECIAL_V6, SpecialBlock,
    UdpOnlySources, Verdict, VerdictOptions, special_blocks, special_purpose,
};
pub use reasons::Reasons;

use authors::Authors;
use changes::ChangeLog;
use entry::{Entry, Side, Update, to_seconds};
use key::{IpKey, NumberKey, TableKey};
use table::{Observed, Table};

use crate::event::Transport;

/// The live blocklist. Share it as `Arc<Blocklist>`; every method takes `&self`.
#[derive(Debug)]
pub struct Blocklist {
    ips: Table<IpKey>,
    numbers: Table<NumberKey>,
    authors: Authors,
    log: ChangeLog,
    thresholds: Vec<u32>,
    retention: Option<Duration>,
}

impl Blocklist {
    /// An empty blocklist.
    pub fn new(options: &BlocklistOptions) -> Self {
        let mut thresholds = options.count_thresholds.clone();
        thresholds.sort_unstable();
        thresholds.dedup();
        Self {
            ips: Table::new(options.max_ips, options.shards),
            numbers: Table::new(options.max_numbers, options.shards),
            authors: Authors::default(),
            log: ChangeLog::new(
                options.replay_window,
                options.subscriber_lag,
                Timestamp::now(),
            ),
            thresholds,
            retention: options.retention,
        }
    }

    /// Counts one event for its source IP and its called number (when a phone number). Never
    /// waits on I/O; holds one shard lock at a time for a table update (and publishing a
    /// change, when there is one).
    pub fn observe(&self, observation: &Observation<'_>) {
        let side = match observation.origin {
            ObservedOrigin::Local { transport, proven } => Side::Local {
                transport_bit: transport_bit(transport),
                proven: proven || transport != Transport::Udp,
            },
            ObservedOrigin::Remote { author } => Side::Remote {
                author: self.authors.intern(author),
            },
        };
        let observed = Observed {
            update: Update {
                at: to_seconds(observation.at),
                attack_bit: observation.attack_type.bit(),
                side,
            },
            at: observation.at,
            thresholds: &self.thresholds,
        };
        if let Some(ip) = observation.source {
            self.ips.observe(IpKey::new(ip), &observed, &self.log);
        }
        if let Some(number) = observation.called_number.and_then(NumberKey::new) {
            // Proof and transports describe the source, not the number.
            let mut observed = observed;
            if let Side::Local { proven, .. } = &mut observed.update.side {
                *proven = false;
            }
            self.numbers.observe(number, &observed, &self.log);
        }
    }

    /// What the list holds for `ip` (IPv4-mapped IPv6 as IPv4).
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<EntryView> {
        self.ips.lookup(&IpKey::new(ip))
    }

    /// What the list holds for `number` (exact text; `None` for anything but a phone number).
    pub fn lookup_number(&self, number: &str) -> Option<EntryView> {
        self.numbers.lookup(&NumberKey::new(number)?)
    }

    /// What the list holds for `key`.
    pub fn lookup(&self, key: &Key) -> Option<EntryView> {
        match key {
            Key::Ip(ip) => self.lookup_ip(*ip),
            Key::Number(number) => self.lookup_number(number),
        }
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> Subscription {
        self.log.subscribe()
    }

    /// The changes after `last_seen` (an SSE `Last-Event-ID`) still in the replay window, and
    /// a subscription to the ones after them: together, every change after `last_seen` once.
    ///
    /// # Errors
    ///
    /// [`ReplayError`] when `last_seen` left the window or was never issued: start over.
    pub fn resume(&self, last_seen: u64) -> Result<(Vec<Arc<Change>>, Subscription), ReplayError> {
        self.log.resume(last_seen)
    }

    /// Everything counted since the previous call, per key, for the store's aggregates.
    pub fn take_changed(&self) -> Flush {
        let name = |id| self.authors.name(id);
        Flush {
            ips: (self.ips.take_pending().into_iter())
                .map(|(key, pending)| pending.row(key.ip(), name))
                .collect(),
            numbers: (self.numbers.take_pending().into_iter())
                .map(|(key, pending)| pending.row(key.text(), name))
                .collect(),
        }
    }

    /// Removes every key whose newest event is older than the retention window before `now`,
    /// publishing each as [`ChangeKind::Expired`]; the removals. Nothing without retention.
    pub fn expire(&self, now: Timestamp) -> Vec<Arc<Change>> {
        let Some(retention) = self.retention else {
            return Vec::new();
        };
        let window = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        let cutoff = now.as_second().saturating_sub(window);
        let cutoff = u32::try_from(cutoff.max(0)).unwrap_or(u32::MAX);
        let mut removed = self.ips.expire(cutoff, &self.log);
        removed.extend(self.numbers.expire(cutoff, &self.log));
        removed
    }

    /// Fills the IP table from the store's rows (no changes published, nothing pending).
    pub fn load_ips(&self, rows: impl IntoIterator<Item = AggregateRow<IpAddr>>) -> LoadReport {
        self.load(&self.ips, rows, |ip| Some(IpKey::new(*ip)))
    }

    /// Fills the number table from the store's rows; rows that are not phone numbers are
    /// skipped.
    pub fn load_numbers<S: AsRef<str>>(
        &self,
        rows: impl IntoIterator<Item = AggregateRow<S>>,
    ) -> LoadReport {
        self.load(&self.numbers, rows, |number| {
            NumberKey::new(number.as_ref())
        })
    }

    /// Calls `f` with each IP and its facts (shard by shard, never under a lock), until `f`
    /// breaks. Subscribe first to also get what changes meanwhile.
    pub fn for_each_ip(&self, mut f: impl FnMut(IpAddr, EntryView) -> ControlFlow<()>) {
        self.ips.for_each(|key, view| f(key.ip(), view));
    }

    /// [`Blocklist::for_each_ip`] for numbers.
    pub fn for_each_number(&self, mut f: impl FnMut(&str, EntryView) -> ControlFlow<()>) {
        self.numbers.for_each(|key, view| f(&key.text(), view));
    }

    /// The id of a remote author's name, added to the author table when new (for trust lists).
    pub fn author_id(&self, name: &str) -> Option<AuthorId> {
        self.authors.intern(name)
    }

    /// The name of an author id.
    pub fn author_name(&self, id: AuthorId) -> Option<Arc<str>> {
        self.authors.name(id)
    }

    /// Counters and sizes.
    pub fn stats(&self) -> BlocklistStats {
        let (evicted_ips, expired_ips, overflow_ips) = self.ips.counters();
        let (evicted_numbers, expired_numbers, overflow_numbers) = self.numbers.counters();
        BlocklistStats {
            ips: self.ips.len(),
            numbers: self.numbers.len(),
            evicted_ips,
            evicted_numbers,
            expired: expired_ips + expired_numbers,
            flush_overflow: overflow_ips + overflow_numbers,
            authors: self.authors.len(),
            authors_refused: self.authors.refused(),
            subscribers_dropped: self.log.dropped_subscribers(),
            subscribers: self.log.subscribers(),
            next_seq: self.log.next_seq(),
        }
    }

    /// The key caps (IPs, numbers) as the shards enforce them.
    pub fn caps(&self) -> (usize, usize) {
        (self.ips.cap(), self.numbers.cap())
    }

    /// Bytes the tables have allocated (for benchmarks; long numbers' text not included).
    pub fn allocated_bytes(&self) -> usize {
        self.ips.allocated_bytes() + self.numbers.allocated_bytes()
    }

    fn load<K: TableKey, S>(
        &self,
        table: &Table<K>,
        rows: impl IntoIterator<Item = AggregateRow<S>>,
        key: impl Fn(&S) -> Option<K>,
    ) -> LoadReport {
        let (evicted_before, _, _) = table.counters();
        let mut report = LoadReport::default();
        for row in rows {
            let Some(key) = key(&row.key).filter(|_| row.local_count + row.remote_count > 0) else {
                report.skipped += 1;
                continue;
            };
            table.load(key, Entry::loaded(&self.loaded_view(&row)));
            report.loaded += 1;
        }
        report.evicted = table.counters().0 - evicted_before;
        report
    }

    fn loaded_view<S>(&self, row: &AggregateRow<S>) -> EntryView {
        let saturate = |count: u64| u32::try_from(count).unwrap_or(u32::MAX);
        let mut interned: Vec<u16> = (row.authors.iter())
            .filter_map(|name| self.authors.intern(name).map(AuthorId::get))
            .collect();
        interned.sort_unstable();
        interned.dedup();
        let mut ids = [0; MAX_TRACKED_AUTHORS];
        for (slot, id) in ids.iter_mut().zip(&interned) {
            *slot = *id;
        }
        EntryView {
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            local_count: saturate(row.local_count),
            local_last_seen: row.local_last_seen,
            remote_count: saturate(row.remote_count),
            remote_last_seen: row.remote_last_seen,
            attack_types: row.attack_types,
            transports: row.transports,
            proven: row.proven,
            authors: AuthorSet::new(
                ids,
                row.more_authors || interned.len() > MAX_TRACKED_AUTHORS,
            ),
        }
    }
}

#[cfg(test)]
mod tests;
