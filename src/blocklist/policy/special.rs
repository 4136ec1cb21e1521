//! Special-purpose addresses: never a verdict (unless `include_special_addresses`), because a
//! blocklist that routers and firewalls apply must not be aimed at loopback, private networks,
//! broadcast, documentation ranges and the like by whoever sends us a spoofed packet or a forged
//! peer record.
//!
//! The blocks are every entry of the IANA registries, as of their 2025 versions:
//! - IANA IPv4 Special-Purpose Address Registry
//!   (<https://www.iana.org/assignments/iana-ipv4-special-registry/>, RFC 6890, RFC 8190),
//! - IANA IPv6 Special-Purpose Address Registry
//!   (<https://www.iana.org/assignments/iana-ipv6-special-registry/>, RFC 6890, RFC 8190),
//!
//! plus the multicast spaces (IPv4 Multicast Address Space Registry, `224.0.0.0/4`, RFC 5771;
//! IPv6 Multicast Address Space Registry, `ff00::/8`, RFC 4291), which those registries leave
//! to their own. A block nested in a larger one (`192.0.0.9/32` in `192.0.0.0/24`) is listed for
//! the record; the larger block decides. Entries the registry marks globally reachable (AS112,
//! AMT, TEREDO, 6to4, NAT64's `64:ff9b::/96`, the anycast services) are excluded too: they are
//! relays and shared services, and listing one blocks everyone behind it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// One registered block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialBlock {
    /// The block.
    pub network: ipnet::IpNet,
    /// Its registry name.
    pub name: &'static str,
    /// The RFC that registered it.
    pub rfc: &'static str,
}

const fn v4(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    len: u8,
    name: &'static str,
    rfc: &'static str,
) -> SpecialBlock {
    SpecialBlock {
        network: ipnet::IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)),
        name,
        rfc,
    }
}

const fn v6(segments: [u16; 8], len: u8, name: &'static str, rfc: &'static str) -> SpecialBlock {
    let [a, b, c, d, e, f, g, h] = segments;
    SpecialBlock {
        network: ipnet::IpNet::V6(Ipv6Net::new_assert(
            Ipv6Addr::new(a, b, c, d, e, f, g, h),
            len,
        )),
        name,
        rfc,
    }
}

/// The IPv4 blocks.
#[rustfmt::skip]
pub const SPECIAL_V4: [SpecialBlock; 25] = [
    v4(0, 0, 0, 0, 8, "\"This network\"", "RFC 791"),
    v4(0, 0, 0, 0, 32, "\"This host on this network\"", "RFC 1122"),
    v4(10, 0, 0, 0, 8, "Private-Use", "RFC 1918"),
    v4(100, 64, 0, 0, 10, "Shared Address Space", "RFC 6598"),
    v4(127, 0, 0, 0, 8, "Loopback", "RFC 1122"),
    v4(169, 254, 0, 0, 16, "Link Local", "RFC 3927"),
    v4(172, 16, 0, 0, 12, "Private-Use", "RFC 1918"),
    v4(192, 0, 0, 0, 24, "IETF Protocol Assignments", "RFC 6890"),
    v4(192, 0, 0, 0, 29, "IPv4 Service Continuity Prefix", "RFC 7335"),
    v4(192, 0, 0, 8, 32, "IPv4 dummy address", "RFC 7600"),
    v4(192, 0, 0, 9, 32, "Port Control Protocol Anycast", "RFC 7723"),
    v4(192, 0, 0, 10, 32, "Traversal Using Relays around NAT Anycast", "RFC 8155"),
    v4(192, 0, 0, 170, 32, "NAT64/DNS64 Discovery", "RFC 8880"),
    v4(192, 0, 0, 171, 32, "NAT64/DNS64 Discovery", "RFC 8880"),
    v4(192, 0, 2, 0, 24, "Documentation (TEST-NET-1)", "RFC 5737"),
    v4(192, 31, 196, 0, 24, "AS112-v4", "RFC 7535"),
    v4(192, 52, 193, 0, 24, "AMT", "RFC 7450"),
    v4(192, 88, 99, 0, 24, "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
    v4(192, 168, 0, 0, 16, "Private-Use", "RFC 1918"),
    v4(192, 175, 48, 0, 24, "Direct Delegation AS112 Service", "RFC 7534"),
    v4(198, 18, 0, 0, 15, "Benchmarking", "RFC 2544"),
    v4(198, 51, 100, 0, 24, "Documentation (TEST-NET-2)", "RFC 5737"),
    v4(203, 0, 113, 0, 24, "Documentation (TEST-NET-3)", "RFC 5737"),
    v4(240, 0, 0, 0, 4, "Reserved", "RFC 1112"),
    v4(255, 255, 255, 255, 32, "Limited Broadcast", "RFC 919"),
];

/// IPv4 multicast (IPv4 Multicast Address Space Registry).
pub const MULTICAST_V4: SpecialBlock = v4(224, 0, 0, 0, 4, "Multicast", "RFC 5771");

/// The IPv6 blocks.
#[rustfmt::skip]
pub const SPECIAL_V6: [SpecialBlock; 26] = [
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "Loopback Address", "RFC 4291"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "Unspecified Address", "RFC 4291"),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped Address", "RFC 4291"),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "IPv4-IPv6 Translat.", "RFC 6052"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "IPv4-IPv6 Translat.", "RFC 8215"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "Discard-Only Address Block", "RFC 6666"),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "Dummy IPv6 Prefix", "RFC 9780"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF Protocol Assignments", "RFC 2928"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "TEREDO", "RFC 4380"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, "Port Control Protocol Anycast", "RFC 7723"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, "Traversal Using Relays around NAT Anycast", "RFC 8155"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, "DNS-SD Service Registration Protocol Anycast", "RFC 9665"),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "Benchmarking", "RFC 5180"),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "AMT", "RFC 7450"),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, "AS112-v6", "RFC 7535"),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "Deprecated (previously ORCHID)", "RFC 4843"),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2", "RFC 7343"),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "Documentation", "RFC 3849"),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4", "RFC 3056"),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, "Direct Delegation AS112 Service", "RFC 7534"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "Documentation", "RFC 9637"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "Segment Routing (SRv6) SIDs", "RFC 9602"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "Unique-Local", "RFC 4193"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "Link-Local Unicast", "RFC 4291"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "Multicast", "RFC 4291"),
];

