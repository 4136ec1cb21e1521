//! The single writer thread: receives events over a channel and inserts them a batch per
//! transaction (with the event rollups in the same transaction), pulls the aggregate rows from
//! its source every flush interval, runs retention, and on shutdown stores what is queued, pulls
//! once more and checkpoints. Nothing else writes (a helper thread only copies the WAL back into
//! the database file, see `store::checkpoint`; another frees stored batches, see `reaper`).

mod aggregates;
mod batch;
mod reaper;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rusqlite::Connection;
use tracing::{debug, info, warn};

use super::aggregate::AggregateSource;
use super::checkpoint::Checkpointer;
use super::outage::Outage;
use super::retention::{DEFAULT_RETENTION_DAYS, RetentionSchedule};
use super::{StoreError, StoreStats, connection_path, schema};
use crate::event::BadActor;
use crate::pipeline::{EventQueue, event_bytes};
use crate::telemetry::Count;
use aggregates::AggregateFeed;
use batch::BatchWriter;
use reaper::Reaper;

pub use batch::insert_events;

/// Largest batch per transaction by default. The writer never waits to fill a batch: it takes
/// what is queued, so batches are small when traffic is light and grow under a flood, where
/// each commit is then shared by many events (measured: 54k events per CPU second in batches of
/// 1,000, 78k in batches of 8,000; `bench/store_insert.rs`).
pub const DEFAULT_BATCH_MAX: usize = 10_000;

/// A batch stops growing once its events hold this many bytes (see
/// [`event_bytes`]): ~8,000 typical probes, or 128 maximal datagrams.
const BATCH_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Time between retention runs by default.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Time between aggregate flushes by default: every distinct IP and number that reached a
/// listener is in the database within this much (the bound is 1 s), and a key seen
/// many times in that second costs one row update, not one per event.
pub const DEFAULT_AGGREGATE_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Shortest retention and flush interval honoured, so a zero interval cannot spin the thread.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// How the writer batches, prunes and gets its aggregate rows.
#[derive(Clone)]
pub struct WriterOptions {
    /// Most events per transaction (at least 1).
    pub batch_max: usize,
    /// Days of events kept; 0 keeps everything forever.
    pub retention_days: u32,
    /// Time between retention runs (the first is at start-up); at least 10 ms.
    pub retention_interval: Duration,
    /// Where `ip_addresses` and `called_numbers` come from (the live blocklist in the daemon).
    /// `None`: each batch's own events, so events shed before the writer are not counted.
    pub aggregate_source: Option<Arc<dyn AggregateSource>>,
    /// Time between pulls from `aggregate_source`; at least 10 ms.
    pub aggregate_flush_interval: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            batch_max: DEFAULT_BATCH_MAX,
            retention_days: DEFAULT_RETENTION_DAYS,
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            aggregate_source: None,
            aggregate_flush_interval: DEFAULT_AGGREGATE_FLUSH_INTERVAL,
        }
    }
}

impl fmt::Debug for WriterOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterOptions")
            .field("batch_max", &self.batch_max)
            .field("retention_days", &self.retention_days)
            .field("retention_interval", &self.retention_interval)
            .field("aggregate_source", &self.aggregate_source.is_some())
            .field("aggregate_flush_interval", &self.aggregate_flush_interval)
            .finish()
    }
}

/// Starts [`run_writer`] on a thread named `store-writer`, running
/// [`BACKGROUND_NICENESS`](crate::thread_priority::BACKGROUND_NICENESS) nice steps below the
/// rest of the process. The thread ends once every sender of `events` has been dropped and what
/// was queued is stored.
///
/// # Errors
///
/// The OS could not start the thread.
pub fn spawn_writer(
    conn: Connection,
    events: impl EventQueue + Send + 'static,
    options: WriterOptions,
    stats: Arc<StoreStats>,
) -> io::Result<JoinHandle<Result<(), StoreError>>> {
    thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || run_writer_in_background(conn, &events, &options, &stats))
}

/// [`run_writer`] on the calling thread, after lowering its priority by
/// [`BACKGROUND_NICENESS`](crate::thread_priority::BACKGROUND_NICENESS) nice steps: capture keeps
/// the CPU under a flood, the writer stores what it can. The body of the writer's thread.
///
/// # Errors
///
/// As [`run_writer`].
pub fn run_writer_in_background(
    conn: Connection,
    events: &impl EventQueue,
    options: &WriterOptions,
    stats: &StoreStats,
) -> Result<(), StoreError> {
    crate::thread_priority::lower_current_thread(crate::thread_priority::BACKGROUND_NICENESS);
    run_writer(conn, events, options, stats)
}

