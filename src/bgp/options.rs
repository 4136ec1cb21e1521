//! What the speaker is told: its identity, what every route carries (next hops, communities),
//! the cap, and each peer; with the parsing of community names, which `app::settings` uses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// RFC 7999 BLACKHOLE community, 65535:666.
pub const BLACKHOLE: u32 = 0xFFFF_029A;
/// RFC 1997 NO_EXPORT.
pub const NO_EXPORT: u32 = 0xFFFF_FF01;
/// RFC 1997 NO_ADVERTISE.
pub const NO_ADVERTISE: u32 = 0xFFFF_FF02;
/// RFC 1997 NO_EXPORT_SUBCONFED.
pub const NO_EXPORT_SUBCONFED: u32 = 0xFFFF_FF03;
/// RFC 3765 NOPEER.
pub const NO_PEER: u32 = 0xFFFF_FF04;

/// Well-known communities by the names operators write.
const NAMED_COMMUNITIES: [(&str, u32); 5] = [
    ("blackhole", BLACKHOLE),
    ("no-export", NO_EXPORT),
    ("no-advertise", NO_ADVERTISE),
    ("no-export-subconfed", NO_EXPORT_SUBCONFED),
    ("no-peer", NO_PEER),
];

/// Networks never announced whatever the policy says (besides the node's own addresses and the
/// peers' addresses): loopback, link-local, multicast, unspecified and "this network".
pub const NEVER_ANNOUNCED: [&str; 9] = [
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "fe80::/10",
    "ff00::/8",
];

/// The speaker's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpOptions {
    /// Our AS number (4 octets).
    pub local_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// NEXT_HOP of every IPv4 route (a discard address).
    pub next_hop_v4: Ipv4Addr,
    /// Next hop of every IPv6 route (a discard address).
    pub next_hop_v6: Ipv6Addr,
    /// COMMUNITIES of every route (RFC 1997 values).
    pub communities: Vec<u32>,
    /// LARGE_COMMUNITIES of every route (RFC 8092: global, local 1, local 2).
    pub large_communities: Vec<[u32; 3]>,
    /// Most routes announced; beyond, the least recently seen are withdrawn first.
    pub max_routes: usize,
    /// The peers.
    pub peers: Vec<PeerOptions>,
}

/// One peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerOptions {
    /// Its address (connected to, or the source of the connections accepted from it).
    pub address: IpAddr,
    /// Its BGP port, when we connect.
    pub port: u16,
    /// Its AS number (the same as ours: iBGP).
    pub remote_as: u32,
    /// Wait for it to connect instead of connecting.
    pub passive: bool,
    /// TTL (hop limit) of our packets to it.
    pub multihop_ttl: u8,
    /// Hold time we propose, in seconds (0 or at least 3).
    pub hold_time: u16,
}

impl PeerOptions {
    /// `address` as it is written in logs, metrics and the API.
    pub fn name(&self) -> String {
        self.address.to_string()
    }
}

/// A community that is not `A:B` (two 16-bit numbers) nor a known name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a community: write ASN:VALUE (two numbers up to 65535) or one of blackhole, \
     no-export, no-advertise, no-export-subconfed, no-peer"
)]
pub struct CommunityError(String);

/// An RFC 1997 community from `65535:666` or a name (`no-export`, `blackhole`, ...).
///
/// # Errors
///
/// [`CommunityError`] for anything else.
pub fn parse_community(text: &str) -> Result<u32, CommunityError> {
    let wanted = text.trim().to_ascii_lowercase();
    if let Some((_, value)) = NAMED_COMMUNITIES.iter().find(|(name, _)| *name == wanted) {
        return Ok(*value);
    }
    let parts = numbers::<u16>(&wanted, 2).ok_or_else(|| CommunityError(text.to_owned()))?;
    Ok(u32::from(parts[0]) << 16 | u32::from(parts[1]))
}

/// How a community is written back (`65535:666`; names for the RFC 1997 ones).
pub fn community_text(value: u32) -> String {
    match NAMED_COMMUNITIES
        .iter()
        .skip(1)
        .find(|(_, named)| *named == value)
    {
        Some((name, _)) => (*name).to_owned(),
        None => format!("{}:{}", value >> 16, value & 0xFFFF),
    }
}

/// A large community that is not `A:B:C` (three 32-bit numbers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a large community: write GLOBAL:LOCAL1:LOCAL2 (numbers up to 4294967295)")]
pub struct LargeCommunityError(String);

/// An RFC 8092 large community from `64512:666:1`.
///
/// # Errors
///
/// [`LargeCommunityError`] for anything else.
pub fn parse_large_community(text: &str) -> Result<[u32; 3], LargeCommunityError> {
    let parts =
        numbers::<u32>(text.trim(), 3).ok_or_else(|| LargeCommunityError(text.to_owned()))?;
    Ok([parts[0], parts[1], parts[2]])
}

/// Exactly `count` numbers separated by `:`.
fn numbers<T: FromStr>(text: &str, count: usize) -> Option<Vec<T>> {
    let parts: Vec<T> = text
        .split(':')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    (parts.len() == count).then_some(parts)
}

/// The never-announced networks: [`NEVER_ANNOUNCED`] and each peer's address.
pub fn never_announced(peers: &[PeerOptions]) -> Vec<IpNet> {
    NEVER_ANNOUNCED
        .iter()
        .map(|text| text.parse().expect("the built-in networks parse"))
        .chain(
            peers
                .iter()
                .map(|peer| IpNet::from(peer.address.to_canonical())),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_parse_from_numbers_and_names_and_print_back() {
        assert_eq!(parse_community("65535:666"), Ok(BLACKHOLE));
        assert_eq!(parse_community("blackhole"), Ok(BLACKHOLE));
        assert_eq!(parse_community("No-Export"), Ok(NO_EXPORT));
        assert_eq!(parse_community("64512:1"), Ok(64512 << 16 | 1));
        for bad in ["65536:1", "1:2:3", "", "x:1", "no_export", "-1:2"] {
            assert!(parse_community(bad).is_err(), "{bad:?}");
        }
        assert_eq!(community_text(BLACKHOLE), "65535:666");
        assert_eq!(community_text(NO_EXPORT), "no-export");
        assert_eq!(community_text(64512 << 16 | 7), "64512:7");
    }

    #[test]
    fn large_communities_need_three_32_bit_numbers() {
        assert_eq!(
            parse_large_community("4200000000:666:1"),
            Ok([4_200_000_000, 666, 1])
        );
        for bad in ["1:2", "1:2:3:4", "4294967296:1:1", "a:b:c"] {
            assert!(parse_large_community(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_never_list_holds_the_built_in_networks_and_the_peers() {
        let peer = PeerOptions {
            address: "198.51.100.1".parse().expect("address"),
            port: 179,
            remote_as: 65001,
            passive: false,
            multihop_ttl: 255,
            hold_time: 90,
        };
        let never = never_announced(&[peer]);
        for ip in [
            "127.0.0.1",
            "::1",
            "fe80::1",
            "224.0.0.5",
            "0.0.0.0",
            "198.51.100.1",
        ] {
            let ip: IpAddr = ip.parse().expect("address");
            assert!(never.iter().any(|net| net.contains(&ip)), "{ip}");
        }
        let attacker: IpAddr = "198.51.100.2".parse().expect("address");
        assert!(!never.iter().any(|net| net.contains(&attacker)));
    }
}
