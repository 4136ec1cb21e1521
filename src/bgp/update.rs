//! The UPDATE messages the speaker sends: host routes packed as many to a message as the
//! 4,096-byte limit allows (about 800 IPv4 or 230 IPv6 prefixes), every one with ORIGIN IGP,
//! our AS path, the configured next hop (IPv4 in NEXT_HOP, IPv6 in MP_REACH_NLRI) and
//! communities; withdrawals in the withdrawn-routes field (IPv4) or MP_UNREACH_NLRI (IPv6); and
//! End-of-RIB markers (RFC 4724).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustbgpd_wire::attribute::{
    AsPath, AsPathSegment, LargeCommunity, MpReachNlri, MpUnreachNlri, Origin, PathAttribute,
};
use rustbgpd_wire::nlri::{Ipv4NlriEntry, Ipv4Prefix, Ipv6Prefix, NlriEntry, Prefix};
use rustbgpd_wire::{
    Afi, EncodeError, Ipv4UnicastMode, MAX_MESSAGE_LEN, Message, Safi, UpdateMessage,
    encode_message,
};

use super::options::BgpOptions;

/// Bytes of a BGP header and the UPDATE's two length fields.
const FIXED_BYTES: usize = 19 + 2 + 2;
/// Bytes of a host route in NLRI: the length octet and the address.
const V4_PREFIX_BYTES: usize = 1 + 4;
const V6_PREFIX_BYTES: usize = 1 + 16;
/// LOCAL_PREF sent to iBGP peers (the usual default).
const IBGP_LOCAL_PREF: u32 = 100;

/// Builds a session's UPDATE messages.
#[derive(Debug, Clone)]
pub(crate) struct UpdateEncoder {
    /// Attributes of every route except the MP_REACH_NLRI of IPv6 ones.
    attributes_v4: Vec<PathAttribute>,
    attributes_v6: Vec<PathAttribute>,
    next_hop_v6: Ipv6Addr,
    four_octet_as: bool,
    /// Prefixes per message.
    per_announce_v4: usize,
    per_announce_v6: usize,
    per_withdraw_v4: usize,
    per_withdraw_v6: usize,
}

