//! The `[verdicts]` table: what of the live blocklist becomes a verdict, for every consumer
//! (feeds, the CrowdSec stream, the SIP agent, BGP) and for each one. Only the shape lives here;
//! `app::settings` checks the values and builds the blocklist's policy options.

use serde::{Deserialize, Serialize};

use super::defaults;

/// Node-wide verdict options and each consumer's thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerdictsConfig {
    /// Let addresses of the IANA special-purpose registries (private, loopback, documentation,
    /// multicast, ...) become verdicts: for labs and tests on loopback.
    pub include_special_addresses: bool,
    /// Networks (`10.0.0.0/8`, an address), numbers (`112`) and number prefixes (`0900*`) no
    /// verdict ever includes.
    pub never: Vec<String>,
    /// Peers (PeerIds) whose reports count alone.
    pub trusted_peers: Vec<String>,
    /// Distinct untrusted peers that must report a key before their reports count (1 to 5).
    pub peer_quorum: usize,
    /// The blocklist feeds (`ips.txt`, ipset, nftables, `numbers.txt`).
    pub feeds: ConsumerConfig,
    /// The CrowdSec decision stream.
    pub crowdsec: ConsumerConfig,
    /// The SIP verdict agent.
    pub sip_agent: ConsumerConfig,
    /// The BGP blackhole feed.
    pub bgp: ConsumerConfig,
}

/// One consumer's thresholds; a key left out takes that consumer's default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerConfig {
    /// Events (from the origins that count) a key needs. Default 1.
    pub min_count: Option<u64>,
    /// How old the newest counted event may be (`30m`, `24h`, `7d`). Default: the retention.
    pub max_age: Option<String>,
    /// Which origins count: `local`, `peers`. Default both.
    pub origins: Option<Vec<OriginSetting>>,
    /// Sources seen over UDP only: `list` them, or only once `proven` to receive our replies.
    /// Default `list`; BGP's `proven`.
    pub udp_only: Option<UdpOnlySetting>,
    /// This consumer's own never-list, added to the node's (the SIP agent's always holds the
    /// emergency numbers).
    pub never: Vec<String>,
}

/// `origins` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginSetting {
    /// Events this node captured.
    Local,
    /// Records peers (and feeds) reported.
    Peers,
}

/// `udp_only` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UdpOnlySetting {
    /// Listed like any other source.
    List,
    /// Listed only once the source proved it receives our replies.
    Proven,
}

impl Default for VerdictsConfig {
    fn default() -> Self {
        Self {
            include_special_addresses: false,
            never: Vec::new(),
            trusted_peers: Vec::new(),
            peer_quorum: defaults::PEER_QUORUM,
            feeds: ConsumerConfig::default(),
            crowdsec: ConsumerConfig::default(),
            sip_agent: ConsumerConfig::default(),
            bgp: ConsumerConfig::default(),
        }
    }
}
