//! The `[bgp]` table and its `[[bgp.peer]]` entries: the BGP blackhole feed. Only the shape and
//! the defaults live here; `app::settings` checks the values and builds the speaker's options.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::{Secret, defaults};

/// The BGP speaker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BgpConfig {
    /// Run the BGP speaker (`--bgp`).
    pub enabled: bool,
    /// Our AS number (a private one by default).
    pub local_as: u32,
    /// Our BGP identifier. Default: the first IPv4 listen address that is not loopback, else
    /// the host's first IPv4 interface address that is not loopback.
    pub router_id: Option<Ipv4Addr>,
    /// Where passive peers connect to us; not listening when unset.
    pub listen_address: Option<SocketAddr>,
    /// Next hop of every IPv4 route: a discard address (RFC 5737 documentation range).
    pub next_hop_v4: Ipv4Addr,
    /// Next hop of every IPv6 route: a discard address (RFC 6666 discard prefix).
    pub next_hop_v6: Ipv6Addr,
    /// Communities of every route: `ASN:VALUE`, `blackhole`, `no-export`, `no-advertise`,
    /// `no-export-subconfed`, `no-peer` (RFC 7999 BLACKHOLE and NO_EXPORT by default).
    pub communities: Vec<String>,
    /// Large communities of every route (`GLOBAL:LOCAL1:LOCAL2`).
    pub large_communities: Vec<String>,
    /// Most routes announced; beyond, the least recently seen are withdrawn first.
    pub max_routes: usize,
    /// Networks and addresses never announced, on top of the node's own addresses, the peers'
    /// addresses, loopback, link-local, multicast and unspecified, and `[verdicts.bgp] never`.
    pub never_announce: Vec<String>,
    /// The peers (`[[bgp.peer]]`).
    pub peer: Vec<BgpPeerConfig>,
}

/// One BGP peer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BgpPeerConfig {
    /// Its address.
    pub address: IpAddr,
    /// Its BGP port (when we connect).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Its AS number (ours too makes an iBGP session).
    pub remote_as: u32,
    /// Wait for it to connect (to `listen_address`) instead of connecting.
    #[serde(default)]
    pub passive: bool,
    /// TTL of our packets to it (multihop eBGP).
    #[serde(default = "default_multihop_ttl")]
    pub multihop_ttl: u8,
    /// Hold time we propose, in seconds (0, or 3 to 65535).
    #[serde(default = "default_hold_time")]
    pub hold_time: u16,
    /// TCP-MD5 (RFC 2385) key: not supported by this build (start-up refuses it; see README).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
}

fn default_port() -> u16 {
    defaults::BGP_PORT
}

fn default_multihop_ttl() -> u8 {
    defaults::BGP_MULTIHOP_TTL
}

fn default_hold_time() -> u16 {
    defaults::BGP_HOLD_TIME
}

impl Default for BgpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            local_as: defaults::BGP_LOCAL_AS,
            router_id: None,
            listen_address: None,
            next_hop_v4: defaults::BGP_NEXT_HOP_V4,
            next_hop_v6: defaults::BGP_NEXT_HOP_V6,
            communities: defaults::BGP_COMMUNITIES.map(str::to_owned).to_vec(),
            large_communities: Vec::new(),
            max_routes: defaults::BGP_MAX_ROUTES,
            never_announce: Vec::new(),
            peer: Vec::new(),
        }
    }
}
