//! What a served page holds, and where the window starts (the requests and the serving bounds
//! are tested beside them, in `requests` and `serving`).

use super::*;
use crate::p2p::record::tests::event;

fn cursor(n: u8) -> Cursor {
    (
        format!("2026-01-01 00:00:0{n}.000000000"),
        format!("uuid-{n}"),
    )
}

#[test]
fn a_full_page_signs_local_events_keeps_peer_records_and_points_to_the_next() {
    let key = Keypair::generate_ed25519();
    let now = Timestamp::now();
    let mut events: Vec<Shareable> = (0..PAGE_RECORDS - 1)
        .map(|_| Shareable::Local(Box::new(event(now))))
        .collect();
    events.push(Shareable::Peer("{\"kept\":\"as it came\"}".to_owned()));
    let full = SharePage {
        events,
        last: Some(cursor(9)),
        rows: PAGE_RECORDS,
    };
    let CatchUpResponse::Page { records, next } = page_response(full, "sentrypeer", &key) else {
        panic!("a page");
    };
    assert_eq!(next, Some(cursor(9)));
    assert_eq!(records.len(), PAGE_RECORDS);
    let (author, _) =
        SignedRecord::verify(&records[0], "sentrypeer", None, now).expect("signed by us");
    assert_eq!(author, key.public().to_peer_id());
    assert_eq!(records[PAGE_RECORDS - 1], "{\"kept\":\"as it came\"}");
    let short = SharePage {
        events: vec![Shareable::Local(Box::new(event(now)))],
        last: Some(cursor(1)),
        rows: 1,
    };
    let CatchUpResponse::Page { next, .. } = page_response(short, "sentrypeer", &key) else {
        panic!("a page");
    };
    assert_eq!(next, None, "a short page is the last");
}

#[test]
fn a_full_page_of_rows_points_on_even_when_some_could_not_be_rebuilt() {
    let key = Keypair::generate_ed25519();
    // A full page read, but one original-era row could not be rebuilt into an event.
    let page = SharePage {
        events: (1..PAGE_RECORDS)
            .map(|_| Shareable::Local(Box::new(event(Timestamp::now()))))
            .collect(),
        last: Some(cursor(5)),
        rows: PAGE_RECORDS,
    };
    let CatchUpResponse::Page { records, next } = page_response(page, "sentrypeer", &key) else {
        panic!("a page");
    };
    assert_eq!(records.len(), PAGE_RECORDS - 1);
    assert_eq!(next, Some(cursor(5)), "catch-up goes on past the row");
}

#[test]
fn the_window_starts_retention_before_now() {
    let now = Timestamp::constant(1_767_225_600, 0);
    assert_eq!(
        window_start(Some(SignedDuration::from_hours(24)), now),
        "2025-12-31 00:00:00.000000000"
    );
    assert_eq!(window_start(None, now), "1970-01-01 00:00:00.000000000");
}
