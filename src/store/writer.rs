//! The single writer thread: receives events over a channel, inserts them a batch per
//! transaction (with the aggregate tables updated in the same transaction), runs retention, and
//! on shutdown flushes and checkpoints. Nothing else writes.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};
use tracing::{debug, info, warn};

use super::aggregate::BatchTally;
use super::outage::Outage;
use super::retention::{DEFAULT_RETENTION_DAYS, RetentionSchedule};
use super::{StoreError, StoreStats, connection_path, schema};
use crate::event::{BadActor, Credentials, Origin, format_timestamp};
use crate::pipeline::{EventQueue, event_bytes};
use crate::sip::MessageKind;
use crate::telemetry::Count;

/// Largest batch per transaction by default. The writer never waits to fill a batch: it takes
/// what is queued, so batches are small when traffic is light and grow under a flood, where
/// each commit and each aggregate row's update is then shared by many events (measured: 54k
/// events per CPU second in batches of 1,000, 78k in batches of 8,000; `store::tests::bench`).
pub const DEFAULT_BATCH_MAX: usize = 10_000;

/// A batch stops growing once its events hold this many bytes (see
/// [`event_bytes`]): ~8,000 typical probes, or 128 maximal datagrams.
const BATCH_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Time between retention runs by default.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Shortest retention interval honoured, so a zero interval cannot spin the thread.
const MIN_RETENTION_INTERVAL: Duration = Duration::from_millis(10);

/// Every column the writer fills; `honey_id` and `created_at` are left to SQLite.
const INSERT_EVENT: &str = "
INSERT INTO honey (
    event_timestamp, event_uuid, collected_method, source_ip, source_port,
    called_number, transport_type, method, user_agent, sip_message,
    created_by_node_id, destination_ip, destination_port, origin, request_uri_user,
    message_kind, p2p_record,
    attack_type, auth_scheme, auth_username, auth_realm, auth_nonce, auth_uri, auth_response,
    auth_algorithm, auth_qop, auth_cnonce, auth_nc, from_user, contact, p_asserted_identity)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
    ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)";

/// Whether an event is already stored (peer records arrive by push and by catch-up, from several
/// peers: each is stored once).
const EVENT_EXISTS: &str = "SELECT EXISTS(SELECT 1 FROM honey WHERE event_uuid = ?1)";

/// How the writer batches and prunes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// Most events per transaction (at least 1).
    pub batch_max: usize,
    /// Days of events kept; 0 keeps everything forever.
    pub retention_days: u32,
    /// Time between retention runs (the first is at start-up); at least 10 ms.
    pub retention_interval: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            batch_max: DEFAULT_BATCH_MAX,
            retention_days: DEFAULT_RETENTION_DAYS,
            retention_interval: DEFAULT_RETENTION_INTERVAL,
        }
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

