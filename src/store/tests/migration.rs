//! Opening and migrating: databases written by the original, fresh files, reopening, files
//! that are not databases, read-only connections, and schema versions out of range.

use std::fs;

use rusqlite::{Connection, params};

use super::{has_index, insert, raw_open, temp_db};
use crate::event::test_support::EventBuilder;
use crate::store::{self, LATEST_VERSION, StoreError, count_events, schema_version};

/// `src/database.c`, verbatim.
const ORIGINAL_CREATE: &str = "CREATE TABLE IF NOT EXISTS honey (   honey_id INTEGER PRIMARY KEY,   event_timestamp TEXT,   event_uuid TEXT,   collected_method TEXT,   source_ip TEXT,   called_number TEXT,   transport_type TEXT,   method TEXT,   user_agent TEXT,   sip_message TEXT,   created_by_node_id TEXT,   created_at DATETIME DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')));
CREATE INDEX IF NOT EXISTS source_ip_index ON honey (source_ip);
CREATE INDEX IF NOT EXISTS called_number_index ON honey (called_number);
CREATE INDEX IF NOT EXISTS event_uuid_index ON honey (event_uuid);";

/// `src/database.c`'s insert, verbatim.
const ORIGINAL_INSERT: &str = "INSERT INTO honey (event_timestamp,   event_uuid, collected_method, source_ip,   called_number, transport_type, method,   user_agent, sip_message, created_by_node_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);";

const NODE: &str = "4c2f1bde-93a4-4a1b-8f36-0d1e4f0b2a11";

/// One original row: (source_ip, called_number, method, user_agent, sip_message).
type OriginalRow = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

const ORIGINAL_ROWS: [OriginalRow; 6] = [
    // C build: bare IPv4.
    (
        "104.149.141.214",
        Some("100"),
        Some("INVITE"),
        Some("friendly-scanner"),
        Some("INVITE sip:100@192.0.2.10 SIP/2.0\r\nUser-Agent: friendly-scanner\r\n\r\n"),
    ),
    // Rust build: IPv4 with the port.
    (
        "1.2.3.4:5060",
        Some("0046812118532"),
        Some("OPTIONS"),
        Some("sipvicious"),
        Some("OPTIONS sip:x SIP/2.0\r\n\r\n"),
    ),
    // Rust build: IPv6 with the port.
    (
        "[2001:db8::1]:5060",
        Some("NOT_FOUND"),
        Some("REGISTER"),
        Some("NOT_FOUND"),
        Some("REGISTER sip:x SIP/2.0\r\n\r\n"),
    ),
    // C build: empty packet.
    ("198.51.100.7", None, None, None, None),
    // C build: bare IPv6 (must stay as it is).
    (
        "2001:db8::1",
        Some("200"),
        Some("INVITE"),
        Some("pplsip"),
        Some("INVITE sip:200@x SIP/2.0\r\n\r\n"),
    ),
    // Rust build on a dual-stack socket: IPv4-mapped IPv6 with the port.
    (
        "[::ffff:192.0.2.7]:5061",
        Some("300"),
        Some("INVITE"),
        Some("sipcli"),
        Some("INVITE sip:300@x SIP/2.0\r\n\r\n"),
    ),
];

/// Expected (source_ip, source_port) of each original row after migration.
const MIGRATED_SOURCES: [(&str, Option<i64>); 6] = [
    ("104.149.141.214", None),
    ("1.2.3.4", Some(5060)),
    ("2001:db8::1", Some(5060)),
    ("198.51.100.7", None),
    ("2001:db8::1", None),
    ("192.0.2.7", Some(5061)),
];

/// Writes a database exactly as the original did: its CREATEs, its INSERT, user_version 0.
pub(super) fn write_original_db(path: &std::path::Path) {
    let conn = raw_open(path);
    conn.execute_batch(ORIGINAL_CREATE)
        .expect("original schema");
    for (n, (source_ip, number, method, agent, message)) in ORIGINAL_ROWS.iter().enumerate() {
        conn.execute(
            ORIGINAL_INSERT,
            params![
                format!("2022-02-22 11:19:1{n}.848934346"),
                format!("00000000-0000-4000-8000-00000000000{n}"),
                "passive",
                source_ip,
                number,
                "UDP",
                method,
                agent,
                message,
                NODE,
            ],
        )
        .expect("original insert");
    }
}

