//! Retention: the window, 0 = forever, chunked deletes, and runs inside the writer.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;

use super::{insert, memory_db, raw_open, temp_db};
use crate::event::BadActor;
use crate::event::test_support::EventBuilder;
use crate::store::retention::delete_older_than;
use crate::store::{
    self, StoreStats, WriterOptions, count_events, retention_cutoff, run_retention, run_writer,
};
use crate::telemetry::Count;

/// An event `age` before `now`, calling `number`.
fn aged(now: Timestamp, age: SignedDuration, number: &str) -> BadActor {
    EventBuilder::new()
        .timestamp(now - age)
        .number(number)
        .build()
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n * 24)
}

fn numbers(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT called_number FROM honey ORDER BY honey_id")
        .expect("prepare");
    stmt.query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn now() -> Timestamp {
    "2024-06-15T12:00:00Z".parse().expect("timestamp")
}

#[test]
fn events_older_than_the_window_go_and_newer_stay() {
    let mut conn = memory_db();
    let now = now();
    insert(
        &mut conn,
        &[
            aged(now, days(10), "ten days"),
            aged(
                now,
                days(7) + SignedDuration::from_nanos(1),
                "just over seven",
            ),
            aged(now, days(7), "exactly seven"),
            aged(now, days(6), "six days"),
            aged(now, SignedDuration::from_mins(5), "five minutes"),
        ],
    );
    assert_eq!(run_retention(&conn, 7, now).expect("retention"), 2);
    assert_eq!(
        numbers(&conn),
        ["exactly seven", "six days", "five minutes"]
    );
    assert_eq!(run_retention(&conn, 7, now).expect("again"), 0);
}

#[test]
fn zero_days_keeps_everything() {
    let mut conn = memory_db();
    let now = now();
    insert(
        &mut conn,
        &[aged(now, days(4000), "old"), aged(now, days(0), "new")],
    );
    assert_eq!(run_retention(&conn, 0, now).expect("retention"), 0);
    assert_eq!(count_events(&conn).expect("count"), 2);
    assert_eq!(retention_cutoff(now, 0), None);
}

#[test]
fn cutoff_is_formatted_like_event_timestamp() {
    assert_eq!(
        retention_cutoff(now(), 7).as_deref(),
        Some("2024-06-08 12:00:00.000000000")
    );
    assert_eq!(
        retention_cutoff(now(), u32::MAX),
        None,
        "window before the calendar"
    );
}

#[test]
fn deletes_happen_in_chunks_until_nothing_is_left() {
    let mut conn = memory_db();
    let now = now();
    let mut events: Vec<BadActor> = (0..5).map(|_| aged(now, days(30), "old")).collect();
    events.push(aged(now, days(1), "new"));
    insert(&mut conn, &events);
    let cutoff = retention_cutoff(now, 7).expect("cutoff");
    assert_eq!(delete_older_than(&conn, &cutoff, 2).expect("delete"), 5);
    assert_eq!(numbers(&conn), ["new"]);
}

#[test]
fn rows_without_a_timestamp_are_kept() {
    let conn = memory_db();
    conn.execute("INSERT INTO honey (source_ip) VALUES ('192.0.2.1')", [])
        .expect("insert");
    assert_eq!(run_retention(&conn, 1, now()).expect("retention"), 0);
    assert_eq!(count_events(&conn).expect("count"), 1);
}

#[test]
fn writer_runs_retention_at_start_up() {
    let (_dir, path) = temp_db();
    let now = Timestamp::now();
    let mut conn = store::open(&path).expect("open");
    insert(
        &mut conn,
        &[aged(now, days(30), "old"), aged(now, days(1), "new")],
    );

    let (sender, receiver) = mpsc::channel::<Arc<BadActor>>();
    drop(sender);
    let stats = StoreStats::default();
    let options = WriterOptions {
        retention_days: 7,
        ..WriterOptions::default()
    };
    run_writer(conn, &receiver, &options, &stats).expect("writer");

    assert_eq!(stats.retention_deleted.count(), 1);
    assert_eq!(numbers(&raw_open(&path)), ["new"]);
}

#[test]
fn writer_runs_retention_periodically_while_idle() {
    let (_dir, path) = temp_db();
    let (sender, receiver) = mpsc::channel::<Arc<BadActor>>();
    let stats = Arc::new(StoreStats::default());
    let options = WriterOptions {
        retention_days: 7,
        retention_interval: Duration::from_millis(20),
        ..WriterOptions::default()
    };
    let handle = store::spawn_writer(
        store::open(&path).expect("open"),
        receiver,
        options,
        Arc::clone(&stats),
    )
    .expect("spawn");

    // Written behind the writer's back, after its start-up run.
    let mut other = store::open(&path).expect("second connection");
    insert(&mut other, &[aged(Timestamp::now(), days(30), "old")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    // The rows go first, the counter follows once the whole run is done.
    while count_events(&other).expect("count") > 0 || stats.retention_deleted.count() == 0 {
        assert!(Instant::now() < deadline, "retention never ran");
        std::thread::sleep(Duration::from_millis(10));
    }

    drop(sender);
    handle
        .join()
        .expect("writer thread")
        .expect("writer ends cleanly");
}
