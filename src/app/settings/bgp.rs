//! Settings of the BGP blackhole feed, checked and built from `[bgp]` and its flags (whether or
//! not `--bgp` is on: a bad value is an error either way).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::IpNet;

use super::{in_range, network_or_address};
use crate::bgp::{
    BgpOptions, PeerOptions, never_announced, parse_community, parse_large_community,
};
use crate::config::{BgpConfig, Config, ConfigError};

/// AS_TRANS (RFC 6793): never a speaker's own AS number.
const AS_TRANS: u32 = 23_456;
/// Most routes the cap may be set to.
const MAX_ROUTES_LIMIT: u64 = 1 << 24;

/// The BGP speaker's settings.
#[derive(Debug, Clone)]
pub struct BgpSettings {
    /// The speaker's options; `router_id` is a placeholder while [`BgpSettings::router_id`] is
    /// `None`.
    pub options: BgpOptions,
    /// The configured router id, or the first IPv4 listen address; `None`: the host's first
    /// IPv4 interface address, found at start.
    pub router_id: Option<Ipv4Addr>,
    /// Where passive peers connect.
    pub listen_address: Option<SocketAddr>,
    /// Never announced (on top of the BGP policy's own never-list): `never_announce`, the
    /// built-in networks and the peers' addresses.
    pub never: Vec<IpNet>,
}

/// The BGP settings when `[bgp] enabled` (`--bgp`); checked either way.
pub(super) fn settings(config: &Config) -> Result<Option<BgpSettings>, ConfigError> {
    let bgp = &config.bgp;
    if bgp.local_as == 0 || bgp.local_as == AS_TRANS {
        return Err(ConfigError::invalid(
            "bgp.local_as",
            format!("{} cannot be a speaker's AS number", bgp.local_as),
        ));
    }
    in_range("bgp.max_routes", bgp.max_routes as u64, 1, MAX_ROUTES_LIMIT)?;
    let communities = (bgp.communities.iter())
        .map(|text| parse_community(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ConfigError::invalid("bgp.communities", error.to_string()))?;
    let large_communities = (bgp.large_communities.iter())
        .map(|text| parse_large_community(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ConfigError::invalid("bgp.large_communities", error.to_string()))?;
    let peers = peers(bgp)?;
    let mut never = never_announce(&bgp.never_announce)?;
    never.extend(never_announced(&peers));
    let settings = BgpSettings {
        options: BgpOptions {
            local_as: bgp.local_as,
            router_id: Ipv4Addr::UNSPECIFIED,
            next_hop_v4: bgp.next_hop_v4,
            next_hop_v6: bgp.next_hop_v6,
            communities,
            large_communities,
            max_routes: bgp.max_routes,
            peers,
        },
        router_id: bgp.router_id.or_else(|| first_ipv4(config)),
        listen_address: bgp.listen_address,
        never,
    };
    if !bgp.enabled {
        return Ok(None);
    }
    if settings.options.peers.is_empty() {
        return Err(ConfigError::invalid(
            "bgp.peer",
            "--bgp needs at least one peer ([[bgp.peer]] or --bgp-peer ADDRESS@ASN)",
        ));
    }
    if bgp.listen_address.is_none() && settings.options.peers.iter().any(|peer| peer.passive) {
        return Err(ConfigError::invalid(
            "bgp.listen_address",
            "passive peers connect to us: set bgp.listen_address (e.g. \"0.0.0.0:179\")",
        ));
    }
    Ok(Some(settings))
}

fn peers(bgp: &BgpConfig) -> Result<Vec<PeerOptions>, ConfigError> {
    let mut seen = HashSet::new();
    let mut peers = Vec::new();
    for peer in &bgp.peer {
        let address = peer.address.to_canonical();
        let fail =
            |reason: String| ConfigError::invalid("bgp.peer", format!("{address}: {reason}"));
        if peer.password.is_some() {
            return Err(fail(
                "TCP-MD5 (password) is not supported by this build: it needs a socket option \
                 that no safe Rust API offers, and this program uses no unsafe code. Protect the \
                 session with GTSM/ACLs or IPsec and remove `password`"
                    .to_owned(),
            ));
        }
        if peer.remote_as == 0 || peer.remote_as == AS_TRANS {
            return Err(fail(format!(
                "remote_as {} is not a peer's AS number",
                peer.remote_as
            )));
        }
        if matches!(peer.hold_time, 1 | 2) {
            return Err(fail("hold_time is 0 or at least 3 seconds".to_owned()));
        }
        if peer.multihop_ttl == 0 {
            return Err(fail("multihop_ttl is at least 1".to_owned()));
        }
        if address.is_unspecified() || address.is_multicast() {
            return Err(fail("not a peer's address".to_owned()));
        }
        if !seen.insert(address) {
            return Err(fail("listed twice".to_owned()));
        }
        peers.push(PeerOptions {
            address,
            port: peer.port,
            remote_as: peer.remote_as,
            passive: peer.passive,
            multihop_ttl: peer.multihop_ttl,
            hold_time: peer.hold_time,
        });
    }
    Ok(peers)
}

fn never_announce(entries: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    entries
        .iter()
        .map(|entry| {
            network_or_address(entry).ok_or_else(|| {
                ConfigError::invalid(
                    "bgp.never_announce",
                    format!("{entry:?} is not a network (10.0.0.0/8) nor an address"),
                )
            })
        })
        .collect()
}

/// The first IPv4 address the node listens on (BGP, SIP, TLS, API), unspecified and loopback
/// ones skipped (a router id must tell this node from others).
fn first_ipv4(config: &Config) -> Option<Ipv4Addr> {
    [
        config.bgp.listen_address,
        Some(config.sip_listen_address),
        Some(config.tls_listen_address),
        Some(config.api_listen_address),
    ]
    .into_iter()
    .flatten()
    .find_map(|address| match address.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() && !ip.is_loopback() => Some(ip),
        _ => None,
    })
}
