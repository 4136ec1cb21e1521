//! Peers and records a node must not trust: forged, foreign-network, garbage and flooding
//! records from a bare libp2p peer are dropped and counted per peer; nodes of another network and
//! nodes that deny us get nothing in.

use std::time::Duration;

use libp2p::futures::StreamExt;
use sentrypeer::p2p::Batch;
use sentrypeer::p2p::record::SignedRecord;

use crate::support::daemon::WAIT;
use crate::support::http::curl;
use crate::support::p2p::{
    node, node_health, raw_peer_of, received, scanner_event, wait_for_subscriber,
};
use crate::support::sip::{options, udp_client, udp_exchange};

#[tokio::test]
async fn forged_foreign_garbage_and_flooding_records_are_dropped_and_counted_per_peer() {
    let a = node(None, &["--p2p-max-records-per-second", "1"]);
    let (key, mut swarm, topic) = raw_peer_of(&a).await;

    let event = scanner_event;
    let honest = SignedRecord::sign(&event("192.0.2.10"), "sentrypeer", &key).expect("sign");
    let mut forged = SignedRecord::sign(&event("192.0.2.66"), "sentrypeer", &key).expect("sign");
    forged.body = forged.body.replace("192.0.2.66", "192.0.2.99");
    let foreign = SignedRecord::sign(&event("192.0.2.77"), "other-network", &key).expect("sign");
    // A flood: 30 more honest records from one author, beyond its 1/s (burst 2).
    let flood: Vec<String> = (0..30)
        .map(|i| {
            SignedRecord::sign(&event(&format!("198.51.100.{i}")), "sentrypeer", &key)
                .expect("sign")
                .to_json()
        })
        .collect();
    let oversized = format!("{{\"body\":\"{}\",\"signature\":\"00\"}}", "x".repeat(9000));
    // The forged batch last: gossipsub then graylists its sender (see `p2p::scoring`), and
    // ignores what it sends after it.
    for records in [
        vec![foreign.to_json()],
        vec![oversized],
        vec![honest.to_json()],
        flood,
        vec![forged.to_json()],
    ] {
        let data = serde_json::to_vec(&Batch { v: 1, records }).expect("json");
        swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic.clone(), data)
            .expect("publish");
    }
    // A garbage frame, from another peer (it gets that one graylisted too).
    let (garbler_key, mut garbler, _) = raw_peer_of(&a).await;
    garbler
        .behaviour_mut()
        .gossipsub
        .publish(topic.clone(), b"\x00garbage frame".to_vec())
        .expect("publish");
    // Keep our swarms running while A processes the messages.
    let accepted = async {
        loop {
            // 34 records in all (the garbage frame holds none); A counts each one it reads.
            let malformed = node_health(&a)["p2p"]["rejected_malformed"].as_u64();
            if a.count_logged("peer record accepted") >= 2
                && received(&a) >= 34
                && malformed >= Some(2)
            {
                return;
            }
            let wait = Duration::from_millis(50);
            tokio::select! {
                _ = tokio::time::timeout(wait, swarm.select_next_some()) => {}
                _ = tokio::time::timeout(wait, garbler.select_next_some()) => {}
            }
        }
    };
    assert!(
        tokio::time::timeout(WAIT, accepted).await.is_ok(),
        "the honest record arrived"
    );
    let api = a.api.expect("API");
    let health = node_health(&a);
    let p2p = &health["p2p"];
    assert_eq!(p2p["rejected_signature"], 1, "{health}");
    assert_eq!(p2p["rejected_network"], 1, "{health}");
    // 31 honest records from one author at 1/s (burst 2): a few accepted, the rest dropped.
    let count = |name: &str| p2p[name].as_u64().unwrap_or(0);
    let (accepted, limited) = (count("accepted_records"), count("rate_limited"));
    assert_eq!(accepted + limited, 31, "{health}");
    assert!((2..=8).contains(&accepted), "{health}");
    assert_eq!(
        count("rejected_malformed"),
        2,
        "oversized record and garbage frame: {health}"
    );
    let sender = key.public().to_peer_id().to_base58();
    let dropped = limited + count("rejected_signature") + count("rejected_network") + 1;
    assert_eq!(
        p2p["dropped_by_peer"][sender.as_str()].as_u64(),
        Some(dropped),
        "every drop counted for the sending peer: {health}"
    );
    let garbler = garbler_key.public().to_peer_id().to_base58();
    assert_eq!(p2p["dropped_by_peer"][garbler.as_str()].as_u64(), Some(1));
    assert_eq!(curl(api, "/ip-addresses/192.0.2.10", &[]).status, 200);
    assert_eq!(
        curl(api, "/ip-addresses/192.0.2.99", &[]).status,
        404,
        "the forged record is not stored"
    );
    assert_eq!(
        curl(api, "/ip-addresses/192.0.2.77", &[]).status,
        404,
        "the foreign record is not stored"
    );
    drop((swarm, garbler));
    a.stop().assert_clean_exit();
}

#[test]
fn other_networks_and_denied_peers_get_nothing_in() {
    let a = node(None, &[]);
    let a_address = a.p2p_address();
    // A node of another community dials A: the protocols differ, nothing is exchanged.
    let fleet = node(Some(&a_address), &["--p2p-network", "private-fleet"]);
    // A node that denies A: connections from A are closed and A's records refused.
    let deny = a.peer_id();
    let guarded = node(Some(&a_address), &["--p2p-deny", deny.as_str()]);
    // A normal peer, to see that A's record did go out.
    let open = node(Some(&a_address), &[]);
    wait_for_subscriber(&a, &open);

    let udp = a.udp.expect("UDP");
    udp_exchange(
        &udp_client(),
        udp,
        options("100", "UDP", "shared", "net").as_bytes(),
    );
    open.wait_for_logged("peer record accepted", 1);

    for (name, daemon) in [("other network", &fleet), ("denying node", &guarded)] {
        assert_eq!(
            daemon.count_logged("peer record accepted"),
            0,
            "{name} accepted a record"
        );
        let body = curl(daemon.api.expect("API"), "/ip-addresses/127.0.0.1", &[]).body;
        assert!(body.contains("No bad actor found"), "{name}: {body}");
    }
    for daemon in [open, guarded, fleet, a] {
        daemon.stop().assert_clean_exit();
    }
}
