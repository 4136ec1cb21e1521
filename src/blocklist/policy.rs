//! The verdict policy, in one place: which keys of the live list a consumer (feeds, the CrowdSec
//! stream, the SIP agent, BGP) acts on. A [`Policy`] is a plain value built from node-wide
//! [`VerdictOptions`] and one consumer's [`ConsumerOptions`], evaluated against an entry.
//!
//! Checks, in order (the first that fails is the [`Refusal`]):
//! 1. IPs: not special-purpose ([`special_purpose`]) unless `include_special_addresses`;
//!    not one of the node's own addresses (never, whatever the flag says);
//! 2. not on the node's never-list nor the consumer's;
//! 3. counted origins: local events when `origins.local`; remote ones when `origins.remote` and
//!    the key's authors include a trusted one or at least `peer_quorum` distinct ones;
//! 4. counted events ≥ `min_count`; newest counted event no older than `max_age`;
//! 5. IPs, when `udp_only` is [`UdpOnlySources::RequireProof`]: the source proved it receives
//!    our replies (echoed our nonce or To-tag, or spoke TCP/TLS).

use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;

use super::Blocklist;
use super::authors::{AuthorId, MAX_TRACKED_AUTHORS};
use super::entry::EntryView;
use super::key::Key;

mod never;
mod special;

pub use never::{EMERGENCY_NUMBERS, NeverList, NumberRule, NumberRuleError};
pub use special::{
    MULTICAST_V4, SPECIAL_V4, SPECIAL_V6, SpecialBlock, special_blocks, special_purpose,
};

/// Distinct authors that make remote data count without trust (`--peer-quorum`).
pub const DEFAULT_PEER_QUORUM: usize = crate::config::defaults::PEER_QUORUM;

/// Node-wide options (the same for every consumer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictOptions {
    /// Let special-purpose addresses become verdicts (labs and tests on loopback). Default off.
    pub include_special_addresses: bool,
    /// The node's own addresses: never a verdict. Default none (the caller adds its listen and
    /// interface addresses).
    pub own_addresses: Vec<IpAddr>,
    /// Networks and numbers no verdict includes. Default empty.
    pub never: NeverList,
    /// Authors whose reports count alone (`--p2p-trust PEER_ID`, or a feed name). Default none.
    pub trusted_authors: Vec<String>,
    /// Distinct authors that make reports count without trust. Default
    /// [`DEFAULT_PEER_QUORUM`]; 0 counts as 1; above `MAX_TRACKED_AUTHORS + 1` (5) counts as 5.
    pub peer_quorum: usize,
}

impl Default for VerdictOptions {
    fn default() -> Self {
        Self {
            include_special_addresses: false,
            own_addresses: Vec::new(),
            never: NeverList::default(),
            trusted_authors: Vec::new(),
            peer_quorum: DEFAULT_PEER_QUORUM,
        }
    }
}

/// Which origins count toward a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedOrigins {
    /// Events this node captured.
    pub local: bool,
    /// Events peers and feeds reported (subject to trust or quorum).
    pub remote: bool,
}

/// What to do with IPs seen over UDP only (spoofable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpOnlySources {
    /// List them like any other (as the feeds did before this policy).
    List,
    /// List them only once they proved they receive our replies.
    RequireProof,
}

/// One consumer's thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerOptions {
    /// Counted events needed. Default 1.
    pub min_count: u64,
    /// How old the newest counted event may be; `None` (default) = anything in the list
    /// (retention decides).
    pub max_age: Option<Duration>,
    /// Origins that count. Default both.
    pub origins: CountedOrigins,
    /// UDP-only sources. Default [`UdpOnlySources::List`], BGP's
    /// [`UdpOnlySources::RequireProof`].
    pub udp_only: UdpOnlySources,
    /// This consumer's own never-list, on top of the node's. Default empty; the SIP agent's
    /// holds [`EMERGENCY_NUMBERS`].
    pub never: NeverList,
}

impl ConsumerOptions {
    /// Feeds (`ips.txt`, ipset, nftables, `numbers.txt`): as before this policy.
    pub fn feeds() -> Self {
        Self {
            min_count: 1,
            max_age: None,
            origins: CountedOrigins {
                local: true,
                remote: true,
            },
            udp_only: UdpOnlySources::List,
            never: NeverList::default(),
        }
    }

    /// The CrowdSec decision stream: as the feeds.
    pub fn crowdsec() -> Self {
        Self::feeds()
    }

    /// The SIP verdict agent: as the feeds, and never an emergency number.
    pub fn sip_agent() -> Self {
        Self {
            never: NeverList::emergency_numbers(),
            ..Self::feeds()
        }
    }

    /// The BGP blackhole feed: proof required, since a wrong verdict blackholes an address for
    /// a whole network.
    pub fn bgp() -> Self {
        Self {
            udp_only: UdpOnlySources::RequireProof,
            ..Self::feeds()
        }
    }
}

/// Why a key is not a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A special-purpose address.
    SpecialAddress(&'static SpecialBlock),
    /// One of the node's own addresses.
    OwnAddress,
    /// On a never-list.
    NeverListed,
    /// Only remote reports, from too few untrusted authors.
    RemoteUntrusted,
    /// No event from an origin this consumer counts.
    NoCountedOrigin,
    /// Fewer counted events than `min_count`.
    BelowMinCount,
    /// Newest counted event older than `max_age`.
    TooOld,
    /// Seen over UDP only, never proved it receives our replies.
    Unproven,
}

