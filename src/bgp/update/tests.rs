use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use rustbgpd_wire::attribute::{AsPathSegment, PathAttribute};
use rustbgpd_wire::nlri::Prefix;
use rustbgpd_wire::{Afi, Message, decode_message};

use super::*;
use crate::bgp::options::{BLACKHOLE, NO_EXPORT};

fn options() -> BgpOptions {
    BgpOptions {
        local_as: 64512,
        router_id: Ipv4Addr::new(192, 0, 2, 10),
        next_hop_v4: Ipv4Addr::new(192, 0, 2, 1),
        next_hop_v6: "100::1".parse().expect("address"),
        communities: vec![BLACKHOLE, NO_EXPORT],
        large_communities: vec![[64512, 666, 1]],
        max_routes: 100_000,
        peers: Vec::new(),
    }
}

/// Decodes one message we built: its withdrawn and announced prefixes (IPv4 fields and MP
/// attributes together) and its attributes.
fn decode(bytes: &[u8]) -> (Vec<IpAddr>, Vec<IpAddr>, Vec<PathAttribute>) {
    assert!(bytes.len() <= 4096, "{} bytes", bytes.len());
    let mut frame = Bytes::copy_from_slice(bytes);
    let Ok(Message::Update(update)) = decode_message(&mut frame, 4096) else {
        panic!("not an UPDATE");
    };
    let parsed = update.parse(true, false, &[]).expect("our UPDATE parses");
    let host = |prefix: Prefix| match prefix {
        Prefix::V4(p) => {
            assert_eq!(p.len, 32);
            IpAddr::V4(p.addr)
        }
        Prefix::V6(p) => {
            assert_eq!(p.len, 128);
            IpAddr::V6(p.addr)
        }
    };
    let mut withdrawn: Vec<IpAddr> = parsed
        .withdrawn
        .iter()
        .map(|e| IpAddr::V4(e.prefix.addr))
        .collect();
    let mut announced: Vec<IpAddr> = parsed
        .announced
        .iter()
        .map(|e| IpAddr::V4(e.prefix.addr))
        .collect();
    let mut attributes = Vec::new();
    for attribute in parsed.attributes {
        match attribute {
            PathAttribute::MpReachNlri(reach) => {
                assert_eq!(reach.next_hop, "100::1".parse::<IpAddr>().expect("address"));
                announced.extend(reach.announced.iter().map(|e| host(e.prefix)));
            }
            PathAttribute::MpUnreachNlri(unreach) => {
                withdrawn.extend(unreach.withdrawn.iter().map(|e| host(e.prefix)));
            }
            other => attributes.push(other),
        }
    }
    (withdrawn, announced, attributes)
}

fn v4_hosts(count: u32) -> Vec<IpAddr> {
    (0..count)
        .map(|n| IpAddr::V4(Ipv4Addr::from(0xCB00_7100 + n)))
        .collect()
}

fn v6_hosts(count: u128) -> Vec<IpAddr> {
    (0..count)
        .map(|n| IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | n)))
        .collect()
}

#[test]
fn announcements_carry_origin_igp_our_as_path_the_next_hop_and_the_communities() {
    let encoder = UpdateEncoder::new(&options(), 65001, true);
    let ips = [
        IpAddr::from([198, 51, 100, 7]),
        "2001:db8::7".parse().expect("address"),
    ];
    let messages = encoder.announcements(&ips).expect("encodes");
    assert_eq!(messages.len(), 2, "one message per family");
    let (_, v4, attributes) = decode(&messages[0].0);
    assert_eq!(v4, vec![ips[0]]);
    assert!(attributes.contains(&PathAttribute::Origin(Origin::Igp)));
    assert!(attributes.contains(&PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1))));
    assert!(attributes.contains(&PathAttribute::Communities(vec![BLACKHOLE, NO_EXPORT])));
    assert!(
        attributes.contains(&PathAttribute::LargeCommunities(vec![LargeCommunity::new(
            64512, 666, 1
        )]))
    );
    assert!(attributes.iter().any(|a| matches!(
        a,
        PathAttribute::AsPath(path) if path.segments == vec![AsPathSegment::AsSequence(vec![64512])]
    )));
    let (_, v6, attributes) = decode(&messages[1].0);
    assert_eq!(v6, vec![ips[1]]);
    assert!(
        !attributes
            .iter()
            .any(|a| matches!(a, PathAttribute::NextHop(_)))
    );
    assert!(attributes.contains(&PathAttribute::Communities(vec![BLACKHOLE, NO_EXPORT])));
}

#[test]
fn ibgp_routes_have_an_empty_as_path_and_a_local_preference() {
    let encoder = UpdateEncoder::new(&options(), 64512, true);
    let messages = encoder.announcements(&v4_hosts(1)).expect("encodes");
    let (_, _, attributes) = decode(&messages[0].0);
    assert!(attributes.contains(&PathAttribute::LocalPref(100)));
    assert!(
        attributes
            .iter()
            .any(|a| matches!(a, PathAttribute::AsPath(path) if path.segments.is_empty()))
    );
}

#[test]
fn full_messages_hold_hundreds_of_prefixes_and_never_exceed_4096_bytes() {
    let encoder = UpdateEncoder::new(&options(), 65001, true);
    let all: Vec<IpAddr> = v4_hosts(5_000).into_iter().chain(v6_hosts(1_000)).collect();
    let announced = encoder.announcements(&all).expect("encodes");
    let withdrawn = encoder.withdrawals(&all).expect("encodes");
    for (messages, least_v4, least_v6) in [(announced, 750, 220), (withdrawn, 800, 230)] {
        let mut seen = Vec::new();
        let mut largest = [0, 0];
        for (bytes, count) in &messages {
            let (w, a, _) = decode(bytes);
            let prefixes: Vec<IpAddr> = w.into_iter().chain(a).collect();
            assert_eq!(prefixes.len(), *count);
            let family = usize::from(prefixes[0].is_ipv6());
            largest[family] = largest[family].max(*count);
            seen.extend(prefixes);
        }
        assert_eq!(seen, all, "every prefix once, in order");
        assert!(
            largest[0] >= least_v4,
            "{} IPv4 prefixes per message",
            largest[0]
        );
        assert!(
            largest[1] >= least_v6,
            "{} IPv6 prefixes per message",
            largest[1]
        );
    }
}

#[test]
fn end_of_rib_is_an_empty_update_or_an_empty_mp_unreach() {
    let encoder = UpdateEncoder::new(&options(), 65001, true);
    let v4 = encoder.end_of_rib(Afi::Ipv4).expect("encodes");
    assert_eq!(v4.len(), 23, "header and two zero lengths");
    let (withdrawn, announced, attributes) =
        decode(&encoder.end_of_rib(Afi::Ipv6).expect("encodes"));
    assert!(withdrawn.is_empty() && announced.is_empty() && attributes.is_empty());
}
