//! `query::local_activity`: this node's own events of the last hour, from the rollups' local
//! dimensions and the aggregate tables; peers' events and older ones left out; the backfill
//! counts local rows as the writer does.

use std::ops::ControlFlow;

use super::{PEER, insert, memory_db};
use crate::event::format_timestamp;
use crate::event::test_support::EventBuilder;
use crate::store::query::{self, CountBy, LocalActivity};

fn local(ip: &str, number: &str, method: &str, seconds_ago: i64) -> EventBuilder {
    EventBuilder::new()
        .source_ip(ip)
        .number(number)
        .method(method)
        .seconds_ago(seconds_ago)
}

#[test]
fn only_this_nodes_events_of_the_window_are_counted() {
    let mut conn = memory_db();
    insert(
        &mut conn,
        &[
            local("203.0.113.1", "441234567890", "INVITE", 600).build(),
            local("203.0.113.1", "441234567891", "INVITE", 500).build(),
            local("203.0.113.2", "441234567890", "REGISTER", 400).build(),
            // A peer's events: theirs to report, even for an IP we also saw.
            local("203.0.113.1", "449999999999", "OPTIONS", 300)
                .peer(PEER)
                .build(),
            local("198.51.100.9", "448888888888", "OPTIONS", 300)
                .peer(PEER)
                .build(),
            // Ours, but before the window.
            local("192.0.2.77", "447777777777", "BYE", 7_200).build(),
        ],
    );
    let since = format_timestamp(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1));
    let mut ips = Vec::new();
    let activity = query::local_activity(&conn, &since, 10, |ip| {
        ips.push(ip.to_owned());
        ControlFlow::Continue(())
    })
    .expect("local activity");
    ips.sort();
    assert_eq!(ips, ["203.0.113.1", "203.0.113.2"]);
    let count = |value: &str, count| CountBy {
        value: value.to_owned(),
        count,
    };
    assert_eq!(
        activity,
        LocalActivity {
            events: 3,
            by_method: vec![count("INVITE", 2), count("REGISTER", 1)],
            by_attack_type: activity.by_attack_type.clone(),
            called_numbers: 2,
        }
    );
    let typed: u64 = activity.by_attack_type.iter().map(|c| c.count).sum();
    assert_eq!(typed, 3, "{:?}", activity.by_attack_type);
    let stats = query::stats(&conn, Some(&since), 10).expect("stats");
    assert_eq!(
        stats.totals.events, 5,
        "the overall figures keep every origin"
    );
}

#[test]
fn an_empty_database_has_no_activity() {
    let conn = memory_db();
    let since = format_timestamp(jiff::Timestamp::now());
    let activity = query::local_activity(&conn, &since, 10, |_| ControlFlow::Break(()))
        .expect("local activity");
    assert_eq!(activity, LocalActivity::default());
    assert!(query::local_activity(&conn, "yesterday", 10, |_| ControlFlow::Continue(())).is_err());
}
