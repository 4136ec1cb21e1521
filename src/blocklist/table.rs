//! The live table of one kind of key: shards, each a mutex over a `hashbrown::HashTable` of
//! keys and [`Entry`]s plus the pending flush tally. A key's hash (keyed SipHash: attackers pick
//! the keys) is computed once and picks both the shard and the slot.
//!
//! At the cap a shard drops its least recently seen sixty-fourth (by `last_seen`, in seconds)
//! before it takes a new key; each eviction is counted and published.

use std::hash::{BuildHasher, RandomState};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashbrown::HashTable;
use jiff::Timestamp;

use super::changes::{ChangeKind, ChangeLog};
use super::entry::{Entry, EntryView, Update};
use super::flush::Pending;
use super::key::TableKey;
use super::reasons::Reasons;

/// Share of a full shard evicted at once: amortises the scan that finds the oldest entries.
const EVICTION_DIVISOR: usize = 64;

/// Pending flush tallies a shard holds, as a multiple of its key cap: keys evicted since the
/// last flush keep their tally, so a flush may carry more keys than the table holds.
pub(crate) const PENDING_CAP_FACTOR: usize = 2;

/// Bits of the hash that pick the shard: above those a table's slot index uses (tables stay
/// far below 2^40 slots) and below the 7 top bits `hashbrown` keeps as each slot's tag.
const SHARD_SHIFT: u32 = 40;

/// What an observation needs besides the key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observed<'a> {
    /// The event, coarse.
    pub(crate) update: Update,
    /// The event's exact time (for the flush tally).
    pub(crate) at: Timestamp,
    /// Counts whose reaching is a change (sorted).
    pub(crate) thresholds: &'a [u32],
}

/// One kind of key's live table.
pub(crate) struct Table<K> {
    shards: Box<[Mutex<Shard<K>>]>,
    hasher: RandomState,
    cap_per_shard: usize,
    evicted: AtomicU64,
    expired: AtomicU64,
    flush_overflow: AtomicU64,
}

struct Shard<K> {
    live: HashTable<(K, Entry)>,
    pending: HashTable<(K, Pending)>,
}

/// Sizes only: the keys are millions (and attacker data).
impl<K> std::fmt::Debug for Table<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("shards", &self.shards.len())
            .field("cap_per_shard", &self.cap_per_shard)
            .finish_non_exhaustive()
    }
}

impl<K: TableKey> Table<K> {
    /// A table of at most about `cap` keys in `shards` shards (a power of two).
    pub(crate) fn new(cap: usize, shards: usize) -> Self {
        let shards = shards.max(1).next_power_of_two();
        Self {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        live: HashTable::new(),
                        pending: HashTable::new(),
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            cap_per_shard: cap.div_ceil(shards).max(1),
            evicted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            flush_overflow: AtomicU64::new(0),
        }
    }

    /// Counts one event for `key`, publishing a change when the key is new or a
    /// verdict-relevant fact changed (under the shard's lock, so a key's changes are published
    /// in the order they happened).
    pub(crate) fn observe(&self, key: K, observed: &Observed<'_>, log: &ChangeLog) {
        let hash = self.hasher.hash_one(&key);
        let mut shard = self.lock(hash);
        self.add_pending(&mut shard, hash, &key, observed);
        if let Some((_, entry)) = shard.live.find_mut(hash, |(k, _)| *k == key) {
            let reasons = entry.apply(&observed.update, observed.thresholds);
            if !reasons.is_empty() {
                let view = entry.view();
                log.publish(ChangeKind::Updated, reasons, key.to_key(), view);
            }
            return;
        }
        let entry = Entry::new(&observed.update);
        self.make_room(&mut shard, Some(log));
        log.publish(ChangeKind::New, Reasons::NONE, key.to_key(), entry.view());
        shard
            .live
            .insert_unique(hash, (key, entry), |(k, _)| self.hasher.hash_one(k));
    }

    /// Puts `entry` in the table (merged into an existing one by adding counts), evicting at
    /// the cap without publishing; whether it was new.
    pub(crate) fn load(&self, key: K, entry: Entry) -> bool {
        let hash = self.hasher.hash_one(&key);
        let mut shard = self.lock(hash);
        if let Some((_, existing)) = shard.live.find_mut(hash, |(k, _)| *k == key) {
            existing.merge(&entry);
            return false;
        }
        self.make_room(&mut shard, None);
        shard
            .live
            .insert_unique(hash, (key, entry), |(k, _)| self.hasher.hash_one(k));
        true
    }

    /// The key's facts.
    pub(crate) fn lookup(&self, key: &K) -> Option<EntryView> {
        let hash = self.hasher.hash_one(key);
        let shard = self.lock(hash);
        shard
            .live
            .find(hash, |(k, _)| k == key)
            .map(|(_, e)| e.view())
    }

