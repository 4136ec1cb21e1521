//! What catch-up reads: pages leave out the asking node's own records and count every row they
//! read, rebuilt or not, so a page full of rows is known to be full.

use std::sync::Arc;

use rusqlite::params;

use super::{insert, memory_db};
use crate::event::test_support::EventBuilder;
use crate::event::{Origin, PeerOrigin};
use crate::store::query::{self, Shareable};

/// A local UDP INVITE at `timestamp`.
fn udp_invite(timestamp: &str) -> crate::event::BadActor {
    EventBuilder::new().at(timestamp).build()
}

/// An event received from `peer_id`, with the signed record it came in.
fn from_peer(timestamp: &str, peer_id: &str) -> crate::event::BadActor {
    let mut event = udp_invite(timestamp);
    event.origin = Origin::Peer(PeerOrigin {
        peer_id: peer_id.to_owned(),
        signed_record: Some(Arc::from(format!("{{\"record of\":\"{peer_id}\"}}"))),
    });
    event
}

#[test]
fn a_page_leaves_out_the_requesters_own_records() {
    let mut conn = memory_db();
    insert(
        &mut conn,
        &[
            udp_invite("2026-01-01T00:00:01Z"),
            from_peer("2026-01-01T00:00:02Z", "12D3KooWAsker"),
            from_peer("2026-01-01T00:00:03Z", "12D3KooWOther"),
        ],
    );
    let records_of = |requester| {
        let page = query::shareable_events(&conn, "", None, 10, requester).expect("page");
        page.events
            .iter()
            .map(|shareable| match shareable {
                Shareable::Local(_) => "local".to_owned(),
                Shareable::Peer(text) => text.clone(),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(records_of(None).len(), 3);
    assert_eq!(
        records_of(Some("12D3KooWAsker")),
        ["local", "{\"record of\":\"12D3KooWOther\"}"]
    );
}

#[test]
fn rows_that_cannot_be_rebuilt_still_count_towards_a_full_page() {
    let mut conn = memory_db();
    insert(
        &mut conn,
        &[
            udp_invite("2026-01-01T00:00:01Z"),
            udp_invite("2026-01-01T00:00:02Z"),
            udp_invite("2026-01-01T00:00:03Z"),
        ],
    );
    // An original-era row without a usable source address.
    conn.execute(
        "UPDATE honey SET source_ip = NULL WHERE event_timestamp LIKE ?1",
        params!["2026-01-01 00:00:02%"],
    )
    .expect("update");
    let page = query::shareable_events(&conn, "", None, 2, None).expect("page");
    assert_eq!(page.rows, 2, "a full page");
    assert_eq!(page.events.len(), 1, "one event rebuilt");
    let (time, _) = page.last.expect("a position");
    assert!(time.starts_with("2026-01-01 00:00:02"), "{time}");
}