/// The writer loop, on the calling thread. Waits for an event (waking for retention when idle),
/// takes up to `batch_max` queued events, inserts them in one transaction, and repeats until
/// every sender is gone; then stores what is left, checkpoints the WAL (best effort) and returns.
///
/// A failing batch (disk full, `SQLITE_BUSY`, ...) is retried a few times with back-off while
/// the store was healthy; if it still fails it is logged, counted in
/// [`StoreStats::events_failed`], and dropped, and the loop goes on (see `store::outage`).
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
    let interval = options.retention_interval.max(MIN_RETENTION_INTERVAL);
    let mut retention = RetentionSchedule::new(options.retention_days, interval);
    let mut batch: Vec<Arc<BadActor>> = Vec::with_capacity(batch_max);
    debug!(
        batch_max,
        retention_days = options.retention_days,
        "store writer started"
    );
    retention.run_if_due(&conn, stats);
    loop {
        let first = match retention.time_until_due() {
            Some(wait) => events.recv_timeout(wait),
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match first {
            Ok(event) => {
                // Bounded by count and by bytes: events taken off the queue no longer count
                // against its byte bound, so the batch keeps its own.
                let mut bytes = event_bytes(&event);
                batch.push(event);
                while batch.len() < batch_max && bytes < BATCH_MAX_BYTES {
                    match events.try_recv() {
                        Ok(event) => {
                            bytes += event_bytes(&event);
                            batch.push(event);
                        }
                        Err(_) => break,
                    }
                }
                write_batch(&mut conn, &batch, stats, &mut outage);
                batch.clear();
                note_wal_size(&wal, stats);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        retention.run_if_due(&conn, stats);
    }
    checkpoint(&conn);
    note_wal_size(&wal, stats);
    info!(
        stored = stats.events_stored.count(),
        failed = stats.events_failed.count(),
        "store writer stopped"
    );
    Ok(())
}

/// Inserts one batch (retried while the store was healthy), counting the outcome; a failure is
/// reported and the batch dropped.
fn write_batch(
    conn: &mut Connection,
    batch: &[Arc<BadActor>],
    stats: &StoreStats,
    outage: &mut Outage,
) {
    let started = Instant::now();
    match outage.attempt(|| insert_events(conn, batch)) {
        Ok(()) => {
            outage.stored();
            stats.record_batch(batch.len(), started.elapsed());
            debug!(
                events = batch.len(),
                stored_total = stats.events_stored.count(),
                "batch stored"
            );
        }
        Err(err) => {
            outage.failed(&err, batch.len());
            stats.record_failed_batch(batch.len());
        }
    }
}

/// Inserts `events` in one transaction, all or none, and adds them to `ip_addresses` and
/// `called_numbers` in the same transaction. The writer thread is the one caller in the daemon;
/// benchmarks and tests use it to fill a database.
///
/// # Errors
///
/// Any SQLite error; the transaction is then rolled back.
pub fn insert_events(
    conn: &mut Connection,
    events: &[Arc<BadActor>],
) -> Result<(), rusqlite::Error> {
    // IMMEDIATE takes the write lock up front, so a busy database waits (busy_timeout) at BEGIN
    // rather than failing half-way through the batch.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut tally = BatchTally::with_capacity(events.len());
    {
        let mut insert = tx.prepare_cached(INSERT_EVENT)?;
        let mut exists = tx.prepare_cached(EVENT_EXISTS)?;
        for event in events {
            let uuid = event.event_uuid.hyphenated().to_string();
            let shared = match &event.origin {
                Origin::Local => None,
                Origin::Peer(_) | Origin::OpenDht => {
                    if exists.query_row([&uuid], |row| row.get::<_, bool>(0))? {
                        continue;
                    }
                    match &event.origin {
                        Origin::Peer(peer) => peer.signed_record.as_deref(),
                        _ => None,
                    }
                }
            };
            tally.add(event);
            let empty = event.message_kind == MessageKind::Empty;
            let attack = &event.attack;
            let credential = |field: fn(&Credentials) -> &Option<String>| {
                attack
                    .credentials
                    .as_ref()
                    .and_then(|c| field(c).as_deref())
            };
            insert.execute(params![
                format_timestamp(event.event_timestamp),
                uuid,
                event.collected_method.as_str(),
                event.source.ip().to_string(),
                event.source.port(),
                null_if_empty(empty, &event.called_number),
                event.transport.as_str(),
                null_if_empty(empty, &event.sip_method),
                null_if_empty(empty, &event.sip_user_agent),
                null_if_empty(empty, &event.sip_message),
                event.created_by_node_id.hyphenated().to_string(),
                event.destination.ip().to_string(),
                event.destination.port(),
                event.origin.to_column(),
                event.request_uri_user.as_deref(),
                event.message_kind.as_str(),
                shared,
                attack.attack_type.as_str(),
                credential(|c| &c.scheme),
                credential(|c| &c.username),
                credential(|c| &c.realm),
                credential(|c| &c.nonce),
                credential(|c| &c.uri),
                credential(|c| &c.response),
                credential(|c| &c.algorithm),
                credential(|c| &c.qop),
                credential(|c| &c.cnonce),
                credential(|c| &c.nc),
                attack.from_user.as_deref(),
                attack.contact.as_deref(),
                attack.p_asserted_identity.as_deref(),
            ])?;
        }
    }
    tally.write(&tx)?;
    tx.commit()
}

/// The `-wal` file of the database at `path`.
fn wal_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// Records the WAL's size (0 when there is none, as for in-memory databases).
fn note_wal_size(wal: &std::path::Path, stats: &StoreStats) {
    let bytes = std::fs::metadata(wal).map_or(0, |meta| meta.len());
    stats
        .wal_bytes
        .store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// For an empty message, an empty field is stored as NULL, as the original did.
fn null_if_empty(empty_message: bool, value: &str) -> Option<&str> {
    (!(empty_message && value.is_empty())).then_some(value)
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
