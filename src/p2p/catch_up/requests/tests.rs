//! Our catch-up without a swarm: one peer at a time, page after page at a pace, records held
//! for their authors' rate, passes from different peers, dialled peers first, refusals and
//! failures moving on to another peer, and the pages that get a peer cut off.

use super::*;

const LATEST: &str = "2026-01-02 00:00:00.000000000";

fn cursor(n: u8) -> Cursor {
    (
        format!("2026-01-01 00:00:{n:02}.000000000"),
        format!("uuid-{n}"),
    )
}

fn records(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("record {n}")).collect()
}

/// Takes every held record at `now`.
fn take_all(requests: &mut CatchUpRequests, now: Instant) -> usize {
    std::iter::from_fn(|| requests.next_held(now)).count()
}

#[test]
fn one_peer_is_asked_page_after_page_at_a_pace_once_the_last_page_is_taken() {
    let mut requests = CatchUpRequests::new(u64::MAX);
    let (first, second) = (PeerId::random(), PeerId::random());
    let start = Instant::now();
    requests.on_connected(first, true);
    requests.on_connected(second, true);
    let ask = requests.due(start, true).expect("the first page");
    assert_eq!(
        ask,
        Ask {
            peer: first,
            after: None
        }
    );
    assert_eq!(requests.due(start, true), None, "one request at a time");
    let complete = requests.on_page(first, records(3), Some(cursor(1)), LATEST);
    assert_eq!(complete, Ok(false));
    let later = start + CATCH_UP_PAGE_INTERVAL;
    assert_eq!(requests.due(later, true), None, "the page is not taken yet");
    assert_eq!(take_all(&mut requests, start), 3);
    assert_eq!(requests.wake_at(), Some(later), "the next page is due then");
    assert_eq!(
        requests.due(start, true),
        None,
        "not before the pace allows"
    );
    assert_eq!(
        requests.due(later, false),
        None,
        "not while the queues are full"
    );
    assert_eq!(
        requests.due(later, true),
        Some(Ask {
            peer: first,
            after: Some(cursor(1))
        })
    );
}

#[test]
fn records_over_their_authors_rate_wait_and_hold_back_the_next_page() {
    let mut requests = CatchUpRequests::new(u64::MAX);
    let peer = PeerId::random();
    let start = Instant::now();
    requests.on_connected(peer, true);
    requests.due(start, true).expect("asked");
    requests
        .on_page(peer, records(3), Some(cursor(1)), LATEST)
        .expect("a valid page");
    let (from, first) = requests.next_held(start).expect("a record");
    assert_eq!(from, peer);
    let (_, second) = requests.next_held(start).expect("a record");
    let until = start + Duration::from_secs(1);
    requests.hold_back(second.clone(), until);
    assert_eq!(
        requests.wake_at(),
        Some(until),
        "the author may send again then"
    );
    assert_eq!(
        requests.next_held(start),
        None,
        "waiting for the author's rate"
    );
    let later = until + CATCH_UP_PAGE_INTERVAL;
    assert_eq!(requests.due(later, true), None, "held records come first");
    assert_eq!(
        requests.next_held(until).map(|(_, text)| text),
        Some(second)
    );
    assert_ne!(first, "record 1");
    assert_eq!(take_all(&mut requests, until), 1);
    assert!(requests.due(later, true).is_some());
}

#[test]
fn two_passes_come_from_two_peers_and_dialled_peers_go_first() {
    let mut requests = CatchUpRequests::new(u64::MAX);
    let (dialled_in, dialled, later) = (PeerId::random(), PeerId::random(), PeerId::random());
    let now = Instant::now();
    requests.on_connected(dialled_in, false);
    requests.on_connected(dialled, true);
    requests.on_connected(later, true);
    let mut sources = Vec::new();
    while let Some(ask) = requests.due(now, true) {
        assert_eq!(ask.after, None, "each pass starts at the window's start");
        sources.push(ask.peer);
        assert_eq!(
            requests.on_page(ask.peer, records(1), None, LATEST),
            Ok(true)
        );
        take_all(&mut requests, now);
    }
    assert_eq!(sources, [dialled, later], "two passes, dialled peers first");
}

