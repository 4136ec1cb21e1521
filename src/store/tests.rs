//! Store tests on temp-dir files and in-memory databases: migration from the original schema,
//! the writer (column values, batching, shutdown flush, failing batches), the aggregate tables
//! and their backfill, retention, the read side (`query`) and the read pool.

mod aggregate;
mod attack_types;
mod backfill;
mod flush;
mod local_activity;
mod migration;
mod query_events;
mod query_matching;
mod query_model;
mod query_seen;
mod read_pool;
mod retention;
mod rollups;
mod share;
mod upgrade;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;
use tempfile::TempDir;

use crate::event::BadActor;
use crate::event::test_support::EventBuilder;

/// A temp dir and the path of `sentrypeer.db` inside it (the dir lives as long as the guard).
fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sentrypeer.db");
    (dir, path)
}

/// A migrated in-memory database.
fn memory_db() -> Connection {
    let mut conn = Connection::open_in_memory().expect("in-memory db");
    crate::store::migrate(&mut conn).expect("migrate");
    conn
}

/// The peer the tests' shared events come from.
const PEER: &str = "12D3KooWPeer";

/// A local UDP INVITE from `ip` calling `number` at second `second` of 2024-01-01 (add what else
/// the test needs, then `build`).
fn call(ip: &str, number: &str, second: u8) -> EventBuilder {
    EventBuilder::new()
        .source_ip(ip)
        .number(number)
        .at(&format!("2024-01-01T00:00:{second:02}Z"))
}

/// Stores `events` straight through the writer's insert (one transaction).
fn insert(conn: &mut Connection, events: &[BadActor]) {
    let events: Vec<Arc<BadActor>> = events.iter().cloned().map(Arc::new).collect();
    crate::store::writer::insert_events(conn, &events).expect("insert");
}

/// `honey` has an index named `name`.
fn has_index(conn: &Connection, name: &str) -> bool {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'index' AND tbl_name = 'honey' AND name = ?1)",
        [name],
        |row| row.get(0),
    )
    .expect("query sqlite_master")
}

/// Opens a file database without the store (as another program would).
fn raw_open(path: &Path) -> Connection {
    Connection::open(path).expect("open raw")
}