/// The writer loop, on the calling thread. Waits for an event (waking for retention and
/// aggregate flushes), takes up to `batch_max` queued events, inserts them in one transaction,
/// pulls the aggregate source when its interval is up (also while events pour in) and whenever
/// a batch empties the queue (before storing that batch: so at light load an event's IP and
/// number are in the aggregate tables once the event is stored, and under a flood, when the
/// queue never empties, a key costs one row write per interval), and repeats until every
/// sender is gone; then stores what is left, pulls the source a last time, checkpoints the WAL
/// (best effort) and returns.
///
/// A failing batch (disk full, `SQLITE_BUSY`, ...) is retried a few times with back-off while
/// the store was healthy; if it still fails it is logged, counted in
/// [`StoreStats::events_failed`], and dropped, and the loop goes on (see `store::outage`). A
/// failing aggregate flush is held and retried instead (see `store::aggregate`).
///
/// # Errors
///
/// [`StoreError::SchemaTooOld`] / [`StoreError::SchemaTooNew`] when `conn` is not at
/// [`schema::LATEST_VERSION`] (open it with [`super::open`]), before anything is received.
pub fn run_writer(
    mut conn: Connection,
    events: &impl EventQueue,
    options: &WriterOptions,
    stats: &StoreStats,
) -> Result<(), StoreError> {
    let path = connection_path(&conn);
    schema::check_version(&path, schema::schema_version(&conn)?)?;
    let mut outage = Outage::new(&path);
    let wal = wal_path(&path);
    let batch_max = options.batch_max.max(1);
    let interval = options.retention_interval.max(MIN_INTERVAL);
    let mut retention = RetentionSchedule::new(options.retention_days, interval);
    let mut feed = options.aggregate_source.as_ref().map(|source| {
        AggregateFeed::new(
            Arc::clone(source),
            options.aggregate_flush_interval.max(MIN_INTERVAL),
        )
    });
    let mut writer = BatchWriter::new(feed.is_none());
    let mut batch: Vec<Arc<BadActor>> = Vec::with_capacity(batch_max);
    let reaper = Reaper::start();
    let checkpointer = (path != Path::new(":memory:"))
        .then(|| Checkpointer::start(&path))
        .flatten();
    debug!(
        batch_max,
        retention_days = options.retention_days,
        aggregate_source = feed.is_some(),
        "store writer started"
    );
    retention.run_if_due(&conn, stats);
    loop {
        let wait = match (retention.time_until_due(), &feed) {
            (Some(retention), Some(feed)) => Some(retention.min(feed.time_until_due())),
            (retention, feed) => retention.or(feed.as_ref().map(AggregateFeed::time_until_due)),
        };
        let first = match wait {
            Some(wait) => events.recv_timeout(wait),
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match first {
            Ok(event) => {
                let drained = fill(&mut batch, event, events, batch_max);
                if let Some(feed) = feed.as_mut().filter(|_| drained) {
                    // Nothing else to do: the aggregates now, before the batch (whose events
                    // the source counted before they were queued), so a stored event's IP and
                    // number are in the aggregate tables too.
                    feed.pull_while_idle(&mut conn, stats, &mut outage);
                }
                writer.write(&mut conn, &batch, stats, &mut outage);
                reaper.free(std::mem::replace(&mut batch, Vec::with_capacity(batch_max)));
                note_wal_size(&wal, stats);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Some(feed) = &mut feed {
            feed.pull_if_due(&mut conn, stats, &mut outage);
        }
        retention.run_if_due(&conn, stats);
    }
    if let Some(feed) = &mut feed {
        feed.pull_final(&mut conn, stats, &mut outage);
    }
    drop(reaper);
    drop(checkpointer);
    checkpoint(&conn);
    note_wal_size(&wal, stats);
    info!(
        stored = stats.events_stored.count(),
        failed = stats.events_failed.count(),
        "store writer stopped"
    );
    Ok(())
}

/// Fills `batch` with `first` and what else is queued, bounded by count and by bytes: events
/// taken off the queue no longer count against its byte bound, so the batch keeps its own.
/// Whether it emptied the queue.
fn fill(
    batch: &mut Vec<Arc<BadActor>>,
    first: Arc<BadActor>,
    events: &impl EventQueue,
    batch_max: usize,
) -> bool {
    let mut bytes = event_bytes(&first);
    batch.push(first);
    while batch.len() < batch_max && bytes < BATCH_MAX_BYTES {
        match events.try_recv() {
            Ok(event) => {
                bytes += event_bytes(&event);
                batch.push(event);
            }
            Err(_) => return true,
        }
    }
    false
}

/// The `-wal` file of the database at `path`.
fn wal_path(path: &Path) -> std::path::PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// Records the WAL's size (0 when there is none, as for in-memory databases).
fn note_wal_size(wal: &Path, stats: &StoreStats) {
    let bytes = std::fs::metadata(wal).map_or(0, |meta| meta.len());
    stats
        .wal_bytes
        .store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// Folds the WAL back into the database file and truncates it, so a stopped honeypot leaves one
/// self-contained file. Best effort: readers still open may keep it from completing.
fn checkpoint(conn: &Connection) {
    let result = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
        row.get::<_, i64>(0)
    });
    match result {
        Ok(0) => debug!("WAL checkpointed"),
        Ok(_) => debug!("WAL checkpoint incomplete: a reader is still active"),
        Err(err) => warn!(error = %err, "WAL checkpoint at shutdown failed"),
    }
}
