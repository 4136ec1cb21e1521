//! Catch-up decisions without a swarm: asking each peer once and page after page, backing off
//! after refusals, serving only contributors, and what a served page holds.

use super::*;
use crate::p2p::record::tests::event;

fn cursor(n: u8) -> Cursor {
    (
        format!("2026-01-01 00:00:0{n}.000000000"),
        format!("uuid-{n}"),
    )
}

#[test]
fn a_peer_is_asked_once_then_page_after_page_until_done() {
    let mut requests = CatchUpRequests::default();
    let peer = PeerId::random();
    assert_eq!(requests.on_connected(peer), Some(Ask { peer, after: None }));
    assert_eq!(requests.on_connected(peer), None, "asked already");
    assert_eq!(
        requests.on_page(peer, Some(cursor(1))),
        Some(Ask {
            peer,
            after: Some(cursor(1))
        })
    );
    assert_eq!(requests.on_page(peer, None), None, "the last page");
    requests.on_disconnected(&peer);
    assert_eq!(requests.on_connected(peer), None, "done stays done");
}

#[test]
fn a_request_lost_with_the_connection_starts_over_on_the_next_one() {
    let mut requests = CatchUpRequests::default();
    let peer = PeerId::random();
    assert!(requests.on_connected(peer).is_some());
    requests.on_disconnected(&peer);
    assert_eq!(requests.on_connected(peer), Some(Ask { peer, after: None }));
}

#[test]
fn refusals_back_off_until_we_share_and_retries_wait_for_a_connection() {
    let mut requests = CatchUpRequests::default();
    let peer = PeerId::random();
    let start = Instant::now();
    requests.on_connected(peer);
    requests.on_refused(peer, start);
    let (shortest, longest) = RETRY_BACKOFF;
    assert!(
        requests.due(start + shortest, &[]).is_empty(),
        "not connected"
    );
    assert!(requests.due(start, &[peer]).is_empty(), "not yet");
    assert_eq!(
        requests.due(start + shortest, &[peer]),
        vec![Ask { peer, after: None }]
    );
    requests.on_refused(peer, start);
    assert!(
        requests.due(start + shortest, &[peer]).is_empty(),
        "waits twice as long"
    );
    assert_eq!(requests.due(start + shortest * 2, &[peer]).len(), 1);
    for _ in 0..10 {
        requests.on_refused(peer, start);
    }
    assert_eq!(
        requests.due(start + longest, &[peer]).len(),
        1,
        "at most the longest wait"
    );
    requests.on_shared();
    requests.on_refused(peer, start);
    assert_eq!(
        requests.due(start + shortest, &[peer]).len(),
        1,
        "sharing resets the wait"
    );
    requests.on_failed(peer, start);
    assert!(requests.due(start + longest / 2, &[peer]).is_empty());
    assert_eq!(
        requests.due(start + longest, &[peer]).len(),
        1,
        "a failure waits the longest"
    );
}

#[test]
fn only_contributors_that_are_not_denied_are_served() {
    let giver = PeerId::random();
    let denied = PeerId::random();
    let taker = PeerId::random();
    let contributions = Contributions::from_counts([(giver, 10), (denied, 10), (taker, 9)]);
    let policy = ServePolicy {
        min_contribution: 10,
        deny: vec![denied],
    };
    assert_eq!(policy.refusal(&giver, &contributions), None);
    assert_eq!(
        policy.refusal(&taker, &contributions),
        Some(CatchUpResponse::Refused {
            reason: "share at least 10 record(s) first".to_owned()
        })
    );
    assert!(policy.refusal(&denied, &contributions).is_some());
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
    };
    let CatchUpResponse::Page { next, .. } = page_response(short, "sentrypeer", &key) else {
        panic!("a page");
    };
    assert_eq!(next, None, "a short page is the last");
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
