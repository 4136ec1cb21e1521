//! The read side over `honey`: recent events with each filter and keyset pagination, both
//! access paths for `since`, statistics, and the newest timestamp.

use rusqlite::Connection;

use super::query_seen::plan;
use super::{insert, memory_db};
use crate::event::test_support::EventBuilder;
use crate::event::{BadActor, Transport};
use crate::store::query::{
    self, CountBy, CountedColumn, EventFilter, EventRow, OriginFilter, Stats, Totals, counts_of,
    latest_event_timestamp, recent_events, stats,
};

/// `2024-01-01 00:00:0<second>.000000000`, as stored.
fn ts(second: u8) -> String {
    format!("2024-01-01 00:00:0{second}.000000000")
}

/// A UDP INVITE from `ip` at second `second`.
fn at(second: u8, ip: &str) -> EventBuilder {
    EventBuilder::new()
        .at(&format!("2024-01-01T00:00:0{second}Z"))
        .source_ip(ip)
}

/// Five events, honey_id 1 to 5 (see the comments).
fn fixture() -> Connection {
    let mut conn = memory_db();
    let options = at(2, "192.0.2.2")
        .transport(Transport::Tcp)
        .responsive()
        .number("NOT_FOUND")
        .request_uri_user(None)
        .method("OPTIONS")
        .user_agent("sipvicious")
        .peer("12D3KooWPeer")
        .build();
    let register = at(3, "2001:db8::1")
        .transport(Transport::Tls)
        .number("+44")
        .method("REGISTER")
        .user_agent("NOT_FOUND")
        .build();
    let empty = at(4, "192.0.2.1").empty().build();
    insert(&mut conn, &[at(1, "192.0.2.1").build(), options, register]);
    insert(&mut conn, &[empty, at(5, "192.0.2.1").build()]);
    conn
}

fn ids(rows: &[EventRow]) -> Vec<i64> {
    rows.iter().map(|row| row.id).collect()
}

