//! Connection caps without a swarm: by address, by peer, in all, in handshakes; places coming
//! back when connections go; caps that fit the file descriptors left.

use super::*;

fn id(n: usize) -> ConnectionId {
    ConnectionId::new_unchecked(n)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

fn caps(max_connections: u32, max_per_address: u32) -> ConnectionCaps {
    ConnectionCaps::new(max_connections, max_per_address)
}

#[test]
fn once_half_full_one_address_gets_its_cap_and_others_still_get_in() {
    let mut admission = Admission::new(caps(4, 2));
    let crowded = ip("192.0.2.1");
    for n in 0..2 {
        admission
            .on_pending_inbound(id(n), crowded)
            .expect("under the address cap");
    }
    assert_eq!(
        admission.on_pending_inbound(id(2), crowded),
        Err(Refusal::Address),
        "half full"
    );
    admission
        .on_pending_inbound(id(3), ip("192.0.2.2"))
        .expect("another address");
    // A connection that finished its handshake still holds its address's place; one that
    // failed gives it back.
    admission.on_established(id(0), PeerId::random());
    admission.on_gone(id(1));
    admission
        .on_pending_inbound(id(4), crowded)
        .expect("a place came back");
    assert_eq!(
        admission.on_pending_inbound(id(5), crowded),
        Err(Refusal::Address)
    );
    admission.on_gone(id(0));
    admission
        .on_pending_inbound(id(6), crowded)
        .expect("a closed connection gives its place back");
}

#[test]
fn under_half_full_one_address_may_hold_more_than_its_cap() {
    let mut admission = Admission::new(caps(100, 2));
    let shared = ip("192.0.2.1");
    for n in 0..50 {
        admission
            .on_pending_inbound(id(n), shared)
            .expect("nodes behind one address, nobody else waiting");
        admission.on_established(id(n), PeerId::random());
    }
    assert_eq!(
        admission.on_pending_inbound(id(50), shared),
        Err(Refusal::Address),
        "half of the node for one address"
    );
    admission
        .on_pending_inbound(id(51), ip("192.0.2.2"))
        .expect("the other half for everyone else");
}

#[test]
fn a_full_node_refuses_and_takes_again_once_a_connection_closes() {
    let mut admission = Admission::new(caps(2, 2));
    for n in 0..2 {
        admission
            .on_pending_outbound(id(n))
            .expect("dial under the caps");
        admission
            .check_established(&PeerId::random())
            .expect("room");
        admission.on_established(id(n), PeerId::random());
    }
    assert_eq!(admission.established(), 2);
    assert_eq!(
        admission.check_established(&PeerId::random()),
        Err(Refusal::Full)
    );
    assert_eq!(
        admission.on_pending_inbound(id(9), ip("192.0.2.1")),
        Err(Refusal::Full),
        "no handshake is started for a connection that could not be kept"
    );
    assert_eq!(admission.on_pending_outbound(id(10)), Err(Refusal::Full));
    admission.on_gone(id(0));
    assert_eq!(admission.established(), 1);
    admission
        .check_established(&PeerId::random())
        .expect("room again");
}

#[test]
fn one_peer_gets_at_most_two_connections() {
    let mut admission = Admission::new(caps(10, 10));
    let peer = PeerId::random();
    for n in 0..2 {
        admission.check_established(&peer).expect("under the cap");
        admission.on_established(id(n), peer);
    }
    assert_eq!(admission.check_established(&peer), Err(Refusal::Peer));
    admission.on_gone(id(1));
    admission.check_established(&peer).expect("one closed");
}

#[test]
fn handshakes_in_progress_are_capped() {
    let mut admission = Admission::new(caps(1000, 1000));
    for n in 0..MAX_PENDING_INBOUND as usize {
        admission
            .on_pending_inbound(id(n), ip("192.0.2.1"))
            .expect("under the handshake cap");
    }
    assert_eq!(
        admission.on_pending_inbound(id(999), ip("192.0.2.2")),
        Err(Refusal::Handshakes)
    );
    for n in 0..MAX_PENDING_OUTBOUND as usize {
        admission.on_pending_outbound(id(1000 + n)).expect("dials");
    }
    assert_eq!(
        admission.on_pending_outbound(id(2000)),
        Err(Refusal::Handshakes)
    );
}

#[test]
fn no_state_is_left_for_connections_that_are_gone() {
    let mut admission = Admission::new(caps(200, 100));
    for n in 0..50 {
        let from = ip(&format!("192.0.2.{n}"));
        admission.on_pending_inbound(id(n), from).expect("taken");
        admission.on_established(id(n), PeerId::random());
        admission.on_pending_outbound(id(100 + n)).expect("dial");
        admission.on_established(id(100 + n), PeerId::random());
    }
    admission
        .on_pending_outbound(id(999))
        .expect("a dial that fails");
    admission
        .on_pending_inbound(id(998), ip("192.0.2.1"))
        .expect("a handshake that fails");
    admission.on_gone(id(999));
    admission.on_gone(id(998));
    for n in 0..50 {
        admission.on_gone(id(n));
        admission.on_gone(id(100 + n));
    }
    assert_eq!(admission.established(), 0);
    assert!(admission.pending_inbound.is_empty() && admission.pending_outbound.is_empty());
    assert!(admission.per_address.is_empty() && admission.per_peer.is_empty());
}

#[test]
fn caps_shrink_to_the_file_descriptors_left() {
    let wanted = caps(128, 32);
    assert_eq!(
        wanted.descriptors(),
        128 + u64::from(MAX_PENDING_INBOUND + MAX_PENDING_OUTBOUND + NODE_DESCRIPTORS)
    );
    assert_eq!(wanted.within_descriptors(100_000), wanted, "room for all");
    let tight = wanted.within_descriptors(108);
    assert!(tight.descriptors() <= 108, "{tight:?}");
    assert_eq!(tight.max_pending_inbound, 12);
    assert_eq!(tight.max_connections, 76);
    assert_eq!(tight.max_per_address, 32);
    let tiny = wanted.within_descriptors(0);
    assert_eq!(
        (
            tiny.max_connections,
            tiny.max_pending_inbound,
            tiny.max_per_address
        ),
        (1, 1, 1),
        "never zero: a node with no room at all still keeps one peer"
    );
}
