//! Serving catch-up without a swarm: contributors only, one request at a time, at a pace, one
//! window per connection, a few per peer an hour, a few pages read at once, nothing left
//! behind by closed connections.

use super::*;
use crate::p2p::protocol::SERVE_WINDOWS_PER_PEER;

fn cursor(n: u8) -> Cursor {
    (
        format!("2026-01-01 00:00:{n:02}.000000000"),
        format!("uuid-{n}"),
    )
}

fn request(after: Option<Cursor>) -> CatchUpRequest {
    CatchUpRequest {
        since: String::new(),
        after,
    }
}

fn connection(n: usize) -> ConnectionId {
    ConnectionId::new_unchecked(n)
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
fn a_connection_gets_the_window_once_page_after_page_at_a_pace() {
    let mut serving = Serving::default();
    let peer = PeerId::random();
    let link = connection(1);
    let start = Instant::now();
    serving
        .admit(peer, link, &request(None), start)
        .expect("the first page");
    assert_eq!(
        serving.admit(peer, link, &request(None), start),
        Err(OverBound::Busy),
        "one request at a time"
    );
    serving.on_served(peer, link, Some(cursor(1)), start);
    assert_eq!(
        serving.admit(peer, link, &request(Some(cursor(1))), start),
        Err(OverBound::TooFast)
    );
    let next = start + SERVE_PAGE_INTERVAL;
    assert_eq!(
        serving.admit(peer, link, &request(None), next),
        Err(OverBound::WindowServed),
        "starting over on the same connection"
    );
    serving
        .admit(peer, link, &request(Some(cursor(1))), next)
        .expect("the next page");
    serving.on_served(peer, link, None, next);
    let later = next + SERVE_PAGE_INTERVAL;
    assert_eq!(
        serving.admit(peer, link, &request(Some(cursor(1))), later),
        Err(OverBound::WindowServed),
        "the last page was sent"
    );
}

#[test]
fn a_peer_starts_a_few_windows_an_hour_over_all_its_connections() {
    let mut serving = Serving::default();
    let peer = PeerId::random();
    let start = Instant::now();
    for n in 0..SERVE_WINDOWS_PER_PEER {
        serving
            .admit(peer, connection(n), &request(None), start)
            .expect("a new connection, a new window");
        serving.on_served(peer, connection(n), None, start);
        serving.on_closed(peer, connection(n));
    }
    assert_eq!(
        serving.admit(peer, connection(99), &request(None), start),
        Err(OverBound::WindowServed)
    );
    serving
        .admit(PeerId::random(), connection(100), &request(None), start)
        .expect("other peers are not affected");
    serving
        .admit(
            peer,
            connection(99),
            &request(None),
            start + SERVE_WINDOW_PERIOD,
        )
        .expect("an hour later");
}

#[test]
fn a_few_pages_are_read_at_once_for_all_peers() {
    let mut serving = Serving::default();
    let now = Instant::now();
    let readers: Vec<PeerId> = (0..SERVE_CONCURRENT_PAGES)
        .map(|n| {
            let peer = PeerId::random();
            serving
                .admit(peer, connection(n), &request(None), now)
                .expect("under the cap");
            peer
        })
        .collect();
    let waiting = PeerId::random();
    assert_eq!(
        serving.admit(waiting, connection(50), &request(None), now),
        Err(OverBound::Busy)
    );
    serving.on_served(readers[0], connection(0), None, now);
    serving
        .admit(waiting, connection(50), &request(None), now)
        .expect("a page was done");
}

#[test]
fn closed_connections_leave_nothing_but_a_page_being_read_is_still_counted() {
    let mut serving = Serving::default();
    let now = Instant::now();
    let peers: Vec<PeerId> = (0..SERVE_CONCURRENT_PAGES)
        .map(|_| PeerId::random())
        .collect();
    for (n, peer) in peers.iter().enumerate() {
        serving
            .admit(*peer, connection(n), &request(None), now)
            .expect("admitted");
        serving.on_closed(*peer, connection(n));
    }
    assert_eq!(serving.connections(), 0);
    assert_eq!(
        serving.admit(PeerId::random(), connection(9), &request(None), now),
        Err(OverBound::Busy),
        "the pages are still being read"
    );
    for (n, peer) in peers.iter().enumerate() {
        serving.on_served(*peer, connection(n), None, now);
    }
    assert_eq!(
        serving.connections(),
        0,
        "a refused request leaves nothing either"
    );
    serving
        .admit(PeerId::random(), connection(9), &request(None), now)
        .expect("the pages were read");
}