impl UpdateEncoder {
    /// The encoder for a session with a peer of `remote_as`; `four_octet_as` as negotiated.
    pub(crate) fn new(options: &BgpOptions, remote_as: u32, four_octet_as: bool) -> Self {
        let ibgp = remote_as == options.local_as;
        let mut common = vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath {
                segments: if ibgp {
                    Vec::new()
                } else {
                    vec![AsPathSegment::AsSequence(vec![options.local_as])]
                },
            }),
        ];
        if ibgp {
            common.push(PathAttribute::LocalPref(IBGP_LOCAL_PREF));
        }
        if !options.communities.is_empty() {
            common.push(PathAttribute::Communities(options.communities.clone()));
        }
        if !options.large_communities.is_empty() {
            common.push(PathAttribute::LargeCommunities(
                (options.large_communities.iter())
                    .map(|[global, one, two]| LargeCommunity::new(*global, *one, *two))
                    .collect(),
            ));
        }
        let mut attributes_v4 = common.clone();
        attributes_v4.push(PathAttribute::NextHop(options.next_hop_v4));
        let mut encoder = Self {
            attributes_v4,
            attributes_v6: common,
            next_hop_v6: options.next_hop_v6,
            four_octet_as,
            per_announce_v4: 1,
            per_announce_v6: 1,
            per_withdraw_v4: 1,
            per_withdraw_v6: 1,
        };
        encoder.size_batches();
        encoder
    }

    /// How many prefixes fit in one message of each kind: the size of a one-prefix message
    /// less that prefix, and one byte of margin for attribute lengths past 255 (extended length).
    fn size_batches(&mut self) {
        let v4 = [Ipv4Addr::UNSPECIFIED];
        let v6 = [Ipv6Addr::UNSPECIFIED];
        let fit = |one: Result<Vec<u8>, EncodeError>, per: usize| {
            let overhead = one.map_or(MAX_MESSAGE_LEN.into(), |bytes| bytes.len() - per) + 1;
            (usize::from(MAX_MESSAGE_LEN).saturating_sub(overhead) / per).max(1)
        };
        self.per_announce_v4 = fit(self.announce_v4(&v4), V4_PREFIX_BYTES);
        self.per_announce_v6 = fit(self.announce_v6(&v6), V6_PREFIX_BYTES);
        self.per_withdraw_v4 = fit(self.withdraw_v4(&v4), V4_PREFIX_BYTES);
        self.per_withdraw_v6 = fit(self.withdraw_v6(&v6), V6_PREFIX_BYTES);
        debug_assert!(self.per_withdraw_v4 >= (4096 - FIXED_BYTES) / V4_PREFIX_BYTES - 1);
    }

    /// The messages announcing `ips` (IPv4 and IPv6 mixed), each with how many prefixes it holds.
    pub(crate) fn announcements(
        &self,
        ips: &[IpAddr],
    ) -> Result<Vec<(Vec<u8>, usize)>, EncodeError> {
        let (v4, v6) = split(ips);
        let mut messages = Vec::new();
        for chunk in v4.chunks(self.per_announce_v4) {
            messages.push((self.announce_v4(chunk)?, chunk.len()));
        }
        for chunk in v6.chunks(self.per_announce_v6) {
            messages.push((self.announce_v6(chunk)?, chunk.len()));
        }
        Ok(messages)
    }

    /// The messages withdrawing `ips`, each with how many prefixes it holds.
    pub(crate) fn withdrawals(&self, ips: &[IpAddr]) -> Result<Vec<(Vec<u8>, usize)>, EncodeError> {
        let (v4, v6) = split(ips);
        let mut messages = Vec::new();
        for chunk in v4.chunks(self.per_withdraw_v4) {
            messages.push((self.withdraw_v4(chunk)?, chunk.len()));
        }
        for chunk in v6.chunks(self.per_withdraw_v6) {
            messages.push((self.withdraw_v6(chunk)?, chunk.len()));
        }
        Ok(messages)
    }

    /// The End-of-RIB marker of a family: an empty UPDATE (IPv4), or one with an empty
    /// MP_UNREACH_NLRI (IPv6).
    pub(crate) fn end_of_rib(&self, afi: Afi) -> Result<Vec<u8>, EncodeError> {
        match afi {
            Afi::Ipv6 => self.withdraw_v6(&[]),
            _ => self.withdraw_v4(&[]),
        }
    }

    fn announce_v4(&self, ips: &[Ipv4Addr]) -> Result<Vec<u8>, EncodeError> {
        let announced: Vec<Ipv4NlriEntry> = ips.iter().map(|ip| v4_entry(*ip)).collect();
        self.encode(&announced, &[], &self.attributes_v4)
    }

    fn withdraw_v4(&self, ips: &[Ipv4Addr]) -> Result<Vec<u8>, EncodeError> {
        let withdrawn: Vec<Ipv4NlriEntry> = ips.iter().map(|ip| v4_entry(*ip)).collect();
        self.encode(&[], &withdrawn, &[])
    }

    fn announce_v6(&self, ips: &[Ipv6Addr]) -> Result<Vec<u8>, EncodeError> {
        let mut attributes = self.attributes_v6.clone();
        attributes.push(PathAttribute::MpReachNlri(Box::new(MpReachNlri {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            next_hop: IpAddr::V6(self.next_hop_v6),
            link_local_next_hop: None,
            announced: ips.iter().map(|ip| v6_entry(*ip)).collect(),
            flowspec_announced: Vec::new(),
            evpn_announced: Vec::new(),
            bgpls_announced: Vec::new(),
            vpn_announced: Vec::new(),
            labeled_announced: Vec::new(),
            rtc_announced: Vec::new(),
        })));
        self.encode(&[], &[], &attributes)
    }

    fn withdraw_v6(&self, ips: &[Ipv6Addr]) -> Result<Vec<u8>, EncodeError> {
        let attributes = [PathAttribute::MpUnreachNlri(Box::new(MpUnreachNlri {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            withdrawn: ips.iter().map(|ip| v6_entry(*ip)).collect(),
            flowspec_withdrawn: Vec::new(),
            evpn_withdrawn: Vec::new(),
            bgpls_withdrawn: Vec::new(),
            vpn_withdrawn: Vec::new(),
            labeled_withdrawn: Vec::new(),
            rtc_withdrawn: Vec::new(),
        }))];
        self.encode(&[], &[], &attributes)
    }

    fn encode(
        &self,
        announced: &[Ipv4NlriEntry],
        withdrawn: &[Ipv4NlriEntry],
        attributes: &[PathAttribute],
    ) -> Result<Vec<u8>, EncodeError> {
        let update = UpdateMessage::try_build(
            announced,
            withdrawn,
            attributes,
            self.four_octet_as,
            false,
            Ipv4UnicastMode::Body,
        )?;
        encode_message(&Message::Update(update)).map(|bytes| bytes.to_vec())
    }
}

fn split(ips: &[IpAddr]) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for ip in ips {
        match ip.to_canonical() {
            IpAddr::V4(ip) => v4.push(ip),
            IpAddr::V6(ip) => v6.push(ip),
        }
    }
    (v4, v6)
}

fn v4_entry(ip: Ipv4Addr) -> Ipv4NlriEntry {
    Ipv4NlriEntry {
        path_id: 0,
        prefix: Ipv4Prefix::new(ip, 32),
    }
}

fn v6_entry(ip: Ipv6Addr) -> NlriEntry {
    NlriEntry {
        path_id: 0,
        prefix: Prefix::V6(Ipv6Prefix::new(ip, 128)),
    }
}

#[cfg(test)]
mod tests;
