//! The read side over the aggregate tables: point lookups, counts and listings through each
//! origin filter, `since`, minimum counts, keyset pagination, query plans, empty databases.

use std::ops::ControlFlow;

use rusqlite::Connection;

use super::{PEER, call, insert, memory_db, temp_db};
use crate::store::query::{
    self, Cursor, ListFilter, OriginFilter, SeenRecord, count_ips, count_numbers, each_ip,
    each_ip_by_events, each_number, ip_seen, ips_last_seen_between, number_seen,
};
use crate::store::{self, StoreError};

pub(super) const ORIGINS: [OriginFilter; 3] =
    [OriginFilter::Any, OriginFilter::Local, OriginFilter::Peer];

/// `2024-01-01 00:00:0<second>.000000000`, as stored.
pub(super) fn ts(second: u8) -> String {
    format!("2024-01-01 00:00:0{second}.000000000")
}

/// Four IPs and their numbers; see the assertions for what each saw.
fn fixture() -> Connection {
    let mut conn = memory_db();
    insert(
        &mut conn,
        &[
            call("192.0.2.1", "0046812118532", 1).build(),
            call("192.0.2.1", "0046812118532", 5).build(),
            call("192.0.2.2", "+442012345678", 5).peer(PEER).build(),
            call("192.0.2.3", "NOT_FOUND", 2).build(),
        ],
    );
    insert(
        &mut conn,
        &[
            call("192.0.2.1", "100", 3).peer(PEER).build(),
            call("2001:db8::1", "100", 5).build(),
            call("2001:db8::1", "asterisk", 4).build(),
        ],
    );
    conn
}

/// Every record `each` lists, after `after`, up to `limit`.
pub(super) fn listed(
    conn: &Connection,
    numbers: bool,
    filter: &ListFilter,
    after: Option<&Cursor>,
    limit: Option<usize>,
) -> Vec<SeenRecord> {
    let mut out = Vec::new();
    let push = |record| {
        out.push(record);
        ControlFlow::Continue(())
    };
    if numbers {
        each_number(conn, filter, after, limit, push).expect("each_number");
    } else {
        each_ip(conn, filter, after, limit, push).expect("each_ip");
    }
    out
}

/// (key, seen_last, seen_count) of each record.
pub(super) fn summary(records: &[SeenRecord]) -> Vec<(String, String, u64)> {
    records
        .iter()
        .map(|r| (r.key.clone(), r.seen_last.clone(), r.seen_count))
        .collect()
}

fn row(key: &str, second: u8, count: u64) -> (String, String, u64) {
    (key.to_owned(), ts(second), count)
}

fn origin(origin: OriginFilter) -> ListFilter {
    ListFilter {
        origin,
        ..ListFilter::default()
    }
}

#[test]
fn point_lookups_see_through_each_origin() {
    let conn = fixture();
    let seen = |ip, origin| ip_seen(&conn, ip, origin).expect("ip_seen");
    let any = seen("192.0.2.1", OriginFilter::Any).expect("seen");
    assert_eq!(
        (any.key.as_str(), any.seen_last.clone(), any.seen_count),
        ("192.0.2.1", ts(5), 3)
    );
    let local = seen("192.0.2.1", OriginFilter::Local).expect("seen locally");
    assert_eq!(
        (local.seen_last.clone(), local.seen_count, local.id),
        (ts(5), 2, any.id)
    );
    let peer = seen("192.0.2.1", OriginFilter::Peer).expect("seen by a peer");
    assert_eq!((peer.seen_last, peer.seen_count), (ts(3), 1));
    assert_eq!(seen("192.0.2.2", OriginFilter::Local), None);
    assert!(seen("192.0.2.2", OriginFilter::Peer).is_some());
    assert_eq!(seen("192.0.2.99", OriginFilter::Any), None);
    assert_eq!(
        seen("192.0.2.", OriginFilter::Any),
        None,
        "exact match only"
    );

    let number = |n, origin| number_seen(&conn, n, origin).expect("number_seen");
    let zeros = number("0046812118532", OriginFilter::Any).expect("leading zeros kept");
    assert_eq!((zeros.seen_last, zeros.seen_count), (ts(5), 2));
    assert!(number("+442012345678", OriginFilter::Peer).is_some());
    assert_eq!(number("+442012345678", OriginFilter::Local), None);
    assert_eq!(number("NOT_FOUND", OriginFilter::Any), None);
    assert_eq!(number("asterisk", OriginFilter::Any), None);
    assert_eq!(number("46812118532", OriginFilter::Any), None);
}

