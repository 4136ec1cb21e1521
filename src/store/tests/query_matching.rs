//! Listings narrowed by event attributes (`query::matching`).

use std::ops::ControlFlow;

use super::{insert, memory_db};
use crate::event::test_support::EventBuilder;
use crate::store::query::{
    Cursor, EventMatch, ListFilter, SeenRecord, each_ip_matching, each_number_matching,
};

#[test]
fn listings_narrow_to_matching_events_and_paginate() {
    let mut conn = memory_db();
    let event =
        |at: &str, ip: &str, number: &str| EventBuilder::new().at(at).source_ip(ip).number(number);
    let register = event("2026-11-21T10:00:00Z", "192.0.2.1", "0046123")
        .method("REGISTER")
        .build();
    let invite_a = event("2026-11-21T10:00:01Z", "192.0.2.2", "0046123").build();
    let invite_b = event("2026-11-21T10:00:02Z", "192.0.2.3", "+4412").build();
    let named = event("2026-11-21T10:00:03Z", "192.0.2.4", "NOT_FOUND")
        .user_agent("sipsak")
        .build();
    insert(&mut conn, &[register, invite_a, invite_b, named]);
    let collect = |matching: &EventMatch, numbers: bool, after: Option<&Cursor>, limit| {
        let mut keys = Vec::new();
        let filter = ListFilter::default();
        let visit = |record: SeenRecord| {
            keys.push((record.key, record.seen_count));
            ControlFlow::Continue(())
        };
        if numbers {
            each_number_matching(&conn, &filter, matching, after, limit, visit)
        } else {
            each_ip_matching(&conn, &filter, matching, after, limit, visit)
        }
        .expect("query");
        keys
    };
    let invites = EventMatch {
        method: Some("INVITE".to_owned()),
        ..EventMatch::default()
    };
    assert_eq!(
        collect(&invites, false, None, None),
        [
            ("192.0.2.4".to_owned(), 1),
            ("192.0.2.3".to_owned(), 1),
            ("192.0.2.2".to_owned(), 1)
        ]
    );
    assert_eq!(
        collect(&invites, true, None, None),
        [("+4412".to_owned(), 1), ("0046123".to_owned(), 1)],
        "only phone numbers, leading zeros kept"
    );
    let first = collect(&invites, false, None, Some(1));
    let after = Cursor {
        seen_last: "2026-11-21 10:00:03.000000000".to_owned(),
        key: first[0].0.clone(),
    };
    assert_eq!(collect(&invites, false, Some(&after), Some(5)).len(), 2);
    let by_agent = EventMatch {
        user_agent: Some("sipsak".to_owned()),
        ..EventMatch::default()
    };
    assert_eq!(
        collect(&by_agent, false, None, None),
        [("192.0.2.4".to_owned(), 1)]
    );
    let udp_only = EventMatch {
        transport: Some("TCP".to_owned()),
        ..EventMatch::default()
    };
    assert!(collect(&udp_only, false, None, None).is_empty());
    assert!(!invites.is_empty() && EventMatch::default().is_empty());
}
