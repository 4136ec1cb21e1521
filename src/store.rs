//! SQLite storage: opening the database, schema and migrations, the single writer thread and
//! retention. All SQL of the program lives under this module, always with bound parameters.
//!
//! # Layout
//!
//! - [`schema`]: the `honey` table, the aggregate tables `ip_addresses` and `called_numbers`,
//!   and their numbered migrations (`PRAGMA user_version`).
//! - [`writer`]: the one thread that inserts events, a batch per transaction, and writes the
//!   aggregate flushes.
//! - `ownership`: before anything is written, refuses files cut short or of another program.
//! - `outage`: what the writer does when batches fail (retries, reporting, recovery).
//! - [`aggregate`]: the aggregate tables: the rows the writer pulls from an
//!   [`AggregateSource`] (the live blocklist) and writes, what their counters mean, and
//!   [`load_ips`] / [`load_numbers`] to read them back at start-up.
//! - `rollup`: per-minute and per-hour counts the writer keeps with the rows they count, so
//!   statistics cost the same at any size.
//! - [`retention`]: deletes events older than the retention window, in small chunks, the
//!   aggregate rows whose events are all gone, and their rollups.
//! - [`query`]: the read side the API and the peer-to-peer node call, on a connection from
//!   [`open_read_only`].
//! - [`read_pool`]: the one pool of read connections, handed to the API and the node by `app`.
//! - [`stats`]: the writer's counters, shared with health and metrics.
//!
//! # Connections
//!
//! [`open`] gives the read-write connection the writer owns (WAL, `synchronous=NORMAL`, migrated
//! to [`LATEST_VERSION`]); [`open_read_only`] gives connections for readers, which never block the
//! writer under WAL.

pub mod aggregate;
mod checkpoint;
mod error;
mod helper_thread;
pub mod node_id;
mod outage;
mod ownership;
pub mod query;
pub mod read_pool;
pub mod retention;
mod rollup;
pub mod schema;
pub mod sidecar;
pub mod stats;
pub mod writer;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tracing::{debug, warn};

pub use aggregate::{
    AggregateFlush, AggregateLoad, AggregateRow, AggregateSource, load_ips, load_numbers,
};
pub use error::StoreError;
pub use read_pool::{ReadOptions, ReadPool, ReadStats};
pub use retention::{DEFAULT_RETENTION_DAYS, retention_cutoff, run_retention};
pub use schema::{LATEST_VERSION, is_phone_number, migrate, schema_version};
pub use stats::StoreStats;
pub use writer::{
    DEFAULT_AGGREGATE_FLUSH_INTERVAL, WriterOptions, run_writer, run_writer_in_background,
    spawn_writer,
};

/// How long a statement waits for a lock held by another connection before failing with
/// `SQLITE_BUSY` (readers and a second process can hold locks briefly).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page cache of the writer's connection, in KiB (SQLite's default is 2 MiB): an upper bound,
/// filled only as pages are read. The aggregate flushes touch pages all over `ip_addresses` and
/// `called_numbers`; keeping them cached saves re-reading them every flush.
///
/// Measured together with [`WRITER_WAL_AUTOCHECKPOINT`] (100,000 events, 5,000 IPs, 50,000
/// numbers, batches of 1,000, 2-core box): 14k events/s with SQLite's defaults, 23k with a
/// 16 MiB cache alone, 29k with the checkpoint interval alone, 32k with both. With the live
/// blocklist's flushes (a 50,000/s flood calling 250,000 numbers into a seeded database, 20 s,
/// events stored per writer CPU second relative to 16 MiB with rows unsorted, two rounds on a
/// shared machine): rows in key order (see `aggregate::write_rows`) 1.34x at 16 MiB, 1.46x at
/// 32 MiB, 1.50x at 64 MiB, 1.56x at 128 MiB, 1.46x at 256 MiB. 64 MiB keeps the writer's
/// worst case modest for small machines.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// WAL pages (4 KiB each) after which a commit checkpoints (SQLite's default is 1,000). A
/// longer interval copies each hot page back to the database once per checkpoint instead of
/// once per batch, at the cost of a WAL of up to ~40 MiB between checkpoints. Most of the
/// copying is done beforehand by the checkpoint thread (`store::checkpoint`); this one finishes
/// the tail so the WAL can start over while writes keep coming.
const WRITER_WAL_AUTOCHECKPOINT: i64 = 10_000;