#[test]
fn listings_are_newest_first_then_by_key_through_each_origin() {
    let conn = fixture();
    let ips = |filter| summary(&listed(&conn, false, &filter, None, None));
    assert_eq!(
        ips(origin(OriginFilter::Any)),
        [
            row("192.0.2.1", 5, 3),
            row("192.0.2.2", 5, 1),
            row("2001:db8::1", 5, 2),
            row("192.0.2.3", 2, 1),
        ]
    );
    assert_eq!(
        ips(origin(OriginFilter::Local)),
        [
            row("192.0.2.1", 5, 2),
            row("2001:db8::1", 5, 2),
            row("192.0.2.3", 2, 1)
        ]
    );
    assert_eq!(
        ips(origin(OriginFilter::Peer)),
        [row("192.0.2.2", 5, 1), row("192.0.2.1", 3, 1)]
    );
    let numbers = |filter| summary(&listed(&conn, true, &filter, None, None));
    assert_eq!(
        numbers(origin(OriginFilter::Any)),
        [
            row("+442012345678", 5, 1),
            row("0046812118532", 5, 2),
            row("100", 5, 2)
        ]
    );
    assert_eq!(
        numbers(origin(OriginFilter::Peer)),
        [row("+442012345678", 5, 1), row("100", 3, 1)]
    );
    for (origin, ips, numbers) in [
        (OriginFilter::Any, 4, 3),
        (OriginFilter::Local, 3, 2),
        (OriginFilter::Peer, 2, 2),
    ] {
        let filter = self::origin(origin);
        assert_eq!(count_ips(&conn, &filter).expect("count"), ips, "{origin:?}");
        assert_eq!(
            count_numbers(&conn, &filter).expect("count"),
            numbers,
            "{origin:?}"
        );
    }
}

#[test]
fn since_and_minimum_count_filter_on_the_filtered_side() {
    let conn = fixture();
    let filter = |origin, since: u8, min_seen_count| ListFilter {
        origin,
        since: Some(ts(since)),
        min_seen_count,
        attack_type: None,
    };
    let ips = |filter: ListFilter| {
        let listed = summary(&listed(&conn, false, &filter, None, None));
        let count = count_ips(&conn, &filter).expect("count");
        assert_eq!(
            usize::try_from(count).ok(),
            Some(listed.len()),
            "{filter:?}"
        );
        listed
    };
    assert_eq!(
        ips(filter(OriginFilter::Peer, 4, 0)),
        [row("192.0.2.2", 5, 1)],
        "192.0.2.1 was seen at 5, but by a peer only at 3"
    );
    assert_eq!(ips(filter(OriginFilter::Any, 3, 0)).len(), 3);
    assert_eq!(
        ips(filter(OriginFilter::Any, 2, 0)).len(),
        4,
        "since is inclusive"
    );
    assert_eq!(
        ips(filter(OriginFilter::Any, 0, 2)),
        [row("192.0.2.1", 5, 3), row("2001:db8::1", 5, 2)]
    );
    assert_eq!(
        ips(filter(OriginFilter::Local, 0, 2)),
        [row("192.0.2.1", 5, 2), row("2001:db8::1", 5, 2)]
    );
    assert_eq!(ips(filter(OriginFilter::Peer, 0, 2)), []);
    assert_eq!(ips(filter(OriginFilter::Any, 6, 0)), []);
}

#[test]
fn limits_cursors_and_breaks() {
    let conn = fixture();
    let any = ListFilter::default();
    let all = listed(&conn, false, &any, None, None);
    assert_eq!(listed(&conn, false, &any, None, Some(2)), all[..2]);
    assert_eq!(listed(&conn, false, &any, None, Some(0)), []);
    let cursor = Cursor::after(&all[0]);
    assert_eq!(listed(&conn, false, &any, Some(&cursor), None), all[1..]);
    let cursor = Cursor::after(&all[3]);
    assert_eq!(listed(&conn, false, &any, Some(&cursor), None), []);

    let mut calls = 0;
    each_ip(&conn, &any, None, None, |_| {
        calls += 1;
        ControlFlow::Break(())
    })
    .expect("each_ip");
    assert_eq!(calls, 1, "a break stops the listing");
}

#[test]
fn ips_last_seen_in_a_half_open_window() {
    let conn = fixture();
    let mut keys = Vec::new();
    ips_last_seen_between(&conn, &ts(2), &ts(5), |record| {
        keys.push(record.key);
        ControlFlow::Continue(())
    })
    .expect("between");
    assert_eq!(keys, ["192.0.2.3"]);
    keys.clear();
    ips_last_seen_between(&conn, &ts(5), &ts(6), |record| {
        keys.push(record.key);
        ControlFlow::Continue(())
    })
    .expect("between");
    assert_eq!(keys, ["192.0.2.1", "192.0.2.2", "2001:db8::1"]);
}

