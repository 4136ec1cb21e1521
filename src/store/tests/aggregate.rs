//! The aggregate tables: the writer's UPSERTs across batches and origins, all-or-nothing with
//! the batch, and retention.

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;

use super::{PEER, call, insert, memory_db, temp_db};
use crate::event::Origin;
use crate::store::{self, run_retention};

/// One aggregate row: (seen_count, first_seen, last_seen, local_count, local_last_seen,
/// peer_count, peer_last_seen).
type Aggregate = (
    i64,
    String,
    String,
    i64,
    Option<String>,
    i64,
    Option<String>,
);

/// The aggregate row of `key` in `table` (`ip_addresses` or `called_numbers`).
pub(super) fn aggregate(conn: &Connection, table: &str, key: &str) -> Option<Aggregate> {
    let column = if table == "ip_addresses" {
        "source_ip"
    } else {
        "called_number"
    };
    let sql = format!(
        "SELECT seen_count, first_seen, last_seen, local_count, local_last_seen, peer_count,
                peer_last_seen FROM {table} WHERE {column} = ?1"
    );
    let mut stmt = conn.prepare(&sql).expect("prepare");
    let mut rows = stmt
        .query_map([key], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        })
        .expect("query");
    rows.next().map(|row| row.expect("row"))
}

/// Every key of `table`, sorted.
pub(super) fn keys(conn: &Connection, table: &str) -> Vec<String> {
    let column = if table == "ip_addresses" {
        "source_ip"
    } else {
        "called_number"
    };
    let mut stmt = conn
        .prepare(&format!("SELECT {column} FROM {table} ORDER BY {column}"))
        .expect("prepare");
    stmt.query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// `2024-01-01 00:00:0<second>.000000000`, as stored.
fn ts(second: u8) -> String {
    format!("2024-01-01 00:00:0{second}.000000000")
}

#[test]
fn writer_keeps_counts_and_timestamps_across_batches_and_origins() {
    let mut conn = memory_db();
    insert(
        &mut conn,
        &[
            call("192.0.2.1", "0046812118532", 1).build(),
            call("192.0.2.1", "NOT_FOUND", 3).build(),
            call("192.0.2.2", "+442012345678", 2).peer(PEER).build(),
            call("192.0.2.2", "asterisk", 2).peer(PEER).build(),
            call("192.0.2.2", "100abc", 2).peer(PEER).build(),
        ],
    );
    assert_eq!(
        aggregate(&conn, "ip_addresses", "192.0.2.1"),
        Some((2, ts(1), ts(3), 2, Some(ts(3)), 0, None))
    );
    assert_eq!(
        aggregate(&conn, "ip_addresses", "192.0.2.2"),
        Some((3, ts(2), ts(2), 0, None, 3, Some(ts(2))))
    );

    // An older peer event must not move last_seen back; a newer local one moves it on.
    insert(
        &mut conn,
        &[
            call("192.0.2.1", "0046812118532", 2).peer(PEER).build(),
            call("192.0.2.2", "0046812118532", 5).build(),
            call("192.0.2.2", "+442012345678", 0).build(),
        ],
    );
    insert(&mut conn, &[call("192.0.2.1", "", 4).build()]);
    assert_eq!(
        aggregate(&conn, "ip_addresses", "192.0.2.1"),
        Some((4, ts(1), ts(4), 3, Some(ts(4)), 1, Some(ts(2))))
    );
    assert_eq!(
        aggregate(&conn, "ip_addresses", "192.0.2.2"),
        Some((5, ts(0), ts(5), 2, Some(ts(5)), 3, Some(ts(2))))
    );
    assert_eq!(
        aggregate(&conn, "called_numbers", "0046812118532"),
        Some((3, ts(1), ts(5), 2, Some(ts(5)), 1, Some(ts(2))))
    );
    assert_eq!(
        aggregate(&conn, "called_numbers", "+442012345678"),
        Some((2, ts(0), ts(2), 1, Some(ts(0)), 1, Some(ts(2))))
    );
    assert_eq!(
        keys(&conn, "called_numbers"),
        ["+442012345678", "0046812118532"]
    );
}

#[test]
fn ids_stay_put_as_keys_are_seen_again() {
    let mut conn = memory_db();
    insert(&mut conn, &[call("192.0.2.1", "1", 1).build()]);
    insert(&mut conn, &[call("192.0.2.2", "2", 2).build()]);
    let id = |conn: &Connection| -> i64 {
        conn.query_row(
            "SELECT id FROM ip_addresses WHERE source_ip = '192.0.2.1'",
            [],
            |row| row.get(0),
        )
        .expect("id")
    };
    let before = id(&conn);
    insert(&mut conn, &[call("192.0.2.1", "1", 3).build()]);
    assert_eq!(id(&conn), before);
}

#[test]
fn a_failed_batch_leaves_the_aggregates_untouched() {
    let mut conn = memory_db();
    insert(&mut conn, &[call("192.0.2.1", "100", 1).build()]);
    conn.execute_batch(
        "CREATE TRIGGER reject_fail BEFORE INSERT ON honey WHEN NEW.called_number = 'fail'
         BEGIN SELECT RAISE(ABORT, 'rejected by test trigger'); END;",
    )
    .expect("trigger");
    let batch: Vec<_> = [
        call("192.0.2.1", "100", 2).build(),
        call("192.0.2.9", "fail", 2).build(),
    ]
    .into_iter()
    .map(std::sync::Arc::new)
    .collect();
    assert!(crate::store::writer::insert_events(&mut conn, &batch).is_err());
    assert_eq!(
        aggregate(&conn, "ip_addresses", "192.0.2.1"),
        Some((1, ts(1), ts(1), 1, Some(ts(1)), 0, None))
    );
    assert_eq!(keys(&conn, "ip_addresses"), ["192.0.2.1"]);
}

#[test]
fn retention_prunes_silent_keys_and_resets_silent_sides() {
    let mut conn = memory_db();
    let now: Timestamp = "2024-06-15T12:00:00Z".parse().expect("now");
    let aged = |ip: &str, number: &str, days: i64, origin: Origin| {
        call(ip, number, 0)
            .timestamp(now - SignedDuration::from_hours(days * 24))
            .origin(origin)
            .build()
    };
    insert(
        &mut conn,
        &[
            aged("192.0.2.1", "111", 10, Origin::Local),
            aged("192.0.2.2", "222", 10, Origin::Local),
            aged("192.0.2.2", "222", 1, Origin::Peer(PEER.into())),
            aged("192.0.2.3", "333", 1, Origin::Local),
            aged("192.0.2.3", "333", 9, Origin::Peer(PEER.into())),
        ],
    );
    assert_eq!(run_retention(&conn, 7, now).expect("retention"), 3);

    assert_eq!(keys(&conn, "ip_addresses"), ["192.0.2.2", "192.0.2.3"]);
    assert_eq!(keys(&conn, "called_numbers"), ["222", "333"]);
    let two = aggregate(&conn, "ip_addresses", "192.0.2.2").expect("row");
    assert_eq!(
        (two.0, two.3, &two.4, two.5),
        (2, 0, &None, 1),
        "local side reset"
    );
    let three = aggregate(&conn, "called_numbers", "333").expect("row");
    assert_eq!(
        (three.0, three.3, three.5, &three.6),
        (2, 1, 0, &None),
        "peer side reset"
    );
    assert_eq!(run_retention(&conn, 0, now).expect("keep all"), 0);
    assert_eq!(keys(&conn, "ip_addresses").len(), 2);
}

#[test]
fn writer_connection_is_tuned_for_aggregate_upserts() {
    let (_dir, path) = temp_db();
    let conn = store::open(&path).expect("open");
    let pragma = |name: &str| -> i64 {
        conn.pragma_query_value(None, name, |row| row.get(0))
            .expect(name)
    };
    assert_eq!(pragma("cache_size"), -64 * 1024);
    assert_eq!(pragma("wal_autocheckpoint"), 10_000);
}