    /// Removes every key whose newest event is before `cutoff` (seconds), publishing each
    /// removal; the removals, in publishing order.
    pub(crate) fn expire(
        &self,
        cutoff: u32,
        log: &ChangeLog,
    ) -> Vec<std::sync::Arc<super::Change>> {
        let mut removed = Vec::new();
        for shard in &self.shards {
            let mut shard = lock(shard);
            for (key, entry) in shard.live.extract_if(|(_, entry)| entry.last() < cutoff) {
                removed.push(log.publish(
                    ChangeKind::Expired,
                    Reasons::NONE,
                    key.to_key(),
                    entry.view(),
                ));
            }
        }
        self.expired
            .fetch_add(as_u64(removed.len()), Ordering::Relaxed);
        removed
    }

    /// Hands over every key's pending tally, one shard at a time.
    pub(crate) fn take_pending(&self) -> Vec<(K, Pending)> {
        let mut taken = Vec::new();
        for shard in &self.shards {
            let mut shard = lock(shard);
            taken.extend(shard.pending.drain());
            let used = shard.pending.len();
            if shard.pending.capacity() > 4 * used.max(1024) {
                shard
                    .pending
                    .shrink_to(used, |(k, _)| self.hasher.hash_one(k));
            }
        }
        taken
    }

    /// Calls `f` with each key and its facts, one shard at a time (copied out first, so `f`
    /// never runs under a lock); stops when `f` breaks.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&K, EntryView) -> ControlFlow<()>) {
        for shard in &self.shards {
            let copied: Vec<(K, EntryView)> = lock(shard)
                .live
                .iter()
                .map(|(key, entry)| (key.clone(), entry.view()))
                .collect();
            for (key, view) in copied {
                if f(&key, view).is_break() {
                    return;
                }
            }
        }
    }

    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).live.len()).sum()
    }

    /// Bytes the tables hold (slots and tags, not long numbers' text).
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let shard = lock(shard);
                shard.live.allocation_size() + shard.pending.allocation_size()
            })
            .sum()
    }

    /// The key cap (the shards' caps together).
    pub(crate) fn cap(&self) -> usize {
        self.cap_per_shard * self.shards.len()
    }

    /// Counters: evicted, expired, flush overflow.
    pub(crate) fn counters(&self) -> (u64, u64, u64) {
        (
            self.evicted.load(Ordering::Relaxed),
            self.expired.load(Ordering::Relaxed),
            self.flush_overflow.load(Ordering::Relaxed),
        )
    }

    /// Adds the event to the key's pending tally; past [`PENDING_CAP_FACTOR`] times the key cap of
    /// pending keys, counts it lost.
    fn add_pending(&self, shard: &mut Shard<K>, hash: u64, key: &K, observed: &Observed<'_>) {
        if let Some((_, pending)) = shard.pending.find_mut(hash, |(k, _)| k == key) {
            pending.add(observed.at, &observed.update);
        } else if shard.pending.len() < PENDING_CAP_FACTOR * self.cap_per_shard {
            let pending = Pending::new(observed.at, &observed.update);
            shard
                .pending
                .insert_unique(hash, (key.clone(), pending), |(k, _)| {
                    self.hasher.hash_one(k)
                });
        } else {
            self.flush_overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// At the cap, evicts the least recently seen sixty-fourth of the shard (publishing each
    /// removal when `log` is given).
    fn make_room(&self, shard: &mut Shard<K>, log: Option<&ChangeLog>) {
        if shard.live.len() < self.cap_per_shard {
            return;
        }
        let batch = (self.cap_per_shard / EVICTION_DIVISOR).max(1);
        let mut ages: Vec<u32> = shard.live.iter().map(|(_, entry)| entry.last()).collect();
        let (_, threshold, _) = ages.select_nth_unstable(batch - 1);
        let threshold = *threshold;
        let older = ages.iter().filter(|age| **age < threshold).count();
        let mut at_threshold = batch - older;
        let mut evicted = 0;
        for (key, entry) in shard.live.extract_if(|(_, entry)| {
            let age = entry.last();
            let take = age < threshold || (age == threshold && at_threshold > 0);
            if age == threshold && take {
                at_threshold -= 1;
            }
            take
        }) {
            evicted += 1;
            if let Some(log) = log {
                log.publish(
                    ChangeKind::Evicted,
                    Reasons::NONE,
                    key.to_key(),
                    entry.view(),
                );
            }
        }
        self.evicted.fetch_add(evicted, Ordering::Relaxed);
    }

    fn lock(&self, hash: u64) -> MutexGuard<'_, Shard<K>> {
        let index = usize::try_from(hash >> SHARD_SHIFT).unwrap_or(0) & (self.shards.len() - 1);
        lock(&self.shards[index])
    }
}

/// A shard; one whose holder panicked stays usable (every update leaves it consistent).
fn lock<K>(shard: &Mutex<Shard<K>>) -> MutexGuard<'_, Shard<K>> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