#[test]
fn refusals_and_failures_move_on_to_another_peer_from_where_the_pass_stands() {
    let mut requests = CatchUpRequests::new(u64::MAX);
    let (first, second) = (PeerId::random(), PeerId::random());
    let start = Instant::now();
    requests.on_connected(first, true);
    requests.on_connected(second, true);
    requests.due(start, true).expect("asked");
    requests
        .on_page(first, records(1), Some(cursor(1)), LATEST)
        .expect("a page");
    take_all(&mut requests, start);
    let next = start + CATCH_UP_PAGE_INTERVAL;
    requests.due(next, true).expect("the next page");
    requests.on_failed(first, next);
    assert_eq!(
        requests.due(next, true),
        Some(Ask {
            peer: second,
            after: Some(cursor(1))
        }),
        "the pass goes on with another peer"
    );
    requests.on_refused(second, next);
    let (shortest, longest) = RETRY_BACKOFF;
    assert_eq!(requests.due(next, true), None, "both wait");
    assert_eq!(
        requests.due(next + shortest, true).map(|ask| ask.peer),
        Some(second),
        "a refusal waits the shortest time"
    );
    requests.on_refused(second, next);
    assert_eq!(requests.due(next + shortest, true), None, "twice as long");
    requests.on_shared();
    requests.on_refused(second, next);
    assert!(
        requests.due(next + shortest, true).is_some(),
        "sharing resets"
    );
    requests.on_failed(second, next);
    assert_eq!(
        requests.due(next + longest, true).map(|ask| ask.peer),
        Some(first),
        "a failure waits the longest"
    );
}

#[test]
fn peers_that_leave_are_forgotten_and_their_request_is_lost() {
    let mut requests = CatchUpRequests::new(u64::MAX);
    let peer = PeerId::random();
    let now = Instant::now();
    requests.on_connected(peer, false);
    requests.due(now, true).expect("asked");
    requests.on_disconnected(&peer);
    assert_eq!(requests.remembered(), 0);
    assert_eq!(requests.due(now, true), None);
    assert_eq!(
        requests.on_page(peer, records(1), None, LATEST),
        Ok(false),
        "a page nobody waits for is ignored"
    );
    assert_eq!(take_all(&mut requests, now), 0);
}

#[test]
fn pages_that_break_the_protocol_cut_the_peer_off() {
    let now = Instant::now();
    let cases: [(Vec<String>, Option<Cursor>, Violation); 4] = [
        (
            records(PAGE_RECORDS + 1),
            Some(cursor(2)),
            Violation::LongPage(PAGE_RECORDS + 1),
        ),
        (records(1), Some(cursor(1)), Violation::NoProgress),
        (
            records(1),
            Some(("2026-01-03 00:00:00.000000000".to_owned(), "u".to_owned())),
            Violation::BeyondWindow,
        ),
        (records(11), Some(cursor(2)), Violation::TooMany(16)),
    ];
    for (page, next, violation) in cases {
        let mut requests = CatchUpRequests::new(15);
        let peer = PeerId::random();
        requests.on_connected(peer, true);
        requests.due(now, true).expect("asked");
        requests
            .on_page(peer, records(5), Some(cursor(1)), LATEST)
            .expect("a valid first page");
        let later = now + CATCH_UP_PAGE_INTERVAL;
        assert_eq!(take_all(&mut requests, later), 5);
        requests.due(later, true).expect("the second page");
        assert_eq!(requests.on_page(peer, page, next, LATEST), Err(violation));
        assert_eq!(take_all(&mut requests, later), 0, "the page is dropped");
        assert_eq!(requests.remembered(), 0, "the peer is forgotten");
        assert_eq!(requests.due(later, true), None, "and not asked again");
    }
}

#[test]
fn a_peer_cut_off_for_a_forged_record_loses_what_it_sent() {
    let mut requests = CatchUpRequests::new(u64::MAX);
    let peer = PeerId::random();
    let now = Instant::now();
    requests.on_connected(peer, true);
    requests.due(now, true).expect("asked");
    requests
        .on_page(peer, records(5), None, LATEST)
        .expect("a page");
    requests.next_held(now).expect("the forged one");
    requests.cut_off(&peer);
    assert_eq!(take_all(&mut requests, now), 0);
}
