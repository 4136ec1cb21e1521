//! Counters the writer thread keeps, read by health checks and metrics without locking.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the store writer has done since start-up. Shared as `Arc<StoreStats>`; every field only
/// grows, except [`StoreStats::last_batch_micros`].
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Events committed to the database.
    pub events_stored: AtomicU64,
    /// Events lost because their batch failed (disk full, `SQLITE_BUSY`, ...).
    pub events_failed: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Batches that failed and were dropped.
    pub batches_failed: AtomicU64,
    /// How long the last committed batch took, in microseconds.
    pub last_batch_micros: AtomicU64,
    /// Rows deleted by retention.
    pub retention_deleted: AtomicU64,
}

/// A point-in-time copy of [`StoreStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStatsSnapshot {
    /// See [`StoreStats::events_stored`].
    pub events_stored: u64,
    /// See [`StoreStats::events_failed`].
    pub events_failed: u64,
    /// See [`StoreStats::batches`].
    pub batches: u64,
    /// See [`StoreStats::batches_failed`].
    pub batches_failed: u64,
    /// See [`StoreStats::last_batch_micros`].
    pub last_batch_micros: u64,
    /// See [`StoreStats::retention_deleted`].
    pub retention_deleted: u64,
}

impl StoreStats {
    /// Reads every counter (each one atomically; the set is not a single atomic snapshot).
    pub fn snapshot(&self) -> StoreStatsSnapshot {
        StoreStatsSnapshot {
            events_stored: self.events_stored.load(Ordering::Relaxed),
            events_failed: self.events_failed.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            batches_failed: self.batches_failed.load(Ordering::Relaxed),
            last_batch_micros: self.last_batch_micros.load(Ordering::Relaxed),
            retention_deleted: self.retention_deleted.load(Ordering::Relaxed),
        }
    }

    /// Counts a committed batch of `events` events that took `took`.
    pub(crate) fn record_batch(&self, events: usize, took: Duration) {
        self.events_stored
            .fetch_add(as_u64(events), Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_batch_micros.store(micros, Ordering::Relaxed);
    }

    /// Counts a dropped batch of `events` events.
    pub(crate) fn record_failed_batch(&self, events: usize) {
        self.events_failed
            .fetch_add(as_u64(events), Ordering::Relaxed);
        self.batches_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts rows deleted by retention.
    pub(crate) fn record_retention(&self, deleted: u64) {
        self.retention_deleted.fetch_add(deleted, Ordering::Relaxed);
    }
}

/// `usize` to `u64` (lossless on every supported target).
fn as_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}