/// A key this consumer acts on, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Counted events.
    pub count: u64,
    /// The key's oldest event.
    pub first_seen: Timestamp,
    /// Newest counted event.
    pub last_seen: Timestamp,
    /// Whether local events were counted.
    pub local: bool,
    /// Whether remote reports were counted.
    pub remote: bool,
    /// Whether the source proved it receives our replies.
    pub proven: bool,
    /// Attack types seen (`AttackType::bit`s).
    pub attack_types: u8,
}

/// A consumer's policy, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Policy {
    include_special: bool,
    own_addresses: Vec<IpAddr>,
    never: NeverList,
    trusted: Vec<AuthorId>,
    quorum: usize,
    consumer: ConsumerOptions,
}

impl Policy {
    /// The policy of `consumer` on this node; trusted authors are interned in `blocklist`'s
    /// author table (so they have ids even if it fills up later).
    pub fn new(node: &VerdictOptions, consumer: &ConsumerOptions, blocklist: &Blocklist) -> Self {
        let mut never = node.never.clone();
        never
            .networks
            .extend(consumer.never.networks.iter().copied());
        never.numbers.extend(consumer.never.numbers.iter().cloned());
        Self {
            include_special: node.include_special_addresses,
            own_addresses: node
                .own_addresses
                .iter()
                .map(|ip| ip.to_canonical())
                .collect(),
            never,
            trusted: node
                .trusted_authors
                .iter()
                .filter_map(|name| blocklist.author_id(name))
                .collect(),
            quorum: node.peer_quorum.clamp(1, MAX_TRACKED_AUTHORS + 1),
            consumer: consumer.clone(),
        }
    }

    /// The verdict on `key`, if any.
    pub fn verdict(&self, key: &Key, entry: &EntryView, now: Timestamp) -> Option<Verdict> {
        self.decide(key, entry, now).ok()
    }

    /// The verdict on `key`, or why there is none.
    ///
    /// # Errors
    ///
    /// The first check `key` fails, as a [`Refusal`].
    pub fn decide(&self, key: &Key, entry: &EntryView, now: Timestamp) -> Result<Verdict, Refusal> {
        match key {
            Key::Ip(ip) => self.decide_ip(*ip, entry, now),
            Key::Number(number) => self.decide_number(number, entry, now),
        }
    }

    /// [`Policy::decide`] for an IP.
    ///
    /// # Errors
    ///
    /// As [`Policy::decide`].
    pub fn decide_ip(
        &self,
        ip: IpAddr,
        entry: &EntryView,
        now: Timestamp,
    ) -> Result<Verdict, Refusal> {
        let ip = ip.to_canonical();
        if !self.include_special
            && let Some(block) = special_purpose(ip)
        {
            return Err(Refusal::SpecialAddress(block));
        }
        if self.own_addresses.contains(&ip) {
            return Err(Refusal::OwnAddress);
        }
        if self.never.holds_ip(ip) {
            return Err(Refusal::NeverListed);
        }
        let verdict = self.counted(entry, now)?;
        if self.consumer.udp_only == UdpOnlySources::RequireProof && !entry.proven {
            return Err(Refusal::Unproven);
        }
        Ok(verdict)
    }

    /// [`Policy::decide`] for a called number.
    ///
    /// # Errors
    ///
    /// As [`Policy::decide`].
    pub fn decide_number(
        &self,
        number: &str,
        entry: &EntryView,
        now: Timestamp,
    ) -> Result<Verdict, Refusal> {
        if self.never.holds_number(number) {
            return Err(Refusal::NeverListed);
        }
        self.counted(entry, now)
    }

    /// Checks 3 and 4: origins, count, age.
    fn counted(&self, entry: &EntryView, now: Timestamp) -> Result<Verdict, Refusal> {
        let origins = self.consumer.origins;
        let local = origins.local && entry.local_count > 0;
        let remote_seen = origins.remote && entry.remote_count > 0;
        let remote = remote_seen && self.remote_counts(entry);
        if !local && !remote {
            return Err(if remote_seen {
                Refusal::RemoteUntrusted
            } else {
                Refusal::NoCountedOrigin
            });
        }
        let side = |counted: bool, count: u32, last: Option<Timestamp>| {
            if counted {
                (u64::from(count), last)
            } else {
                (0, None)
            }
        };
        let (local_count, local_last) = side(local, entry.local_count, entry.local_last_seen);
        let (remote_count, remote_last) = side(remote, entry.remote_count, entry.remote_last_seen);
        let count = local_count + remote_count;
        if count < self.consumer.min_count {
            return Err(Refusal::BelowMinCount);
        }
        let last_seen = local_last.max(remote_last).unwrap_or(entry.last_seen);
        if let Some(max_age) = self.consumer.max_age {
            let age = now.as_second().saturating_sub(last_seen.as_second());
            if age > i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX) {
                return Err(Refusal::TooOld);
            }
        }
        Ok(Verdict {
            count,
            first_seen: entry.first_seen,
            last_seen,
            local,
            remote,
            proven: entry.proven,
            attack_types: entry.attack_types,
        })
    }

    /// Whether the key's remote reports count: a trusted author, or a quorum of distinct ones.
    fn remote_counts(&self, entry: &EntryView) -> bool {
        entry.authors.distinct_at_least() >= self.quorum
            || entry.authors.ids().any(|id| self.trusted.contains(&id))
    }
}

#[cfg(test)]
mod tests;
