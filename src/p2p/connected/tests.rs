//! The table of connected peers: one line per peer whatever its connections, gone with its
//! last one, bounded by its capacity; and what is published of it.

use super::*;
use crate::p2p::drops::DropReason;

fn address(port: u16) -> Multiaddr {
    format!("/ip4/127.0.0.1/tcp/{port}")
        .parse()
        .expect("multiaddr")
}

#[test]
fn a_peer_is_listed_while_connected_and_gone_with_its_last_connection() {
    let mut table = PeerTable::new(8);
    let peer = PeerId::random();
    let first = Timestamp::from_second(1_000).expect("timestamp");
    table.connected(peer, &address(1), Direction::Inbound, 1, first);
    assert_eq!(table.len(), 1);
    let later = Timestamp::from_second(2_000).expect("timestamp");
    table.connected(peer, &address(2), Direction::Outbound, 2, later);
    let lines = table.peers(&Contributions::default(), &PeerDrops::default(), 1);
    assert_eq!(lines.len(), 1, "two connections, one peer: {lines:?}");
    assert_eq!(lines[0].connections, 2);
    assert_eq!(
        (lines[0].address.as_str(), lines[0].direction),
        ("/ip4/127.0.0.1/tcp/1", Direction::Inbound),
        "the first connection's address and direction"
    );
    assert_eq!(lines[0].connected_since, "1970-01-01T00:16:40Z");
    table.disconnected(&peer, 1);
    let lines = table.peers(&Contributions::default(), &PeerDrops::default(), 1);
    assert_eq!(lines[0].connections, 1, "still connected once");
    table.disconnected(&peer, 0);
    assert_eq!(table.len(), 0);
    table.disconnected(&peer, 0);
    assert_eq!(table.len(), 0, "a peer never listed leaves nothing");
}

#[test]
fn the_table_holds_at_most_its_capacity() {
    let mut table = PeerTable::new(2);
    let now = Timestamp::now();
    let peers: Vec<PeerId> = (0..3).map(|_| PeerId::random()).collect();
    for (port, peer) in (1..).zip(&peers) {
        table.connected(*peer, &address(port), Direction::Outbound, 1, now);
    }
    assert_eq!(table.len(), 2, "the third peer is beyond the cap");
    table.disconnected(&peers[0], 0);
    table.connected(peers[2], &address(3), Direction::Outbound, 1, now);
    let listed: Vec<String> = table
        .peers(&Contributions::default(), &PeerDrops::default(), 1)
        .into_iter()
        .map(|line| line.peer_id)
        .collect();
    let mut expected = vec![peers[1].to_base58(), peers[2].to_base58()];
    expected.sort_by_key(|id| id.parse::<PeerId>().expect("peer id"));
    assert_eq!(listed, expected, "room again once a peer left");
}

#[test]
fn each_line_carries_what_the_peer_contributed_and_what_was_refused() {
    let mut table = PeerTable::new(8);
    let (giver, cheat) = (PeerId::random(), PeerId::random());
    let now = Timestamp::now();
    table.connected(giver, &address(1), Direction::Outbound, 1, now);
    table.connected(cheat, &address(2), Direction::Inbound, 1, now);
    let contributions = Contributions::from_counts([(giver, 3)]);
    let drops = PeerDrops::default();
    drops.count(&cheat, DropReason::Signature);
    drops.count(&cheat, DropReason::RateLimited);
    let lines = table.peers(&contributions, &drops, 3);
    let giver_line = lines.iter().find(|line| line.peer_id == giver.to_base58());
    let cheat_line = lines.iter().find(|line| line.peer_id == cheat.to_base58());
    let (Some(giver_line), Some(cheat_line)) = (giver_line, cheat_line) else {
        panic!("both listed: {lines:?}");
    };
    assert_eq!((giver_line.contributed, giver_line.may_catch_up), (3, true));
    assert!(giver_line.refused.is_empty());
    assert_eq!(
        (cheat_line.contributed, cheat_line.may_catch_up),
        (0, false)
    );
    assert_eq!(
        cheat_line.refused,
        BTreeMap::from([("rate_limited", 1), ("rejected_signature", 1)])
    );
    let json = serde_json::to_value(cheat_line).expect("json");
    assert_eq!(json["direction"], "inbound");
    assert_eq!(json["refused"]["rejected_signature"], 1);
}

#[test]
fn readers_copy_the_last_view_published() {
    let shared = ConnectedPeers::default();
    assert!(shared.view().connected.is_empty());
    let mut table = PeerTable::new(8);
    table.connected(
        PeerId::random(),
        &address(1),
        Direction::Inbound,
        1,
        Timestamp::now(),
    );
    let view = PeersView {
        peer_id: "12D3KooWThisNode".to_owned(),
        min_contribution: 1,
        connected: table.peers(&Contributions::default(), &PeerDrops::default(), 1),
    };
    shared.publish(view.clone());
    assert_eq!(shared.view(), view);
}
