//! Community analytics on the wire (`--share-stats`): the signed hourly summary a node that opts
//! in publishes on its network's stats topic, and every limit on what is sent, accepted and
//! kept, each with its reason.
//!
//! ```text
//! gossip message (topic sentrypeer/<network>/community-stats/1): a SignedSummary
//! SignedSummary { "body": "<SummaryBody as compact JSON>", "signature": "<hex ed25519>" }
//! SummaryBody   { "v": 1, "network", "peer_id", "period_start", "period_end", "events",
//!                 "ip_addresses", "called_numbers", "by_attack_type": {name: events},
//!                 "by_method": {method: events}, "by_country": {code: source IPs} }
//! ```
//!
//! As with records, the signature covers the exact bytes of `body`, made with the key of the
//! node whose PeerId is `body.peer_id`. A summary holds counts only: no IP address, number,
//! user agent or message.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

/// What a summary covers: the hour before it was made.
pub const SUMMARY_PERIOD: SignedDuration = SignedDuration::from_hours(1);
/// Summaries accepted from one node per hour (of the receiver's clock): a node that opts in
/// publishes one an hour; later ones in the same hour are refused and counted, so a node cannot
/// weigh more than the others by publishing more often.
pub const SUMMARIES_PER_NODE_PER_HOUR: usize = 1;
/// Largest signed summary accepted (and the largest we send): a body with every list below
/// full (32 methods of 32 characters, 256 countries, the attack types, counts near
/// [`MAX_SUMMARY_COUNT`]), escaped once more inside the envelope, is 6,830 bytes (a unit test
/// builds it); anything bigger is not a summary we would send.
pub const MAX_SUMMARY_BYTES: usize = 16 * 1024;
/// Methods a summary lists (the most frequent; the rest are in `events` only): methods are text
/// attackers choose, so the list is bounded; real scanners use a handful.
pub const MAX_SUMMARY_METHODS: usize = 32;
/// Longest method listed: the longest SIP method (`SUBSCRIBE`) is 9 characters; longer values
/// are attackers' text and are left out.
pub const MAX_SUMMARY_METHOD_BYTES: usize = 32;
/// Countries a summary lists: ISO 3166-1 assigns 249 codes, plus [`UNKNOWN_COUNTRY`].
pub const MAX_SUMMARY_COUNTRIES: usize = 256;
/// The country of source IPs the lookup does not place (private, unassigned): ISO 3166's
/// user-assigned code for "unknown".
pub const UNKNOWN_COUNTRY: &str = "ZZ";
/// Largest figure accepted in a summary: a node capturing a million events a second would count
/// 3.6 × 10⁹ in an hour; the cap keeps sums over every node and hour far from overflowing and
/// bounds how much one node can claim.
pub const MAX_SUMMARY_COUNT: u64 = 1_000_000_000_000;
/// How old a summary's `period_end` may be when it arrives: summaries are published as they
/// are made and gossip delivers within seconds, so an older one is a replay.
pub const MAX_SUMMARY_AGE: SignedDuration = SignedDuration::from_hours(2);
/// The summaries `/api/v1/community` adds up: those received in the last 24 hours.
pub const COMMUNITY_WINDOW: SignedDuration = SignedDuration::from_hours(24);
/// Nodes whose summaries are remembered (beyond, the one heard from least recently is dropped
/// and counted): a large community fits, while a flood of new identities costs a bounded map.
/// A dropped node's summaries stay in the hours they were added to.
pub const MAX_COMMUNITY_NODES: usize = 10_000;
/// Distinct methods kept per hour over all nodes (beyond, the events are in the totals only,
/// counted): nodes (or forged identities) may each list different attacker-chosen methods.
pub const MAX_COMMUNITY_METHODS_PER_HOUR: usize = 256;
/// Entries of each list `/api/v1/community` returns (per node, methods); countries and attack
/// types are bounded by their own limits.
pub const COMMUNITY_TOP: usize = 100;
/// Shortest `share_stats_interval_secs`: how often a node checks whether its hourly summary is
/// due (tests shorten it; an hour by default).
pub const MIN_SHARE_STATS_INTERVAL: Duration = Duration::from_secs(1);

const _: () = assert!(MAX_SUMMARY_BYTES < super::MAX_GOSSIP_BYTES);

/// A summary with its signature, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedSummary {
    /// [`SummaryBody`] as compact JSON: the exact bytes signed.
    pub body: String,
    /// Hex of the ed25519 signature over `body`.
    pub signature: String,
}

/// What a node signs: its own activity over one period (never its peers' records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryBody {
    /// [`super::PROTOCOL_VERSION`].
    pub v: u8,
    /// The `--p2p-network` it was published on.
    pub network: String,
    /// The publishing node's PeerId.
    pub peer_id: String,
    /// Start of the period (UTC, RFC 3339, whole minute).
    pub period_start: String,
    /// End of the period: when the summary was made (UTC, RFC 3339, whole second).
    pub period_end: String,
    /// Events the node captured.
    pub events: u64,
    /// Distinct source IPs of those events.
    pub ip_addresses: u64,
    /// Distinct called numbers of those events.
    pub called_numbers: u64,
    /// Events per attack type (the names of `sip::AttackType`).
    pub by_attack_type: BTreeMap<String, u64>,
    /// Events per SIP method (at most [`MAX_SUMMARY_METHODS`]).
    pub by_method: BTreeMap<String, u64>,
    /// Source IPs per country (ISO 3166-1 alpha-2, [`UNKNOWN_COUNTRY`] when unknown).
    pub by_country: BTreeMap<String, u64>,
}
