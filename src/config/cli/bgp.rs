//! Flags of the BGP blackhole feed (the common options; every one is in the `[bgp]` table), and
//! how they merge over the file.

use std::net::{Ipv4Addr, SocketAddr};

use clap::Args;

use super::merge::set_if_some;
use crate::config::{BgpPeerConfig, Config, defaults};

/// The BGP blackhole feed.
#[derive(Debug, Args)]
pub struct BgpFlags {
    /// Run the BGP speaker that announces blocklisted IPs as blackhole routes or use SENTRYPEER_BGP env
    #[arg(long = "bgp")]
    pub bgp: bool,

    /// Our BGP AS number (default 64512) or use SENTRYPEER_BGP_LOCAL_AS env
    #[arg(
        long = "bgp-local-as",
        env = "SENTRYPEER_BGP_LOCAL_AS",
        value_name = "ASN"
    )]
    pub bgp_local_as: Option<u32>,

    /// Our BGP identifier (default: the first IPv4 listen or interface address) or use SENTRYPEER_BGP_ROUTER_ID env
    #[arg(
        long = "bgp-router-id",
        env = "SENTRYPEER_BGP_ROUTER_ID",
        value_name = "IPV4"
    )]
    pub bgp_router_id: Option<Ipv4Addr>,

    /// Where passive BGP peers connect to us (not listening by default) or use SENTRYPEER_BGP_LISTEN_ADDRESS env
    #[arg(
        long = "bgp-listen-address",
        env = "SENTRYPEER_BGP_LISTEN_ADDRESS",
        value_name = "ADDR"
    )]
    pub bgp_listen_address: Option<SocketAddr>,

    /// A BGP peer we connect to, ADDRESS@ASN or [ADDRESS]:PORT@ASN (repeatable; replaces the file's [[bgp.peer]] list) or use SENTRYPEER_BGP_PEER env
    #[arg(
        long = "bgp-peer",
        env = "SENTRYPEER_BGP_PEER",
        value_name = "ADDRESS@ASN",
        value_delimiter = ',',
        value_parser = parse_peer
    )]
    pub bgp_peer: Vec<BgpPeerConfig>,

    /// Most routes announced; beyond, the least recently seen are withdrawn first (default 100000) or use SENTRYPEER_BGP_MAX_ROUTES env
    #[arg(
        long = "bgp-max-routes",
        env = "SENTRYPEER_BGP_MAX_ROUTES",
        value_name = "N"
    )]
    pub bgp_max_routes: Option<usize>,
}

impl BgpFlags {
    /// Merges these flags and their boolean variable (`env_is_set`) over `config`.
    pub(super) fn merge_into(self, config: &mut Config, env_is_set: &impl Fn(&str) -> bool) {
        let bgp = &mut config.bgp;
        bgp.enabled |= self.bgp || env_is_set("SENTRYPEER_BGP");
        set_if_some(&mut bgp.local_as, self.bgp_local_as);
        if self.bgp_router_id.is_some() {
            bgp.router_id = self.bgp_router_id;
        }
        if self.bgp_listen_address.is_some() {
            bgp.listen_address = self.bgp_listen_address;
        }
        super::merge::set_if_not_empty(&mut bgp.peer, self.bgp_peer);
        set_if_some(&mut bgp.max_routes, self.bgp_max_routes);
    }
}

/// `198.51.100.1@65001`, `198.51.100.1:1179@65001`, `[2001:db8::1]:179@65001` or
/// `2001:db8::1@65001`: an active peer with the other options at their defaults.
fn parse_peer(text: &str) -> Result<BgpPeerConfig, String> {
    let (address, asn) = text
        .rsplit_once('@')
        .ok_or_else(|| format!("{text:?}: write ADDRESS@ASN"))?;
    let remote_as = asn
        .parse()
        .map_err(|_| format!("{text:?}: {asn:?} is not an AS number"))?;
    let (address, port) = match (address.parse(), address.parse::<SocketAddr>()) {
        (Ok(ip), _) => (ip, defaults::BGP_PORT),
        (_, Ok(socket)) => (socket.ip(), socket.port()),
        _ => return Err(format!("{text:?}: {address:?} is not an address")),
    };
    Ok(BgpPeerConfig {
        address,
        port,
        remote_as,
        passive: false,
        multihop_ttl: defaults::BGP_MULTIHOP_TTL,
        hold_time: defaults::BGP_HOLD_TIME,
        password: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_written_address_at_asn_with_an_optional_port() {
        let peer = parse_peer("198.51.100.1@65001").expect("parses");
        assert_eq!(
            (peer.address.to_string(), peer.port, peer.remote_as),
            ("198.51.100.1".to_owned(), 179, 65001)
        );
        let peer = parse_peer("[2001:db8::1]:1179@4200000000").expect("parses");
        assert_eq!(
            (peer.address.to_string(), peer.port, peer.remote_as),
            ("2001:db8::1".to_owned(), 1179, 4_200_000_000)
        );
        assert_eq!(parse_peer("2001:db8::1@65001").expect("parses").port, 179);
        for bad in [
            "198.51.100.1",
            "198.51.100.1@",
            "host@65001",
            "198.51.100.1@-1",
        ] {
            assert!(parse_peer(bad).is_err(), "{bad:?}");
        }
    }
}
