//! Retention: deletes events older than the configured number of days, in small chunks so the
//! writer never holds a long transaction, then the aggregate rows whose `last_seen` is older
//! than the same cutoff (their events are gone), and resets the local or peer half of a row
//! whose side has been silent that long. Runs inside the writer thread only.
//!
//! So an aggregate row's `seen_count` counts the key's events since the row was created, for as
//! long as the key stays active within the window; after a silence longer than the window the
//! key starts again from zero (with a new `id`).
//!
//! The cutoff is rounded down to the minute, so retention deletes whole minutes and the
//! rollups of exactly those minutes go with them (see `store::rollup`).

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, params};
use tracing::{debug, error};

use super::{StoreError, StoreStats, rollup};
use crate::event::format_timestamp;

/// Days of events kept when the configuration says nothing.
pub const DEFAULT_RETENTION_DAYS: u32 = crate::config::defaults::RETENTION_DAYS;

/// Rows deleted per statement (each its own short transaction).
pub const RETENTION_CHUNK_ROWS: i64 = 10_000;

/// Deletes one chunk of rows older than the cutoff (uses `event_timestamp_index`). Rows with no
/// timestamp are never deleted.
const DELETE_CHUNK: &str = "
DELETE FROM honey WHERE rowid IN (
    SELECT rowid FROM honey WHERE event_timestamp < ?1 LIMIT ?2)";

/// Deletes one chunk of `ip_addresses` rows last seen before the cutoff (uses their `last_seen`
/// index).
const DELETE_IP_CHUNK: &str = "
DELETE FROM ip_addresses WHERE id IN (
    SELECT id FROM ip_addresses WHERE last_seen < ?1 LIMIT ?2)";

/// Deletes one chunk of `called_numbers` rows last seen before the cutoff.
const DELETE_NUMBER_CHUNK: &str = "
DELETE FROM called_numbers WHERE id IN (
    SELECT id FROM called_numbers WHERE last_seen < ?1 LIMIT ?2)";

/// Resets the halves of aggregate rows whose side has been silent since before the cutoff (the
/// rows themselves are still active through the other side). No index on these columns: a scan
/// of the aggregate tables, once per retention run.
const RESET_SILENT_SIDES: [&str; 4] = [
    "UPDATE ip_addresses SET local_count = 0, local_last_seen = NULL WHERE local_last_seen < ?1",
    "UPDATE ip_addresses SET peer_count = 0, peer_last_seen = NULL WHERE peer_last_seen < ?1",
    "UPDATE called_numbers SET local_count = 0, local_last_seen = NULL WHERE local_last_seen < ?1",
    "UPDATE called_numbers SET peer_count = 0, peer_last_seen = NULL WHERE peer_last_seen < ?1",
];

/// The `event_timestamp` before which events are out of a `retention_days` window ending at
/// `now`, rounded down to the minute; `None` when nothing is ever deleted (0 days, or a window
/// reaching before year -9999).
pub fn retention_cutoff(now: Timestamp, retention_days: u32) -> Option<String> {
    cutoff_time(now, retention_days).map(format_timestamp)
}

/// [`retention_cutoff`] as a time.
fn cutoff_time(now: Timestamp, retention_days: u32) -> Option<Timestamp> {
    if retention_days == 0 {
        return None;
    }
    let window = SignedDuration::from_hours(i64::from(retention_days) * 24);
    let cutoff = now.checked_sub(window).ok()?;
    Timestamp::from_second(rollup::minute_of(cutoff).checked_mul(60)?).ok()
}

/// Deletes every event older than `retention_days` before `now` (0 = keep everything; the
/// cutoff rounded down to the minute), the aggregate rows last seen before the same cutoff, and
/// the rollups of both, and returns how many events went.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when a delete fails; chunks deleted before it stay deleted.
pub fn run_retention(
    conn: &Connection,
    retention_days: u32,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let Some(cutoff_at) = cutoff_time(now, retention_days) else {
        return Ok(0);
    };
    let cutoff = format_timestamp(cutoff_at);
    rollup::prune(conn, rollup::minute_of(cutoff_at))?;
    let deleted = delete_older_than(conn, &cutoff, RETENTION_CHUNK_ROWS)?;
    let keys = prune_aggregates(conn, &cutoff, RETENTION_CHUNK_ROWS)?;
    debug!(
        deleted,
        keys,
        cutoff = %cutoff,
        retention_days,
        "retention removed old events and aggregate rows"
    );
    Ok(deleted)
}

/// Deletes aggregate rows last seen before `cutoff`, `chunk` rows per statement, resets the
/// silent halves of the others, and returns how many rows went.
fn prune_aggregates(conn: &Connection, cutoff: &str, chunk: i64) -> Result<u64, rusqlite::Error> {
    let mut total = 0;
    for sql in [DELETE_IP_CHUNK, DELETE_NUMBER_CHUNK] {
        total += delete_chunks(conn, sql, cutoff, chunk)?;
    }
    for sql in RESET_SILENT_SIDES {
        conn.prepare_cached(sql)?.execute([cutoff])?;
    }
    Ok(total)
}

/// Deletes rows with `event_timestamp < cutoff`, `chunk` rows per statement.
pub(crate) fn delete_older_than(
    conn: &Connection,
    cutoff: &str,
    chunk: i64,
) -> Result<u64, rusqlite::Error> {
    delete_chunks(conn, DELETE_CHUNK, cutoff, chunk)
}

/// Runs the chunked delete `sql` (`?1` = cutoff, `?2` = chunk) until a chunk comes back short,
/// and returns how many rows went.
fn delete_chunks(
    conn: &Connection,
    sql: &str,
    cutoff: &str,
    chunk: i64,
) -> Result<u64, rusqlite::Error> {
    let mut delete = conn.prepare_cached(sql)?;
    let mut total: u64 = 0;
    loop {
        let deleted = delete.execute(params![cutoff, chunk])?;
        total += u64::try_from(deleted).unwrap_or(u64::MAX);
        if i64::try_from(deleted).unwrap_or(i64::MAX) < chunk {
            return Ok(total);
        }
    }
}

/// When the writer next runs retention: at start-up, then every `interval`.
#[derive(Debug)]
pub(crate) struct RetentionSchedule {
    /// Window in days; 0 = never run.
    days: u32,
    /// Time between runs.
    interval: Duration,
    /// Next run; `None` when retention is off.
    next: Option<Instant>,
}

impl RetentionSchedule {
    /// A schedule whose first run is due immediately (unless `days` is 0).
    pub(crate) fn new(days: u32, interval: Duration) -> Self {
        let next = (days > 0).then(Instant::now);
        Self {
            days,
            interval,
            next,
        }
    }

    /// How long until the next run (zero when overdue); `None` when retention is off.
    pub(crate) fn time_until_due(&self) -> Option<Duration> {
        self.next
            .map(|next| next.saturating_duration_since(Instant::now()))
    }

    /// Runs retention if it is due, counts what it deleted and schedules the next run. A failure
    /// is logged and retried at the next interval.
    pub(crate) fn run_if_due(&mut self, conn: &Connection, stats: &StoreStats) {
        let Some(next) = self.next else {
            return;
        };
        let now = Instant::now();
        if now < next {
            return;
        }
        match run_retention(conn, self.days, Timestamp::now()) {
            Ok(deleted) => stats.record_retention(deleted),
            Err(err) => error!(error = %err, "retention failed; retrying at the next interval"),
        }
        self.next = now.checked_add(self.interval);
    }
}
