//! The database: created with the original schema at start-up, migrated from the original's
//! files without loss, pruned by retention; the node id survives restarts.

use crate::support::daemon::Daemon;
use crate::support::sip::{options, udp_client};

/// event uuid, source ip, source port, called number, method.
type MigratedRow = (String, String, Option<i64>, Option<String>, Option<String>);

const ORIGINAL_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS honey (   honey_id INTEGER PRIMARY KEY,   event_timestamp TEXT,   event_uuid TEXT,   collected_method TEXT,   source_ip TEXT,   called_number TEXT,   transport_type TEXT,   method TEXT,   user_agent TEXT,   sip_message TEXT,   created_by_node_id TEXT,   created_at DATETIME DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')));
CREATE INDEX IF NOT EXISTS source_ip_index ON honey (source_ip);
CREATE INDEX IF NOT EXISTS called_number_index ON honey (called_number);
CREATE INDEX IF NOT EXISTS event_uuid_index ON honey (event_uuid);";

#[test]
fn a_database_written_by_the_original_migrates_without_loss() {
    let builder = Daemon::builder();
    let db_path = builder.dir().join("sentrypeer.db");
    {
        let db = rusqlite::Connection::open(&db_path).expect("create original db");
        db.execute_batch(ORIGINAL_SCHEMA).expect("original schema");
        let insert = "INSERT INTO honey (event_timestamp, event_uuid, collected_method, source_ip, called_number, transport_type, method, user_agent, sip_message, created_by_node_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);";
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%S%.9f")
            .to_string();
        db.execute(
            insert,
            rusqlite::params![
                now,
                "2ceba0a8-0000-4000-8000-000000000001",
                "passive",
                "104.149.141.214",
                "100",
                "UDP",
                "INVITE",
                "friendly-scanner",
                "INVITE sip:100@x SIP/2.0",
                "6f2c1e2e-0000-4000-8000-000000000001"
            ],
        )
        .expect("C-build row");
        db.execute(
            insert,
            rusqlite::params![
                now,
                "2ceba0a8-0000-4000-8000-000000000002",
                "responsive",
                "1.2.3.4:5060",
                "+441234567890",
                "TCP",
                "OPTIONS",
                "sipsak",
                "OPTIONS",
                "6f2c1e2e-0000-4000-8000-000000000001"
            ],
        )
        .expect("Rust-build row with port");
        db.execute(
            insert,
            rusqlite::params![
                now,
                "2ceba0a8-0000-4000-8000-000000000003",
                "passive",
                "[2001:db8::1]:5060",
                rusqlite::types::Null,
                "UDP",
                rusqlite::types::Null,
                rusqlite::types::Null,
                rusqlite::types::Null,
                "6f2c1e2e-0000-4000-8000-000000000001"
            ],
        )
        .expect("empty-packet row");
    }
    let daemon = builder.args(["-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    udp_client()
        .send_to(options("200", "UDP", "new", "n1").as_bytes(), udp)
        .expect("send");
    daemon.wait_for_probes(1);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let db = stopped.db();
    let rows: Vec<MigratedRow> = stopped.rows("SELECT event_uuid, source_ip, source_port, called_number, method FROM honey ORDER BY honey_id", |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        });
    assert_eq!(rows.len(), 4, "old rows kept, new row added: {rows:?}");
    assert_eq!((rows[0].1.as_str(), rows[0].2), ("104.149.141.214", None));
    assert_eq!((rows[1].1.as_str(), rows[1].2), ("1.2.3.4", Some(5060)));
    assert_eq!(rows[1].3.as_deref(), Some("+441234567890"));
    assert_eq!((rows[2].1.as_str(), rows[2].2), ("2001:db8::1", Some(5060)));
    assert_eq!(rows[3].4.as_deref(), Some("OPTIONS"));
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert!(
        version >= 2,
        "migrated to the current schema, got {version}"
    );
}

#[test]
fn the_original_table_and_its_kept_indexes_exist_before_any_event() {
    let stopped = Daemon::builder().args(["-N"]).start().stop();
    stopped.assert_clean_exit();
    let db = stopped.db();
    let mut names: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'honey' ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("names");
    names.retain(|n| !n.starts_with("sqlite_autoindex"));
    for expected in ["honey", "event_uuid_index", "event_timestamp_index"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    // The original's random-key indexes are dropped (schema migration 6): nothing reads them.
    for dropped in ["source_ip_index", "called_number_index"] {
        assert!(
            !names.iter().any(|n| n == dropped),
            "{dropped} in {names:?}"
        );
    }
}

#[test]
fn retention_deletes_events_older_than_the_window_at_start() {
    let builder = Daemon::builder();
    let first = builder.args(["-N", "--retention-days", "3"]).start().stop();
    first.assert_clean_exit();
    let db_path = first.path("sentrypeer.db");
    {
        let db = rusqlite::Connection::open(&db_path).expect("open");
        let old = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 4))
            .strftime("%Y-%m-%d %H:%M:%S%.9f")
            .to_string();
        let recent = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 2))
            .strftime("%Y-%m-%d %H:%M:%S%.9f")
            .to_string();
        for (stamp, uuid) in [(old, "old"), (recent, "recent")] {
            db.execute(
                "INSERT INTO honey (event_timestamp, event_uuid, source_ip) VALUES (?, ?, '192.0.2.1')",
                [stamp, uuid.to_owned()],
            )
            .expect("insert");
        }
    }
    // Restart on the same files: retention runs at start-up.
    let second = Daemon::builder()
        .without_defaults()
        .args([
            "-N",
            "--sip-listen-address",
            "127.0.0.1:0",
            "--retention-days",
            "3",
            "-f",
        ])
        .args([db_path.display().to_string()])
        .start();
    assert!(
        second.wait_for(|lines| lines.iter().any(|l| l.contains("retention"))),
        "retention ran"
    );
    let stopped = second.stop();
    stopped.assert_clean_exit();
    let db = rusqlite::Connection::open(&db_path).expect("open");
    let uuids: Vec<String> = db
        .prepare("SELECT event_uuid FROM honey")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(uuids, vec!["recent".to_owned()]);
}

#[test]
fn node_id_survives_a_restart() {
    let first = Daemon::builder().args(["-N"]).start().stop();
    first.assert_clean_exit();
    let id_file = first.path("sentrypeer.node_id");
    let id = std::fs::read_to_string(&id_file).expect("node id written next to the database");
    let db_path = first.path("sentrypeer.db");
    let second = Daemon::builder()
        .without_defaults()
        .args(["-N", "--sip-listen-address", "127.0.0.1:0", "-f"])
        .args([db_path.display().to_string()])
        .start();
    assert!(second.logged(id.trim()), "same node id after restart");
    second.stop().assert_clean_exit();
}
