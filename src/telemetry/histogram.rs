//! A histogram of durations over fixed buckets, kept in atomics (observing never locks).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Count;

/// Upper bounds of the buckets, in seconds: from 100 µs (a small API answer, a small batch) to
/// 2.5 s (a batch waiting on a slow disk).
const BUCKET_BOUNDS: [f64; 13] = [
    0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// How long something took, counted per bucket (Prometheus `le`: at most the bound).
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); longer ones are only in `count`.
    buckets: [AtomicU64; BUCKET_BOUNDS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// A histogram's values at one moment.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Totals {
    /// Sum of the observations, in seconds.
    pub(super) sum: f64,
    /// Observations.
    pub(super) count: u64,
    /// Upper bound and observations of each bucket (not cumulative).
    pub(super) buckets: Vec<(f64, u64)>,
}

impl Histogram {
    /// Counts one duration.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(bucket) = BUCKET_BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .and_then(|index| self.buckets.get(index))
        {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Current values. The counters are read one by one while others may observe: the count is
    /// raised to the buckets' total if a concurrent observation reached its bucket first.
    pub(super) fn totals(&self) -> Totals {
        let buckets: Vec<(f64, u64)> = BUCKET_BOUNDS
            .into_iter()
            .zip(self.buckets.count())
            .collect();
        let in_buckets: u64 = buckets.iter().map(|(_, count)| count).sum();
        Totals {
            sum: self.sum_nanos.count() as f64 / 1e9,
            count: self.count.count().max(in_buckets),
            buckets,
        }
    }
}
