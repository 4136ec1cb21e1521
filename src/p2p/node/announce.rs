//! The node's side of discovery through OpenDHT: the addresses it announces (those the operator
//! gave with `--p2p-announce-address`, port 0 standing for the port it listens on, and its
//! public listen addresses; private ones only when given), and dialling the peers discovery
//! found.

use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, watch};

use super::super::behaviour::Behaviour;
use super::Node;

/// The channels between the node and discovery (made by `app`).
#[derive(Debug)]
pub struct DiscoveryChannels {
    /// Where the node says what it announces.
    pub announce: watch::Sender<Vec<Multiaddr>>,
    /// Peers found, to dial.
    pub found: mpsc::Receiver<(PeerId, Vec<Multiaddr>)>,
}

/// What to announce: `configured` with port 0 replaced by the first TCP port the node listens on
/// (left out while it listens on none), then the public addresses among `listening`.
pub fn announced(configured: &[Multiaddr], listening: &[Multiaddr]) -> Vec<Multiaddr> {
    let bound_port = listening.iter().find_map(tcp_port);
    let mut out: Vec<Multiaddr> = Vec::new();
    for address in configured {
        let filled: Multiaddr = match tcp_port(address) {
            Some(0) => match bound_port {
                Some(port) => address
                    .iter()
                    .map(|part| match part {
                        Protocol::Tcp(0) => Protocol::Tcp(port),
                        other => other,
                    })
                    .collect(),
                None => continue,
            },
            _ => address.clone(),
        };
        out.push(filled);
    }
    out.extend(listening.iter().filter(|a| is_public(a)).cloned());
    let mut seen = std::collections::HashSet::new();
    out.retain(|address| seen.insert(address.clone()));
    out
}

fn tcp_port(address: &Multiaddr) -> Option<u16> {
    address.iter().find_map(|part| match part {
        Protocol::Tcp(port) => Some(port),
        _ => None,
    })
}

/// Whether the address's IP is reachable from the Internet (not private, loopback, link-local,
/// shared, documentation or unspecified).
fn is_public(address: &Multiaddr) -> bool {
    address.iter().any(|part| match part {
        Protocol::Ip4(ip) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_documentation()
                || ip.is_broadcast()
                || (a == 100 && (64..128).contains(&b)))
        }
        Protocol::Ip6(ip) => {
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && ip.segments()[1] == 0x0db8)
        }
        _ => false,
    })
}

impl Node {
    /// A listen address was bound: announce again.
    pub(super) fn listening_on(&mut self, address: Multiaddr) {
        self.listening.push(address);
        if let Some(channels) = &self.discovery {
            let list = announced(&self.config.options.announce, &self.listening);
            channels.announce.send_replace(list);
        }
    }

    /// Dials a peer discovery found, unless connected already or it is us.
    pub(super) fn dial_found(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        addresses: Vec<Multiaddr>,
    ) {
        if peer == self.local_peer || swarm.is_connected(&peer) || addresses.is_empty() {
            return;
        }
        let dial = DialOpts::peer_id(peer)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .addresses(addresses)
            .build();
        if let Err(error) = swarm.dial(dial) {
            tracing::debug!(%peer, %error, "cannot dial a discovered peer");
        } else {
            tracing::debug!(%peer, "dialling a peer found through OpenDHT");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(texts: &[&str]) -> Vec<Multiaddr> {
        texts
            .iter()
            .map(|t| t.parse().expect("multiaddr"))
            .collect()
    }

    #[test]
    fn private_addresses_are_announced_only_when_given_and_port_0_is_filled_in() {
        let listening = addrs(&[
            "/ip4/127.0.0.1/tcp/4711",
            "/ip4/10.0.0.5/tcp/4711",
            "/ip4/198.51.99.1/tcp/4711",
        ]);
        assert_eq!(
            announced(&[], &listening),
            addrs(&["/ip4/198.51.99.1/tcp/4711"]),
            "public only"
        );
        assert_eq!(
            announced(
                &addrs(&["/ip4/127.0.0.1/tcp/0", "/dns/node.example/tcp/4222"]),
                &listening
            ),
            addrs(&[
                "/ip4/127.0.0.1/tcp/4711",
                "/dns/node.example/tcp/4222",
                "/ip4/198.51.99.1/tcp/4711"
            ])
        );
        assert!(announced(&addrs(&["/ip4/127.0.0.1/tcp/0"]), &[]).is_empty());
    }
}