/// Size the WAL file is cut back to when SQLite restarts it after a complete checkpoint: a
/// flood or a burst of readers may grow it past the checkpoint interval for a while, but the
/// file never keeps that size. Readers hold their snapshot for one short query at a time (see
/// [`read_pool`]), so checkpoints complete and the WAL restarts.
pub const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Opens (creating it, mode 0600, if missing; a symbolic link's target, if `path` is one) the
/// database at `path` for writing, sets WAL,
/// `synchronous=NORMAL` and [`BUSY_TIMEOUT`], and migrates it to [`LATEST_VERSION`].
///
/// A database written by the original SentryPeer (schema version 0, `honey` table present) is
/// migrated in place without losing rows.
///
/// # Errors
///
/// [`StoreError::NotADatabase`] when the file exists and is not an SQLite database,
/// [`StoreError::Corrupt`] when it is cut short or damaged, [`StoreError::Foreign`] when it is
/// another program's database (in these three cases it is not touched), [`StoreError::Path`]
/// for a link that cannot be followed, [`StoreError::Open`], [`StoreError::Configure`], [`StoreError::Migrate`] or
/// [`StoreError::SchemaTooNew`] otherwise; each names `path`.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    // A symbolic link (dangling or not) is followed, so the file created below is its target,
    // mode 0600, and SQLite puts `-wal` and `-shm` beside it with the same mode.
    let resolved = sidecar::resolve_symlinks(path).map_err(|source| StoreError::Path {
        path: path.to_path_buf(),
        source,
    })?;
    let path = resolved.as_path();
    check_header(path)?;
    ownership::check_not_truncated(path)?;
    create_private(path);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(path, flags).map_err(|source| open_error(path, source))?;
    // Only reads until the file is known to be ours: WAL mode alone rewrites the header.
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|source| configure_error(path, source))?;
    let version = schema_version(&conn).map_err(|error| sqlite_error(path, error))?;
    ownership::check_ours(&conn, path, version).map_err(|error| sqlite_error(path, error))?;
    configure_writer(&conn).map_err(|source| configure_error(path, source))?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Opens an existing, already migrated database at `path` for reading only (for the API).
///
/// # Errors
///
/// [`StoreError::Open`] when the file is missing or unreadable, [`StoreError::NotADatabase`],
/// [`StoreError::Configure`], or [`StoreError::SchemaTooOld`] / [`StoreError::SchemaTooNew`]
/// when its schema is not [`LATEST_VERSION`]; each names `path`.
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    check_header(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        Connection::open_with_flags(path, flags).map_err(|source| open_error(path, source))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|source| configure_error(path, source))?;
    let found = schema_version(&conn).map_err(|error| match error {
        StoreError::Sqlite(source) => configure_error(path, source),
        other => other,
    })?;
    schema::check_version(path, found)?;
    Ok(conn)
}

/// Number of rows in `honey` (for tests, health details and the API).
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn count_events(conn: &Connection) -> Result<u64, StoreError> {
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM honey", [], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or_default())
}

/// The file a connection is on, for error messages (`:memory:` for in-memory databases).
pub(crate) fn connection_path(conn: &Connection) -> PathBuf {
    match conn.path() {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(":memory:"),
    }
}

/// Pragmas of the writer's connection. WAL lets readers run beside the writer; NORMAL
/// synchronous is durable across process crashes, and only the last commits can be lost on
/// power loss (a honeypot's acceptable trade for ~15x the insert rate).
fn configure_writer(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        warn!(journal_mode = %mode, "SQLite refused WAL mode; readers may block the writer");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "wal_autocheckpoint", WRITER_WAL_AUTOCHECKPOINT)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
    debug!(journal_mode = %mode, "database connection configured");
    Ok(())
}

/// Creates a missing database file with mode 0600 before SQLite opens it: SQLite gives the
/// `-wal` and `-shm` files it creates the database file's mode, so the events stay readable by
/// their owner only whatever the umask. An existing file keeps its mode; a file that cannot be
/// created is left to SQLite to report in its own words.
fn create_private(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

/// Refuses a file that exists, is not empty and does not start with the SQLite header, before
/// SQLite gets a chance to touch it. A missing or empty file is fine (SQLite creates it).
fn check_header(path: &Path) -> Result<(), StoreError> {
    // Missing (created later) or unreadable (SQLite reports it in its own words): not ours to judge.
    let Ok(file) = File::open(path) else {
        return Ok(());
    };
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    if file
        .take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut header)
        .is_err()
    {
        return Ok(());
    }
    if header.is_empty() || header == SQLITE_HEADER {
        Ok(())
    } else {
        Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
        })
    }
}

/// A plain SQLite error while checking a file, named after it.
fn sqlite_error(path: &Path, error: StoreError) -> StoreError {
    match error {
        StoreError::Sqlite(source) => configure_error(path, source),
        other => other,
    }
}

/// [`StoreError::Open`], or [`StoreError::NotADatabase`] when that is what SQLite found.
fn open_error(path: &Path, source: rusqlite::Error) -> StoreError {
    if error::is_not_a_database(&source) {
        StoreError::NotADatabase {
            path: path.to_path_buf(),
        }
    } else {
        StoreError::Open {
            path: path.to_path_buf(),
            cause: source,
        }
    }
}

/// [`StoreError::Configure`], or [`StoreError::NotADatabase`] when that is what SQLite found.
fn configure_error(path: &Path, source: rusqlite::Error) -> StoreError {
    if error::is_not_a_database(&source) {
        StoreError::NotADatabase {
            path: path.to_path_buf(),
        }
    } else if error::is_corrupt(&source) {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: source.to_string(),
        }
    } else {
        StoreError::Configure {
            path: path.to_path_buf(),
            cause: source,
        }
    }
}
