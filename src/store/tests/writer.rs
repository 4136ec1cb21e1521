//! The writer: exact column values, batching, shutdown flush, failing batches.

use std::sync::Arc;
use std::sync::mpsc;

use rusqlite::Connection;
use rusqlite::types::Value;

use super::temp_db;
use crate::event::test_support::EventBuilder;
use crate::event::{BadActor, Transport};
use crate::sip::MessageKind;
use crate::store::{self, StoreError, StoreStats, WriterOptions, count_events, run_writer};
use crate::telemetry::Count;

/// Options that never prune (test timestamps are in the past).
fn keep_all(batch_max: usize) -> WriterOptions {
    WriterOptions {
        batch_max,
        retention_days: 0,
        ..WriterOptions::default()
    }
}

/// Runs the writer on this thread over `events`, already queued and with the sender dropped.
fn write_all(conn: Connection, events: Vec<BadActor>, options: &WriterOptions) -> StoreStats {
    let (sender, receiver) = mpsc::channel();
    for event in events {
        sender.send(Arc::new(event)).expect("queue");
    }
    drop(sender);
    let stats = StoreStats::default();
    run_writer(conn, &receiver, options, &stats).expect("writer ends cleanly");
    stats
}

/// Every column the writer fills, in insert order, for each row by honey_id.
fn stored_rows(conn: &Connection) -> Vec<Vec<Value>> {
    let mut stmt = conn
        .prepare(
            "SELECT event_timestamp, event_uuid, collected_method, source_ip, source_port,
                    called_number, transport_type, method, user_agent, sip_message,
                    created_by_node_id, destination_ip, destination_port, origin,
                    request_uri_user, message_kind
             FROM honey ORDER BY honey_id",
        )
        .expect("prepare");
    stmt.query_map([], |row| (0..16).map(|i| row.get::<_, Value>(i)).collect())
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn tcp_ipv6_options_from_peer() -> BadActor {
    EventBuilder::new()
        .at("2024-03-05T07:08:09.000000005Z")
        .responsive()
        .transport(Transport::Tcp)
        .source("[2001:db8::5]:40000")
        .destination("[2001:db8::10]:5061")
        .number("NOT_FOUND")
        .request_uri_user(None)
        .method("OPTIONS")
        .user_agent("NOT_FOUND")
        .message("OPTIONS sip:192.0.2.1 SIP/2.0\r\n\r\n")
        .peer("12D3KooWExample")
        .build()
}

#[test]
fn every_column_is_stored_for_udp_ipv4_and_tcp_ipv6_events() {
    let (_dir, path) = temp_db();
    let udp = EventBuilder::new()
        .at("2024-03-05T07:08:09.123456789Z")
        .build();
    let tcp = tcp_ipv6_options_from_peer();
    let stats = write_all(
        store::open(&path).expect("open"),
        vec![udp.clone(), tcp.clone()],
        &keep_all(1000),
    );
    assert_eq!(stats.events_stored.count(), 2);
    assert_eq!(stats.batches.count(), 1);

    let rows = stored_rows(&store::open_read_only(&path).expect("reopen"));
    let node = "00000000-0000-0000-0000-000000001234";
    assert_eq!(
        rows[0],
        vec![
            text("2024-03-05 07:08:09.123456789"),
            text(&udp.event_uuid.hyphenated().to_string()),
            text("passive"),
            text("104.149.141.214"),
            Value::Integer(5070),
            text("100"),
            text("UDP"),
            text("INVITE"),
            text("friendly-scanner"),
            text("INVITE sip:100@192.0.2.10 SIP/2.0\r\n\r\n"),
            text(node),
            text("192.0.2.10"),
            Value::Integer(5060),
            text("local"),
            text("100"),
            text("request"),
        ]
    );
    assert_eq!(
        rows[1],
        vec![
            text("2024-03-05 07:08:09.000000005"),
            text(&tcp.event_uuid.hyphenated().to_string()),
            text("responsive"),
            text("2001:db8::5"),
            Value::Integer(40000),
            text("NOT_FOUND"),
            text("TCP"),
            text("OPTIONS"),
            text("NOT_FOUND"),
            text("OPTIONS sip:192.0.2.1 SIP/2.0\r\n\r\n"),
            text(node),
            text("2001:db8::10"),
            Value::Integer(5061),
            text("peer:12D3KooWExample"),
            Value::Null,
            text("request"),
        ]
    );
}

#[test]
fn empty_message_stores_nulls_like_the_original() {
    let (_dir, path) = temp_db();
    let empty = EventBuilder::new().at("2024-01-01T00:00:00Z").empty();
    let keep_alive = empty.clone().message("\r\n\r\n").build();
    let response = EventBuilder::new()
        .at("2024-01-01T00:00:00Z")
        .method("NOT_FOUND")
        .kind(MessageKind::Response)
        .build();
    let garbage = EventBuilder::new()
        .at("2024-01-01T00:00:00Z")
        .kind(MessageKind::Malformed)
        .build();
    let empty = empty.build();
    let events = vec![empty, keep_alive, response, garbage];
    write_all(store::open(&path).expect("open"), events, &keep_all(10));
    let rows = stored_rows(&store::open_read_only(&path).expect("reopen"));

    let nullable = |row: &Vec<Value>| {
        [
            row[5].clone(),
            row[7].clone(),
            row[8].clone(),
            row[9].clone(),
        ]
    };
    assert_eq!(
        nullable(&rows[0]),
        [Value::Null, Value::Null, Value::Null, Value::Null]
    );
    assert_eq!(rows[0][15], text("empty"));
    assert_eq!(
        nullable(&rows[1]),
        [Value::Null, Value::Null, Value::Null, text("\r\n\r\n")]
    );
    assert_eq!(rows[2][7], text("NOT_FOUND"));
    assert_eq!(rows[2][15], text("response"));
    assert_eq!(rows[3][15], text("malformed"));
}

#[test]
fn queued_events_are_split_into_batches_of_batch_max() {
    let (_dir, path) = temp_db();
    let events = (0..2500)
        .map(|_| EventBuilder::new().at("2024-01-01T00:00:00Z").build())
        .collect();
    let stats = write_all(store::open(&path).expect("open"), events, &keep_all(1000));
    assert_eq!(
        (
            stats.events_stored.count(),
            stats.batches.count(),
            stats.events_failed.count()
        ),
        (2500, 3, 0)
    );
    assert_eq!(
        count_events(&store::open(&path).expect("reopen")).expect("count"),
        2500
    );
}

#[test]
fn shutdown_flushes_everything_queued() {
    let (_dir, path) = temp_db();
    let (sender, receiver) = mpsc::sync_channel(10_000);
    let stats = Arc::new(StoreStats::default());
    let handle = store::spawn_writer(
        store::open(&path).expect("open"),
        receiver,
        keep_all(1000),
        Arc::clone(&stats),
    )
    .expect("spawn");
    for _ in 0..2500 {
        sender
            .send(Arc::new(
                EventBuilder::new().at("2024-01-01T00:00:00Z").build(),
            ))
            .expect("queue");
    }
    // An idle reader keeps SQLite from deleting the WAL when the writer closes, so an empty
    // WAL below shows the shutdown checkpoint ran.
    let reader = store::open_read_only(&path).expect("reader");
    drop(sender);
    handle
        .join()
        .expect("writer thread")
        .expect("writer ends cleanly");

    assert_eq!(stats.events_stored.count(), 2500);
    assert_eq!(count_events(&reader).expect("count"), 2500);
    assert_eq!(
        count_events(&store::open(&path).expect("reopen")).expect("count"),
        2500
    );
    let wal = path.with_extension("db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "WAL truncated by the shutdown checkpoint");
}

#[test]
fn failing_batch_is_counted_and_the_writer_goes_on() {
    let (_dir, path) = temp_db();
    let conn = store::open(&path).expect("open");
    conn.execute_batch(
        "CREATE TRIGGER reject_fail BEFORE INSERT ON honey WHEN NEW.called_number = 'fail'
         BEGIN SELECT RAISE(ABORT, 'rejected by test trigger'); END;",
    )
    .expect("trigger");
    let number = |n: &str| {
        EventBuilder::new()
            .at("2024-01-01T00:00:00Z")
            .number(n)
            .build()
    };
    // batch_max 2: [ok, fail] is rolled back whole, [ok, ok] is stored.
    let events = vec![number("1"), number("fail"), number("2"), number("3")];
    let stats = write_all(conn, events, &keep_all(2));

    assert_eq!((stats.events_stored.count(), stats.batches.count()), (2, 1));
    assert_eq!(
        (stats.events_failed.count(), stats.batches_failed.count()),
        (2, 1)
    );
    let conn = store::open(&path).expect("reopen");
    let mut stmt = conn
        .prepare("SELECT called_number FROM honey ORDER BY honey_id")
        .expect("prepare");
    let numbers: Vec<String> = stmt
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(numbers, ["2", "3"]);
}

#[test]
fn writer_refuses_an_unmigrated_connection() {
    let (_sender, receiver) = mpsc::channel::<Arc<BadActor>>();
    let conn = Connection::open_in_memory().expect("in-memory db");
    let error = run_writer(conn, &receiver, &keep_all(10), &StoreStats::default())
        .expect_err("not migrated");
    assert!(
        matches!(error, StoreError::SchemaTooOld { found: 0, .. }),
        "{error:?}"
    );
}