#[test]
fn ips_by_events_most_first_from_the_index_alone() {
    let conn = fixture();
    let by_events = |limit, stop_after| {
        let mut ips = Vec::new();
        each_ip_by_events(&conn, limit, |ip, events| {
            ips.push(format!("{ip} {events}"));
            if ips.len() == stop_after {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("by events");
        ips
    };
    // Both origins count (192.0.2.1: 2 local, 1 peer); ties by IP.
    let all = ["192.0.2.1 3", "2001:db8::1 2", "192.0.2.2 1", "192.0.2.3 1"];
    assert_eq!(by_events(10, 0), all);
    assert_eq!(by_events(2, 0), all[..2]);
    assert_eq!(by_events(10, 1), all[..1], "a break stops the listing");
    let plan = plan(&conn, query::ips_by_events_sql());
    assert!(
        plan.contains("COVERING INDEX ip_addresses_seen_count_index"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

#[test]
fn an_empty_database_answers_with_nothing() {
    let conn = memory_db();
    for origin in ORIGINS {
        assert_eq!(ip_seen(&conn, "192.0.2.1", origin).expect("ip_seen"), None);
        assert_eq!(
            number_seen(&conn, "100", origin).expect("number_seen"),
            None
        );
        let filter = self::origin(origin);
        assert_eq!(count_ips(&conn, &filter).expect("count"), 0);
        assert_eq!(count_numbers(&conn, &filter).expect("count"), 0);
        assert_eq!(listed(&conn, false, &filter, None, None), []);
        assert_eq!(
            listed(&conn, true, &filter, Some(&Cursor::default()), Some(5)),
            []
        );
    }
    ips_last_seen_between(&conn, "", "9", |_| panic!("no rows")).expect("between");
    each_ip_by_events(&conn, 10, |_, _| panic!("no rows")).expect("by events");
}

/// `EXPLAIN QUERY PLAN` of `sql` (parameters bound to NULL), one line per step.
pub(super) fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
    let steps: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(nulls), |row| row.get(3))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    steps.join("\n")
}

#[test]
fn newest_first_listings_of_any_origin_need_no_sort() {
    let conn = fixture();
    for (numbers, index) in [
        (false, "ip_addresses_last_seen_index"),
        (true, "called_numbers_last_seen_index"),
    ] {
        for after in [false, true] {
            let plan = plan(&conn, query::listing_sql(numbers, OriginFilter::Any, after));
            assert!(!plan.contains("USE TEMP B-TREE FOR ORDER BY"), "{plan}");
            assert!(plan.contains(index), "{plan}");
        }
        // The control: listings by one origin's columns do sort (no index on them).
        let plan = plan(
            &conn,
            query::listing_sql(numbers, OriginFilter::Local, false),
        );
        assert!(plan.contains("USE TEMP B-TREE FOR ORDER BY"), "{plan}");
    }
}

#[test]
fn every_statement_prepares_on_a_read_only_connection() {
    let (_dir, path) = temp_db();
    drop(store::open(&path).expect("create"));
    let reader = store::open_read_only(&path).expect("read-only");
    for sql in query::all_statements() {
        reader.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[test]
fn a_read_snapshot_keeps_the_total_and_the_listing_in_step() -> Result<(), StoreError> {
    let (_dir, path) = temp_db();
    let mut writer = store::open(&path)?;
    insert(&mut writer, &[call("192.0.2.1", "100", 1).build()]);
    let reader = store::open_read_only(&path)?;
    let snapshot = query::begin_read(&reader)?;
    let filter = ListFilter::default();
    assert_eq!(count_ips(&snapshot, &filter)?, 1);
    insert(&mut writer, &[call("192.0.2.2", "200", 2).build()]);
    assert_eq!(listed(&snapshot, false, &filter, None, None).len(), 1);
    drop(snapshot);
    assert_eq!(listed(&reader, false, &filter, None, None).len(), 2);
    Ok(())
}

#[test]
fn the_opendht_filter_groups_the_bridge_events_and_peer_includes_them() {
    use crate::event::Origin;
    let mut conn = memory_db();
    let from_dht =
        |ip: &str, number: &str, second| call(ip, number, second).origin(Origin::OpenDht).build();
    let duplicate = from_dht("192.0.2.7", "+442012345678", 3);
    insert(
        &mut conn,
        &[
            from_dht("192.0.2.7", "+442012345678", 2),
            duplicate.clone(),
            call("192.0.2.7", "+442012345678", 4).build(),
            call("192.0.2.8", "100", 1).peer(PEER).build(),
        ],
    );
    // The same value again (same event_uuid) is not stored twice.
    insert(&mut conn, &[duplicate]);
    let opendht = origin(OriginFilter::OpenDht);
    let ip = ip_seen(&conn, "192.0.2.7", OriginFilter::OpenDht)
        .expect("query")
        .expect("seen");
    assert_eq!((ip.seen_count, ip.seen_last.as_str()), (2, ts(3).as_str()));
    assert_ne!(ip.id, 0, "the aggregate row's id");
    assert_eq!(
        ip_seen(&conn, "192.0.2.8", OriginFilter::OpenDht).expect("query"),
        None
    );
    let number = number_seen(&conn, "+442012345678", OriginFilter::OpenDht)
        .expect("query")
        .expect("seen");
    assert_eq!(number.seen_count, 2);
    assert_eq!(
        summary(&listed(&conn, false, &opendht, None, None)),
        [row("192.0.2.7", 3, 2)]
    );
    assert_eq!(count_ips(&conn, &opendht).expect("count"), 1);
    assert_eq!(count_numbers(&conn, &opendht).expect("count"), 1);
    // They are peer data in the aggregates.
    let peer = ip_seen(&conn, "192.0.2.7", OriginFilter::Peer)
        .expect("query")
        .expect("seen");
    assert_eq!(peer.seen_count, 2);
}
