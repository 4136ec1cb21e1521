//! What the writer does when batches fail (disk full, file-size limit, read-only or vanished
//! directory, I/O error): retry a batch a few times while the store was healthy, so a short
//! outage loses nothing; once it is failing, try each later batch once (so the queue keeps
//! draining and capture never waits) and report the outage once, then once a minute, then its
//! end.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{debug, error, info};

/// Waits before each retry of a batch that failed while the store was healthy (about 1.4 s in
/// all; the event queue absorbs that much of a flood before it drops and counts).
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(1000),
];

/// How often a continuing outage is reported again.
const REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// The writer's view of whether the database takes writes.
#[derive(Debug)]
pub(super) struct Outage {
    path: PathBuf,
    /// When the current outage began; `None` while batches are stored.
    since: Option<Instant>,
    last_report: Instant,
    /// Whether this outage's dropped batches, and its held aggregate rows, were reported yet:
    /// each is reported the first time (whichever fails first), then once per interval.
    batches_reported: bool,
    aggregates_reported: bool,
    failed_batches: u64,
    failed_events: u64,
}

impl Outage {
    /// A healthy store writing to `path`.
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            since: None,
            last_report: Instant::now(),
            batches_reported: false,
            aggregates_reported: false,
            failed_batches: 0,
            failed_events: 0,
        }
    }

    /// Runs `write` until it succeeds, retrying with back-off only while no outage is known.
    pub(super) fn attempt<T, E: std::fmt::Display>(
        &self,
        mut write: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut result = write();
        if self.since.is_some() {
            return result;
        }
        for delay in RETRY_DELAYS {
            let Err(err) = &result else {
                break;
            };
            debug!(error = %err, retry_in = ?delay, "storing a batch failed; retrying");
            thread::sleep(delay);
            result = write();
        }
        result
    }

    /// A batch of `events` events was dropped because of `err`.
    pub(super) fn failed(&mut self, err: &dyn std::fmt::Display, events: usize) {
        self.failed_batches += 1;
        self.failed_events += u64::try_from(events).unwrap_or(u64::MAX);
        let first = !std::mem::replace(&mut self.batches_reported, true);
        if self.report_due(first) {
            error!(
                path = %self.path.display(),
                error = %err,
                events,
                failed_batches = self.failed_batches,
                failed_events = self.failed_events,
                "cannot store events in the database; they are dropped and counted until it takes writes again (capture goes on)"
            );
        } else {
            debug!(error = %err, events, "batch dropped: the database still refuses writes");
        }
    }

    /// An aggregate flush could not be written because of `err`; `held` rows wait for the
    /// next try.
    pub(super) fn aggregates_failed(&mut self, err: &dyn std::fmt::Display, held: usize) {
        let first = !std::mem::replace(&mut self.aggregates_reported, true);
        if self.report_due(first) {
            error!(
                path = %self.path.display(),
                error = %err,
                held,
                "cannot store aggregate rows in the database; they are held and retried every flush interval (capture goes on)"
            );
        } else {
            debug!(error = %err, held, "aggregate flush held: the database still refuses writes");
        }
    }

    /// Marks the store as failing; whether the failure is to be reported now (`first`: the
    /// first of its kind in this outage; then once per [`REPORT_INTERVAL`]).
    fn report_due(&mut self, first: bool) -> bool {
        let now = Instant::now();
        self.since.get_or_insert(now);
        if first || now.duration_since(self.last_report) >= REPORT_INTERVAL {
            self.last_report = now;
            true
        } else {
            false
        }
    }

    /// A batch was stored; ends an outage if there was one.
    pub(super) fn stored(&mut self) {
        if let Some(since) = self.since.take() {
            info!(
                path = %self.path.display(),
                failed_batches = self.failed_batches,
                failed_events = self.failed_events,
                outage_seconds = since.elapsed().as_secs(),
                "database takes writes again"
            );
            self.failed_batches = 0;
            self.failed_events = 0;
            self.batches_reported = false;
            self.aggregates_reported = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_healthy_store_retries_and_a_failing_one_does_not() {
        let mut outage = Outage::new(Path::new("test.db"));
        let calls = Cell::new(0);
        let flaky = || {
            calls.set(calls.get() + 1);
            if calls.get() < 3 { Err("busy") } else { Ok(()) }
        };
        assert_eq!(outage.attempt(flaky), Ok(()));
        assert_eq!(calls.get(), 3, "two retries were enough");

        calls.set(0);
        let broken = || {
            calls.set(calls.get() + 1);
            Err::<(), _>("disk full")
        };
        assert!(outage.attempt(broken).is_err());
        assert_eq!(calls.get(), 1 + RETRY_DELAYS.len());
        outage.failed(&"disk full", 10);

        calls.set(0);
        assert!(outage.attempt(broken).is_err());
        assert_eq!(calls.get(), 1, "no retries during an outage");
        outage.failed(&"disk full", 5);
        assert_eq!(outage.failed_events, 15);

        outage.stored();
        assert!(outage.since.is_none());
        assert_eq!(outage.failed_events, 0);
    }

    #[test]
    fn dropped_batches_are_reported_even_when_held_aggregates_were_first() {
        let mut outage = Outage::new(Path::new("test.db"));
        assert!(outage.report_due(true), "the first failure of an outage");
        assert!(!outage.report_due(false), "then once per interval");
        outage.aggregates_failed(&"disk full", 3);
        assert!(outage.aggregates_reported && !outage.batches_reported);
        outage.failed(&"disk full", 5);
        assert!(
            outage.batches_reported,
            "the first dropped batch is reported too"
        );
        outage.stored();
        assert!(!outage.batches_reported && !outage.aggregates_reported);
    }
}
