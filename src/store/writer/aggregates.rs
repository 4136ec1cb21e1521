//! The writer's side of the aggregate source: pull a flush every interval (whatever else the
//! writer is doing) and once more at shutdown, write it in one transaction, and hold what could
//! not be written until it can (see `store::aggregate`, "Losslessness").

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use tracing::{debug, error};

use crate::store::StoreStats;
use crate::store::aggregate::{
    AggregateFlush, AggregateSource, MAX_PENDING_AGGREGATE_KEYS, PendingRows, RowsWritten,
    write_rows,
};
use crate::store::outage::Outage;

/// How a pull meets a refusing database.
#[derive(Debug, Clone, Copy)]
enum Retry {
    /// As a batch does: with back-off while the store was healthy, then reported.
    AsBatches,
    /// Not at all: held for the next pull.
    Never,
}

/// Pulls and writes the source's flushes.
pub(super) struct AggregateFeed {
    source: Arc<dyn AggregateSource>,
    interval: Duration,
    next: Instant,
    /// Rows taken but not written yet (the store failed).
    held: PendingRows,
}

impl AggregateFeed {
    /// A feed whose first pull is one `interval` from now.
    pub(super) fn new(source: Arc<dyn AggregateSource>, interval: Duration) -> Self {
        Self {
            source,
            interval,
            next: Instant::now() + interval,
            held: PendingRows::default(),
        }
    }

    /// How long until the next pull (zero when overdue).
    pub(super) fn time_until_due(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    /// Pulls and writes a flush if one is due.
    pub(super) fn pull_if_due(
        &mut self,
        conn: &mut Connection,
        stats: &StoreStats,
        outage: &mut Outage,
    ) {
        if Instant::now() >= self.next {
            self.pull(conn, stats, outage, Retry::AsBatches);
            self.next = Instant::now() + self.interval;
        }
    }

    /// Pulls and writes a flush now, because the writer has nothing else to do; one try: a
    /// refused flush is held, quietly, for the next pull (the batch that follows meets the
    /// same database and reports it).
    pub(super) fn pull_while_idle(
        &mut self,
        conn: &mut Connection,
        stats: &StoreStats,
        outage: &mut Outage,
    ) {
        self.pull(conn, stats, outage, Retry::Never);
    }

    /// The last pull, after the event queue is drained: what is still held afterwards is lost
    /// (counted and reported).
    pub(super) fn pull_final(
        &mut self,
        conn: &mut Connection,
        stats: &StoreStats,
        outage: &mut Outage,
    ) {
        self.pull(conn, stats, outage, Retry::AsBatches);
        if !self.held.is_empty() {
            let rows = self.held.len();
            stats.record_aggregate_rows_lost(rows);
            error!(
                rows,
                "the database refused the last aggregate rows at shutdown; they are lost (counted)"
            );
            self.held.clear();
        }
    }

    /// Takes a flush and writes it with whatever is held, or holds it all.
    fn pull(
        &mut self,
        conn: &mut Connection,
        stats: &StoreStats,
        outage: &mut Outage,
        retry: Retry,
    ) {
        let flush = self.source.take();
        let attempt = |write: &mut dyn FnMut() -> rusqlite::Result<RowsWritten>| match retry {
            Retry::AsBatches => outage.attempt(write),
            Retry::Never => write(),
        };
        let result = if self.held.is_empty() {
            if flush.is_empty() {
                return;
            }
            let result = attempt(&mut || write_flush(conn, &flush));
            if result.is_err() {
                self.hold(flush, stats);
            }
            result
        } else {
            self.hold(flush, stats);
            let held = &self.held;
            let result = attempt(&mut || write_held(conn, held));
            if result.is_ok() {
                self.held.clear();
            }
            result
        };
        match result {
            Ok(done) => {
                outage.stored();
                stats.record_aggregate_flush(done.written, done.refused);
                debug!(
                    rows = done.written,
                    refused = done.refused,
                    "aggregate flush stored"
                );
            }
            Err(err) => {
                stats.record_aggregate_flush_failed();
                match retry {
                    Retry::AsBatches => outage.aggregates_failed(&err, self.held.len()),
                    Retry::Never => {
                        debug!(error = %err, held = self.held.len(), "aggregate flush held")
                    }
                }
            }
        }
    }

    /// Merges `flush` into the held rows, counting what does not fit.
    fn hold(&mut self, flush: AggregateFlush, stats: &StoreStats) {
        let left_out = self.held.absorb(flush, MAX_PENDING_AGGREGATE_KEYS);
        stats.record_aggregate_rows_lost(usize::try_from(left_out).unwrap_or(usize::MAX));
    }
}

/// Writes `flush` in one transaction.
fn write_flush(conn: &mut Connection, flush: &AggregateFlush) -> rusqlite::Result<RowsWritten> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let done = write_rows(&tx, &flush.ips, &flush.numbers)?;
    tx.commit()?;
    Ok(done)
}

/// Writes the held rows in one transaction.
fn write_held(conn: &mut Connection, held: &PendingRows) -> rusqlite::Result<RowsWritten> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let done = held.write(&tx)?;
    tx.commit()?;
    Ok(done)
}