/// The block `ip` is in (the first listed that holds it), if any. IPv4-mapped IPv6 is checked
/// as the IPv4 address it maps.
pub fn special_purpose(ip: IpAddr) -> Option<&'static SpecialBlock> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => SPECIAL_V4
            .iter()
            .chain(std::iter::once(&MULTICAST_V4))
            .find(|block| block.network.contains(&IpAddr::V4(v4))),
        IpAddr::V6(v6) => SPECIAL_V6
            .iter()
            .find(|block| block.network.contains(&IpAddr::V6(v6))),
    }
}

/// Every block, IPv4 (multicast included) then IPv6.
pub fn special_blocks() -> impl Iterator<Item = &'static SpecialBlock> {
    SPECIAL_V4
        .iter()
        .chain([&MULTICAST_V4])
        .chain(SPECIAL_V6.iter())
}

/// The blocks [`special_purpose`] checks as written: all but `::ffff:0:0/96`, whose addresses
/// are checked as the IPv4 address they carry.
#[cfg(test)]
pub(super) fn blocks_checked_as_written() -> impl Iterator<Item = &'static SpecialBlock> {
    special_blocks().filter(|block| block.name != "IPv4-mapped Address")
}

/// The special addresses a hostile peer put into every feed (issue 15, measured 2026-12-03).
#[cfg(test)]
pub(super) const POISONED_IN_THE_ISSUE: [&str; 6] = [
    "0.0.0.0",
    "255.255.255.255",
    "127.0.0.1",
    "::1",
    "10.0.0.1",
    "192.168.1.1",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The first, last and a middle address of a block.
    fn samples(block: &SpecialBlock) -> [IpAddr; 3] {
        let network = block.network;
        let (first, last) = (network.network(), network.broadcast());
        let middle = match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                IpAddr::V4(Ipv4Addr::from(u32::from(a) / 2 + u32::from(b) / 2))
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                IpAddr::V6(Ipv6Addr::from(u128::from(a) / 2 + u128::from(b) / 2))
            }
            _ => first,
        };
        [first, middle, last]
    }

    #[test]
    fn every_registered_block_is_special_at_its_edges_and_middle() {
        for block in blocks_checked_as_written() {
            for ip in samples(block) {
                assert!(special_purpose(ip).is_some(), "{ip} in {}", block.network);
            }
        }
    }

    #[test]
    fn the_blocks_the_issue_names_are_special() {
        let others = [
            "172.31.255.255",
            "100.64.0.1",
            "169.254.1.1",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "192.88.99.1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "2001:2::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
        ];
        for text in POISONED_IN_THE_ISSUE.into_iter().chain(others) {
            let ip: IpAddr = text.parse().expect("ip");
            assert!(special_purpose(ip).is_some(), "{text}");
        }
    }

    #[test]
    fn ordinary_addresses_are_not() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2a00:1450:4009::1",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "2620:4f:8001::1",
            "fbff:ffff::1",
            "fec0::1",
        ] {
            let ip: IpAddr = text.parse().expect("ip");
            assert_eq!(special_purpose(ip), None, "{text}");
        }
    }

    #[test]
    fn blocks_name_their_registry_entry() {
        let loopback = special_purpose("127.1.2.3".parse().expect("ip")).expect("special");
        assert_eq!((loopback.name, loopback.rfc), ("Loopback", "RFC 1122"));
        let ula = special_purpose("fd12::1".parse().expect("ip")).expect("special");
        assert_eq!(ula.name, "Unique-Local");
    }
}
