//! Counters the writer thread keeps, read by health checks and metrics without locking.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::telemetry::{Count, Histogram, Readings, Report};

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
    /// How long committed batches took.
    pub batch_duration: Histogram,
    /// Size of the `-wal` file after the last batch, in bytes (a gauge).
    pub wal_bytes: AtomicU64,
}

impl StoreStats {
    /// Counts a committed batch of `events` events that took `took`.
    pub(crate) fn record_batch(&self, events: usize, took: Duration) {
        self.events_stored
            .fetch_add(as_u64(events), Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_batch_micros.store(micros, Ordering::Relaxed);
        self.batch_duration.observe(took);
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

impl Report for StoreStats {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["events", "stored"], &["events", "store_failed"]]
    }

    fn report(&self, out: &mut Readings) {
        const HELP: &str = "Store writer: events committed, events lost with a failed batch, \
                            batches committed, rows deleted by retention.";
        // Name, counter, and whether the health details show it (under `events`).
        #[rustfmt::skip]
        let counters = [
            ("sentrypeer_events_stored_total", &self.events_stored, true),
            ("sentrypeer_events_store_failed_total", &self.events_failed, true),
            ("sentrypeer_store_batches_total", &self.batches, false),
            ("sentrypeer_retention_deleted_total", &self.retention_deleted, false),
        ];
        for (name, counter, in_health) in counters {
            let reading = out.counter(name, HELP, counter.count());
            if in_health {
                reading.health_in("events", &[]);
            }
        }
        let last_batch = self.last_batch_micros.count() as f64 / 1_000_000.0;
        out.gauge_float(
            "sentrypeer_store_last_batch_seconds",
            "How long the last batch took.",
            last_batch,
        );
        out.histogram(
            "sentrypeer_store_batch_duration_seconds",
            "How long batches took.",
            &self.batch_duration,
        );
        out.gauge(
            "sentrypeer_store_wal_bytes",
            "Size of the database's write-ahead log after the last batch, in bytes.",
            self.wal_bytes.count(),
        )
        .health_in("store", &[]);
    }
}

/// `usize` to `u64` (lossless on every supported target).
fn as_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}
