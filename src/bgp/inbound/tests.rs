use std::net::{IpAddr, Ipv4Addr};

use rustbgpd_wire::{Message, NotificationCode, NotificationMessage, OpenMessage, encode_message};

use super::*;
use crate::bgp::options::BgpOptions;
use crate::bgp::update::UpdateEncoder;

fn encoded(message: &Message) -> Vec<u8> {
    encode_message(message).expect("encodes").to_vec()
}

fn open() -> Vec<u8> {
    encoded(&Message::Open(OpenMessage {
        version: 4,
        my_as: 65001,
        hold_time: 90,
        bgp_identifier: Ipv4Addr::new(198, 51, 100, 1),
        capabilities: Vec::new(),
    }))
}

fn update_announcing(count: u32) -> Vec<u8> {
    let options = BgpOptions {
        local_as: 65001,
        router_id: Ipv4Addr::new(198, 51, 100, 1),
        next_hop_v4: Ipv4Addr::new(198, 51, 100, 1),
        next_hop_v6: "2001:db8::1".parse().expect("address"),
        communities: Vec::new(),
        large_communities: Vec::new(),
        max_routes: 10,
        peers: Vec::new(),
    };
    let ips: Vec<IpAddr> = (0..count)
        .map(|n| IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + n)))
        .collect();
    let mut messages = UpdateEncoder::new(&options, 64512, true)
        .announcements(&ips)
        .expect("encodes");
    messages.remove(0).0
}

fn all(framer: &mut Framer) -> Vec<Inbound> {
    std::iter::from_fn(|| framer.next_message())
        .map(|decoded| interpret(decoded, true))
        .collect()
}

#[test]
fn messages_are_cut_from_the_stream_however_it_is_split() {
    let mut stream = open();
    stream.extend(encoded(&Message::Keepalive));
    stream.extend(update_announcing(3));
    stream.extend(encoded(&Message::Notification(NotificationMessage::new(
        NotificationCode::Cease,
        2,
        Bytes::new(),
    ))));
    for chunk in [1, 7, 19, 4096] {
        let mut framer = Framer::default();
        let mut seen = Vec::new();
        for piece in stream.chunks(chunk) {
            assert!(framer.wanted() >= 1);
            framer.extend(piece);
            seen.extend(all(&mut framer));
        }
        assert_eq!(framer.buffered(), 0);
        assert!(
            matches!(seen[0], Inbound::Event(Event::OpenReceived(_))),
            "{seen:?}"
        );
        assert!(matches!(seen[1], Inbound::Event(Event::KeepaliveReceived)));
        assert!(matches!(seen[2], Inbound::Update(Ok(3))));
        assert!(matches!(
            seen[3],
            Inbound::Event(Event::NotificationReceived(_))
        ));
        assert_eq!(seen.len(), 4);
    }
}

#[test]
fn the_reader_never_asks_for_more_than_the_message_it_is_in() {
    let update = update_announcing(500);
    let mut framer = Framer::default();
    framer.extend(&update[..19]);
    assert_eq!(framer.wanted(), update.len() - 19);
    framer.extend(&update[19..]);
    assert!(matches!(all(&mut framer)[..], [Inbound::Update(Ok(500))]));
    assert_eq!(framer.wanted(), 19);
}

#[test]
fn a_bad_header_is_an_error_once_and_then_nothing() {
    let mut framer = Framer::default();
    framer.extend(&[0xAB; 40]);
    let first = framer.next_message();
    assert!(
        matches!(first, Some(Err(DecodeError::InvalidMarker))),
        "{first:?}"
    );
    framer.extend(&open());
    assert!(framer.next_message().is_none());
    assert_eq!(framer.buffered(), 0);
}

#[test]
fn an_update_that_does_not_parse_is_counted_as_such() {
    let mut update = update_announcing(2);
    // The first attribute is ORIGIN (flags, type 1, length 1, value): make its value unknown.
    assert_eq!(update[23..26], [0x40, 1, 1]);
    update[26] = 7;
    let mut framer = Framer::default();
    framer.extend(&update);
    let seen = all(&mut framer);
    assert!(matches!(seen[..], [Inbound::Update(Err(_))]), "{seen:?}");
}

#[test]
fn route_refresh_asks_for_our_routes_again_and_its_markers_do_not() {
    use rustbgpd_wire::{Afi, RouteRefreshMessage, RouteRefreshSubtype, Safi};
    let normal = encoded(&Message::RouteRefresh(RouteRefreshMessage::new(
        Afi::Ipv6,
        Safi::Unicast,
    )));
    let marker = encoded(&Message::RouteRefresh(
        RouteRefreshMessage::new_with_subtype(Afi::Ipv4, Safi::Unicast, RouteRefreshSubtype::BoRR),
    ));
    let mut framer = Framer::default();
    framer.extend(&normal);
    framer.extend(&marker);
    let seen = all(&mut framer);
    assert!(matches!(
        seen[0],
        Inbound::RouteRefresh { resend: true, .. }
    ));
    assert!(matches!(
        seen[1],
        Inbound::RouteRefresh { resend: false, .. }
    ));
}