/// Everything in the original columns plus created_at, in honey_id order.
fn original_columns(conn: &Connection) -> Vec<Vec<Option<String>>> {
    let mut stmt = conn
        .prepare(
            "SELECT honey_id, event_timestamp, event_uuid, collected_method, called_number,
                    transport_type, method, user_agent, sip_message, created_by_node_id, created_at
             FROM honey ORDER BY honey_id",
        )
        .expect("prepare");
    stmt.query_map([], |row| {
        (0..11)
            .map(|i| {
                row.get::<_, Option<rusqlite::types::Value>>(i)
                    .map(|v| v.map(|v| format!("{v:?}")))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .expect("query")
    .collect::<Result<Vec<_>, _>>()
    .expect("rows")
}

#[test]
fn database_written_by_the_original_migrates_without_loss() {
    let (_dir, path) = temp_db();
    write_original_db(&path);
    let before = original_columns(&raw_open(&path));
    assert_eq!(schema_version(&raw_open(&path)).expect("version"), 0);

    let mut conn = store::open(&path).expect("open original db");

    assert_eq!(schema_version(&conn).expect("version"), LATEST_VERSION);
    assert_eq!(
        original_columns(&conn),
        before,
        "original columns unchanged except source_ip"
    );
    let mut stmt = conn
        .prepare(
            "SELECT source_ip, source_port, origin, destination_ip, destination_port,
                    request_uri_user, message_kind
             FROM honey ORDER BY honey_id",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<i64>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    drop(stmt);
    assert_eq!(rows.len(), MIGRATED_SOURCES.len());
    for (row, (ip, port)) in rows.iter().zip(MIGRATED_SOURCES) {
        assert_eq!((row.0.as_str(), row.1), (ip, port));
        assert_eq!(row.2, "local");
        assert_eq!((&row.3, row.4, &row.5, &row.6), (&None, None, &None, &None));
    }
    for index in ["event_uuid_index", "event_timestamp_index"] {
        assert!(has_index(&conn, index), "{index}");
    }
    for index in ["source_ip_index", "called_number_index"] {
        assert!(
            !has_index(&conn, index),
            "{index} is dropped by migration 6"
        );
    }

    // The migrated database takes new events.
    insert(
        &mut conn,
        &[EventBuilder::new().at("2024-01-01T00:00:00Z").build()],
    );
    assert_eq!(count_events(&conn).expect("count"), 7);
}

#[test]
fn fresh_database_has_table_and_its_indexes_before_any_insert() {
    let (_dir, path) = temp_db();
    let conn = store::open(&path).expect("open");
    assert_eq!(schema_version(&conn).expect("version"), LATEST_VERSION);
    assert_eq!(count_events(&conn).expect("count"), 0);
    for index in ["event_uuid_index", "event_timestamp_index"] {
        assert!(has_index(&conn, index), "{index}");
    }
    for index in ["source_ip_index", "called_number_index"] {
        assert!(
            !has_index(&conn, index),
            "{index} is dropped by migration 6"
        );
    }
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let synchronous: i64 = conn
        .pragma_query_value(None, "synchronous", |row| row.get(0))
        .expect("synchronous");
    assert_eq!(synchronous, 1, "NORMAL");
}

#[test]
fn opening_twice_is_idempotent() {
    let (_dir, path) = temp_db();
    let schema = |conn: &Connection| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .expect("prepare");
        stmt.query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let mut first = store::open(&path).expect("first open");
    insert(
        &mut first,
        &[EventBuilder::new().at("2024-01-01T00:00:00Z").build()],
    );
    let first_schema = schema(&first);
    drop(first);

    let second = store::open(&path).expect("second open");
    assert_eq!(schema_version(&second).expect("version"), LATEST_VERSION);
    assert_eq!(schema(&second), first_schema);
    assert_eq!(count_events(&second).expect("count"), 1);
}

#[test]
fn file_that_is_not_a_database_is_refused_and_left_alone() {
    let (dir, path) = temp_db();
    let noise: Vec<u8> = (0..64)
        .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
        .collect();
    fs::write(&path, &noise).expect("write noise");

    let error = store::open(&path).expect_err("noise is not a database");
    assert!(
        matches!(error, StoreError::NotADatabase { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    let error = store::open_read_only(&path).expect_err("noise is not a database");
    assert!(
        matches!(error, StoreError::NotADatabase { .. }),
        "{error:?}"
    );

    assert_eq!(fs::read(&path).expect("read back"), noise);
    let files = fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(files, 1, "no -wal or -shm file was created");
}

#[test]
fn file_with_a_sqlite_header_and_garbage_is_refused_and_left_alone() {
    let (_dir, path) = temp_db();
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.resize(4096, 0xff);
    fs::write(&path, &bytes).expect("write");

    let error = store::open(&path).expect_err("not a database");
    assert!(
        matches!(error, StoreError::NotADatabase { .. }),
        "{error:?}"
    );
    assert_eq!(fs::read(&path).expect("read back"), bytes);
}

#[test]
fn read_only_connection_reads_a_migrated_database_and_cannot_write() {
    let (_dir, path) = temp_db();
    let mut writer = store::open(&path).expect("open");
    insert(
        &mut writer,
        &[EventBuilder::new().at("2024-01-01T00:00:00Z").build()],
    );

    let reader = store::open_read_only(&path).expect("open read-only");
    assert_eq!(count_events(&reader).expect("count"), 1);
    assert!(reader.execute("DELETE FROM honey", []).is_err());
}

#[test]
fn read_only_connection_refuses_missing_and_unmigrated_databases() {
    let (_dir, path) = temp_db();
    let error = store::open_read_only(&path).expect_err("missing file");
    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );

    write_original_db(&path);
    let error = store::open_read_only(&path).expect_err("version 0");
    assert!(
        matches!(
            error,
            StoreError::SchemaTooOld {
                found: 0,
                expected: LATEST_VERSION,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn database_from_a_newer_program_is_refused() {
    let (_dir, path) = temp_db();
    drop(store::open(&path).expect("open"));
    raw_open(&path)
        .pragma_update(None, "user_version", 99)
        .expect("set version");
    let error = store::open(&path).expect_err("too new");
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 99, .. }),
        "{error:?}"
    );
    assert_eq!(
        schema_version(&raw_open(&path)).expect("version"),
        99,
        "left alone"
    );
}

#[test]
fn failed_migration_leaves_the_database_at_its_version() {
    let (_dir, path) = temp_db();
    write_original_db(&path);
    let conn = raw_open(&path);
    // A clash migration 2 cannot apply over.
    conn.execute_batch("ALTER TABLE honey ADD COLUMN origin TEXT; PRAGMA user_version = 1;")
        .expect("prepare clash");
    drop(conn);

    let error = store::open(&path).expect_err("migration 2 clashes");
    assert!(matches!(error, StoreError::Migrate { .. }), "{error:?}");
    let conn = raw_open(&path);
    assert_eq!(schema_version(&conn).expect("version"), 1);
    assert_eq!(count_events(&conn).expect("count"), 6);
    let source: String = conn
        .query_row(
            "SELECT source_ip FROM honey WHERE honey_id = 2",
            [],
            |row| row.get(0),
        )
        .expect("row 2");
    assert_eq!(source, "1.2.3.4:5060", "rolled back");
}

#[test]
fn databases_of_other_programs_are_refused_and_left_alone() {
    let foreign_schemas = [
        (
            "CREATE TABLE foo (id INTEGER PRIMARY KEY, bar TEXT);",
            "\"foo\"",
        ),
        (
            "CREATE TABLE honey (id INTEGER PRIMARY KEY, pot TEXT);",
            "honey table has other columns",
        ),
        (
            &format!("{ORIGINAL_CREATE} CREATE TABLE settings (k TEXT);"),
            "\"settings\"",
        ),
        ("PRAGMA user_version = 3;", "without a honey table"),
    ];
    for (sql, reason) in foreign_schemas {
        let (_dir, path) = temp_db();
        raw_open(&path).execute_batch(sql).expect("foreign schema");
        let before = fs::read(&path).expect("read");
        let error = store::open(&path).expect_err("foreign database");
        assert!(matches!(error, StoreError::Foreign { .. }), "{error:?}");
        let shown = error.to_string();
        assert!(shown.contains(reason), "{shown}");
        assert!(shown.contains(&path.display().to_string()), "{shown}");
        assert_eq!(fs::read(&path).expect("read back"), before, "{sql}");
    }
}

#[test]
fn a_database_cut_short_is_refused_and_left_alone() {
    let (_dir, path) = temp_db();
    let mut conn = store::open(&path).expect("open");
    let events: Vec<_> = (0..200)
        .map(|_| EventBuilder::new().at("2024-01-01T00:00:00Z").build())
        .collect();
    insert(&mut conn, &events);
    drop(conn);
    let whole = fs::read(&path).expect("read");
    assert!(whole.len() > 8192, "several pages");
    let cut = &whole[..whole.len() / 2];
    fs::write(&path, cut).expect("truncate");

    let error = store::open(&path).expect_err("truncated");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("cut short"), "{error}");
    assert_eq!(fs::read(&path).expect("read back"), cut);
}