fn newest(limit: usize) -> EventFilter {
    EventFilter {
        limit,
        ..EventFilter::default()
    }
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[test]
fn recent_events_are_newest_first_with_every_column() {
    let conn = fixture();
    let rows = recent_events(&conn, &newest(10)).expect("recent");
    assert_eq!(ids(&rows), [5, 4, 3, 2, 1]);
    let options = &rows[3];
    assert_eq!(
        options,
        &EventRow {
            id: 2,
            event_timestamp: some(&ts(2)),
            event_uuid: options.event_uuid.clone(),
            created_by_node_id: some("00000000-0000-0000-0000-000000001234"),
            collected_method: some("responsive"),
            transport_type: some("TCP"),
            source_ip: some("192.0.2.2"),
            source_port: Some(5070),
            destination_ip: some("192.0.2.10"),
            destination_port: Some(5060),
            called_number: some("NOT_FOUND"),
            request_uri_user: None,
            method: some("OPTIONS"),
            user_agent: some("sipvicious"),
            sip_message: some("OPTIONS sip:192.0.2.10 SIP/2.0\r\n\r\n"),
            origin: "peer:12D3KooWPeer".into(),
            message_kind: some("request"),
            attack_type: some("scan"),
            ..EventRow::default()
        }
    );
    assert_eq!(options.event_uuid.as_ref().map(String::len), Some(36));
    let empty = &rows[1];
    assert_eq!((&empty.method, &empty.user_agent), (&None, &None));
    assert_eq!(empty.message_kind.as_deref(), Some("empty"));
    assert_eq!(recent_events(&conn, &newest(0)).expect("none"), []);
}

#[test]
fn recent_events_filter_by_exact_values_and_origin() {
    let conn = fixture();
    let find = |filter: EventFilter| ids(&recent_events(&conn, &filter).expect("recent"));
    let all = newest(10);
    let cases = [
        (
            EventFilter {
                method: some("INVITE"),
                ..all.clone()
            },
            vec![5, 1],
        ),
        (
            EventFilter {
                method: some("invite"),
                ..all.clone()
            },
            vec![],
        ),
        (
            EventFilter {
                user_agent: some("sipvicious"),
                ..all.clone()
            },
            vec![2],
        ),
        (
            EventFilter {
                transport: some("TLS"),
                ..all.clone()
            },
            vec![3],
        ),
        (
            EventFilter {
                origin: OriginFilter::Peer,
                ..all.clone()
            },
            vec![2],
        ),
        (
            EventFilter {
                origin: OriginFilter::Local,
                ..all.clone()
            },
            vec![5, 4, 3, 1],
        ),
        (
            EventFilter {
                since: Some(ts(3)),
                ..all.clone()
            },
            vec![5, 4, 3],
        ),
        (
            EventFilter {
                since: Some(ts(2)),
                transport: some("UDP"),
                origin: OriginFilter::Local,
                ..all.clone()
            },
            vec![5, 4],
        ),
        (
            EventFilter {
                before_id: Some(4),
                limit: 2,
                ..all.clone()
            },
            vec![3, 2],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(find(filter.clone()), expected, "{filter:?}");
    }
}

#[test]
fn pages_by_before_id_concatenate_to_the_whole() {
    let conn = fixture();
    let mut pages = Vec::new();
    let mut filter = newest(2);
    loop {
        let page = recent_events(&conn, &filter).expect("page");
        let Some(last) = page.last() else { break };
        filter.before_id = Some(last.id);
        pages.extend(ids(&page));
    }
    assert_eq!(pages, [5, 4, 3, 2, 1]);
}

#[test]
fn both_access_paths_for_since_agree() {
    let conn = fixture();
    conn.execute("INSERT INTO honey (source_ip) VALUES ('192.0.2.9')", [])
        .expect("a row without timestamp");
    for since in [None, Some(ts(0)), Some(ts(3)), Some(ts(9))] {
        for limit in [1, 2, 10] {
            let filter = EventFilter {
                since: since.clone(),
                limit,
                ..EventFilter::default()
            };
            let by_id = query::recent_events_with(&conn, &filter, 0).expect("by id");
            let by_time = query::recent_events_with(&conn, &filter, i64::MAX).expect("by time");
            assert_eq!(ids(&by_id), ids(&by_time), "{filter:?}");
        }
    }
    let all = recent_events(&conn, &newest(10)).expect("all");
    assert_eq!(
        all.first().map(|row| row.id),
        Some(6),
        "no since: the untimed row too"
    );
}

#[test]
fn each_access_path_uses_its_index() {
    let conn = fixture();
    let by_id = plan(&conn, query::RECENT_BY_ID);
    assert!(by_id.contains("INTEGER PRIMARY KEY"), "{by_id}");
    assert!(!by_id.contains("TEMP B-TREE"), "{by_id}");
    let by_time = plan(&conn, query::RECENT_BY_TIME);
    assert!(by_time.contains("event_timestamp_index"), "{by_time}");
}

fn count(value: &str, count: u64) -> CountBy {
    CountBy {
        value: value.into(),
        count,
    }
}

#[test]
fn stats_count_by_value_with_nulls_as_empty() {
    let conn = fixture();
    let all = stats(&conn, None, 10).expect("stats");
    assert_eq!(
        all.totals,
        Totals {
            events: 5,
            ip_addresses: 3,
            called_numbers: 2
        }
    );
    assert_eq!(
        all.by_method,
        [
            count("INVITE", 2),
            count("", 1),
            count("OPTIONS", 1),
            count("REGISTER", 1)
        ]
    );
    assert_eq!(all.by_user_agent[0], count("friendly-scanner", 2));
    assert_eq!(
        all.by_transport,
        [count("UDP", 3), count("TCP", 1), count("TLS", 1)]
    );
    assert_eq!(
        all.by_message_kind,
        [count("request", 4), count("empty", 1)]
    );
    let top: Vec<_> = all
        .top_ip_addresses
        .iter()
        .map(|r| (r.key.as_str(), r.seen_count))
        .collect();
    assert_eq!(
        top,
        [("192.0.2.1", 3), ("192.0.2.2", 1), ("2001:db8::1", 1)]
    );
    let numbers: Vec<_> = all
        .top_called_numbers
        .iter()
        .map(|r| (r.key.as_str(), r.seen_count))
        .collect();
    assert_eq!(numbers, [("100", 2), ("+44", 1)]);
}

#[test]
fn stats_since_rounds_down_to_the_minute_and_top_limits() {
    let conn = fixture();
    let all = stats(&conn, None, 10).expect("stats");
    assert_eq!(
        stats(&conn, Some(&ts(3)), 10).expect("stats"),
        all,
        "00:00:03 counts from 00:00:00, the start of its minute"
    );
    let next_minute = stats(&conn, Some("2024-01-01 00:01:00.000000000"), 10).expect("stats");
    assert_eq!(next_minute, Stats::default());
    assert!(matches!(
        stats(&conn, Some("yesterday"), 10),
        Err(crate::store::StoreError::InvalidTime(_))
    ));
    let capped = stats(&conn, None, 1).expect("stats");
    assert_eq!(capped.by_method, [count("INVITE", 2)]);
    assert_eq!(capped.top_ip_addresses.len(), 1);
    assert_eq!(capped.totals.events, 5, "totals are not capped");
    // Inside a caller's snapshot, stats does not start a transaction of its own.
    let snapshot = query::begin_read(&conn).expect("begin");
    assert_eq!(
        stats(&snapshot, None, 10).expect("stats"),
        stats(&conn, None, 10).expect("stats")
    );
}

#[test]
fn an_empty_database_has_empty_stats_and_no_latest_event() {
    let conn = memory_db();
    assert_eq!(stats(&conn, None, 10).expect("stats"), Stats::default());
    assert_eq!(
        stats(&conn, Some(&ts(0)), 10).expect("stats"),
        Stats::default()
    );
    assert_eq!(latest_event_timestamp(&conn).expect("latest"), None);
    assert_eq!(recent_events(&conn, &newest(10)).expect("recent"), []);
    let since = EventFilter {
        since: Some(ts(0)),
        ..newest(10)
    };
    assert_eq!(recent_events(&conn, &since).expect("recent"), []);
}

#[test]
fn latest_event_timestamp_is_the_newest() {
    let conn = fixture();
    assert_eq!(latest_event_timestamp(&conn).expect("latest"), Some(ts(5)));
}

#[test]
fn one_column_is_counted_as_stats_counts_it() {
    let mut conn = memory_db();
    // 100 events from 40 user agents (agent-00 to agent-19 send 3, the others 2), three methods.
    let events: Vec<BadActor> = (0..100u8)
        .map(|i| {
            at(i % 10, "192.0.2.1")
                .user_agent(&format!("agent-{:02}", i % 40))
                .method(["REGISTER", "OPTIONS", "INVITE"][usize::from(i % 3)])
                .build()
        })
        .collect();
    insert(&mut conn, &events);
    for since in [None, Some(ts(5))] {
        for top in [3, 100] {
            let stats = stats(&conn, since.as_deref(), top).expect("stats");
            for (column, expected) in [
                (CountedColumn::Method, &stats.by_method),
                (CountedColumn::UserAgent, &stats.by_user_agent),
            ] {
                assert_eq!(
                    &counts_of(&conn, column, since.as_deref(), top).expect("counts"),
                    expected,
                    "{column:?}, since {since:?}, top {top}"
                );
            }
        }
    }
    let all = counts_of(&conn, CountedColumn::UserAgent, None, 100).expect("counts");
    assert_eq!(all.len(), 40);
    assert_eq!(all[0], count("agent-00", 3));
    assert_eq!(all[39], count("agent-39", 2));
    assert_eq!(
        counts_of(&memory_db(), CountedColumn::Method, None, 10).expect("empty"),
        []
    );
}

#[test]
fn events_of_one_ip_or_number_are_newest_first_and_limited() {
    let conn = fixture();
    let from = |ip: &str, limit| ids(&query::events_from_ip(&conn, ip, limit).expect("query"));
    assert_eq!(from("192.0.2.1", 10), [5, 4, 1]);
    assert_eq!(from("192.0.2.1", 2), [5, 4]);
    assert_eq!(from("2001:db8::1", 10), [3]);
    assert!(from("192.0.2.9", 10).is_empty());
    let to = |number: &str| ids(&query::events_to_number(&conn, number, 10).expect("query"));
    assert_eq!(to("+44"), [3]);
    assert!(to("+45").is_empty());
}
