//! Load between peers: a burst and a flood of full-size probes reach the peer whole; a peer that
//! stops reading costs a bounded queue, counted and not logged per message.

use std::time::Duration;

use crate::support::daemon::{Daemon, WAIT, stored_total};
use crate::support::p2p::{
    node, node_health, raw_peer_of, send_invites, sharing_node, wait_for_subscriber,
};

#[test]
fn a_burst_of_full_size_probes_reaches_the_peer_whole() {
    // Enough at once that the outbox fills whole batches (200 records), which are then far past
    // gossipsub's size limit unless batches count records with their JSON escapes.
    const PROBES: usize = 600;
    let a = node(None, &[]);
    let b = node(Some(&a.p2p_address()), &["-R"]);
    wait_for_subscriber(&a, &b);
    send_invites(&a, 0..PROBES);
    a.wait_for_stored(PROBES as u64);
    b.wait_for_stored(PROBES as u64);
    let health = node_health(&a);
    assert_eq!(health["p2p"]["unpublished_records"], 0, "{health}");
    assert_eq!(health["p2p"]["published_records"], PROBES, "{health}");
    assert!(
        health["p2p"]["published_messages"].as_u64() >= Some(4),
        "several batches: {health}"
    );
    b.stop().assert_clean_exit();
    a.stop().assert_clean_exit();
}

#[test]
fn a_flood_of_full_size_batches_keeps_reaching_the_peer() {
    // Thousands of large records: A publishes full batches back to back, so B's reads hold one
    // whole batch and the start of the next. libp2p-gossipsub checks the size of what it has
    // read, not of the frame, so batches near the size limit made B drop the stream (and A,
    // after five tries, stop sending to B at all while holding what it queued).
    const PROBES: usize = 4_000;
    // Five full batches back to back per round; the next round goes once B has stored this one,
    // so neither A's UDP socket nor its send queue for B (32 batches) overflows on a busy
    // machine, where B reads more slowly: dropping and counting then is by design, and not
    // what this test is about.
    const ROUND: usize = 1_000;
    let a = node(None, &[]);
    // A round at once is over the default 1,000 records per second per author.
    let b = node(
        Some(&a.p2p_address()),
        &["-R", "--p2p-max-records-per-second", "100000"],
    );
    wait_for_subscriber(&a, &b);
    for start in (0..PROBES).step_by(ROUND) {
        let sent = (start + ROUND) as u64;
        send_invites(&a, start..start + ROUND);
        a.wait_for_stored(sent);
        let all_in = b.wait_for(|lines| stored_total(lines) >= sent);
        let (health, b_health) = (node_health(&a), node_health(&b));
        assert!(
            all_in,
            "B stored fewer than {sent}; A: {}; B: {b_health}",
            health["p2p"]
        );
    }
    let health = node_health(&a);
    assert_eq!(health["p2p"]["published_records"], PROBES, "{health}");
    assert_eq!(health["p2p"]["unpublished_records"], 0, "{health}");
    b.stop().assert_clean_exit();
    a.stop().assert_clean_exit();
}

#[tokio::test]
async fn a_peer_that_stops_reading_costs_a_bounded_queue_counted_not_logged() {
    // Enough full batches to fill the peer's send queue many times over.
    const PROBES: usize = 8_000;
    // The default log filter (no RUST_LOG), as operators run it.
    let a = sharing_node(None, &[]).env("RUST_LOG", "").start();
    // Our peer runs until A has joined its topic, then stops reading altogether.
    let (_key, swarm, _topic) = raw_peer_of(&a).await;

    // In rounds that A's socket buffer holds, each stored before the next is sent.
    let stored = |daemon: &Daemon| {
        node_health(daemon)["events"]["stored"]
            .as_u64()
            .unwrap_or(0)
    };
    for start in (0..PROBES).step_by(1_000) {
        send_invites(&a, start..start + 1_000);
        let sent = (start + 1_000) as u64;
        let deadline = std::time::Instant::now() + WAIT;
        while stored(&a) < sent {
            assert!(std::time::Instant::now() < deadline, "{}", node_health(&a));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let deadline = std::time::Instant::now() + WAIT;
    let counted = loop {
        let now = node_health(&a);
        let p2p = &now["p2p"];
        let handed_to_gossip = p2p["published_records"].as_u64().unwrap_or(0)
            + p2p["unpublished_records"].as_u64().unwrap_or(0);
        if handed_to_gossip >= PROBES as u64 && p2p["unsent_to_slow_peers"].as_u64() > Some(0) {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "A counted what it could not send: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(counted["events"]["kernel_dropped"], 0, "{counted}");
    assert_eq!(counted["events"]["dropped"], 0, "{counted}");
    // Still capturing: one more probe is stored.
    send_invites(&a, PROBES..PROBES + 1);
    let deadline = std::time::Instant::now() + WAIT;
    while stored(&a) < PROBES as u64 + 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the last probe stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !a.logged("Send Queue full"),
        "gossipsub's per-message warnings stay out of the default log"
    );
    drop(swarm);
    a.stop().assert_clean_exit();
}
