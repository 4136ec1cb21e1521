//! Store tests on temp-dir files and in-memory databases: migration from the original schema,
//! the writer (column values, batching, shutdown flush, failing batches), the aggregate tables
//! and their backfill, retention, the read side (`query`) and the read pool. `bench` is an ignored
//! measurement, not a test.

mod aggregate;
mod attack_types;
mod backfill;
mod bench;
mod migration;
mod query_events;
mod query_matching;
mod query_model;
mod query_seen;
mod read_pool;
mod retention;
mod share;
mod writer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::Connection;
use tempfile::TempDir;
use uuid::Uuid;

use crate::event::{Attack, BadActor, CollectedMethod, Origin, Transport};
use crate::sip::MessageKind;

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

/// A typical UDP IPv4 scanner INVITE, captured at `timestamp`.
fn udp_invite(timestamp: &str) -> BadActor {
    BadActor {
        event_timestamp: timestamp.parse::<Timestamp>().expect("valid timestamp"),
        event_uuid: Uuid::now_v7(),
        created_by_node_id: Uuid::from_u128(0x1234),
        collected_method: CollectedMethod::Passive,
        transport: Transport::Udp,
        source: addr("104.149.141.214:5070"),
        destination: addr("192.0.2.10:5060"),
        called_number: "100".into(),
        request_uri_user: Some("100".into()),
        sip_method: "INVITE".into(),
        sip_user_agent: "friendly-scanner".into(),
        sip_message: "INVITE sip:100@192.0.2.10 SIP/2.0\r\n\r\n".into(),
        message_kind: MessageKind::Request,
        origin: Origin::Local,
        attack: Attack::from_message(b"INVITE sip:100@192.0.2.10 SIP/2.0\r\n\r\n"),
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("valid socket address")
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
