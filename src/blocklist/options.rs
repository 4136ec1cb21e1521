//! How the blocklist is sized ([`BlocklistOptions`] and its defaults), what it is told
//! ([`Observation`]) and what it counts ([`BlocklistStats`]).

use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;

use super::ObservedOrigin;
use crate::event::{BadActor, Origin};
use crate::sip::AttackType;

/// Default IP cap: 2^20, about 100 MB at the cap.
pub const DEFAULT_MAX_IPS: usize = crate::config::defaults::BLOCKLIST_MAX_IPS;
/// Default number cap: 5 × 2^20, about 500 MB at the cap.
pub const DEFAULT_MAX_NUMBERS: usize = crate::config::defaults::BLOCKLIST_MAX_NUMBERS;
/// Default shards per table: enough that two capture threads rarely meet, few enough that an
/// expiry scan of one shard is short.
pub const DEFAULT_SHARDS: usize = 64;
/// Default replay window for resuming (about 7 MB of changes).
pub const DEFAULT_REPLAY_WINDOW: usize = 65_536;
/// Default lag a subscriber may have before it is dropped.
pub const DEFAULT_SUBSCRIBER_LAG: usize = 16_384;
/// Default counts whose reaching is a change (set these to every consumer's `min_count`).
pub const DEFAULT_COUNT_THRESHOLDS: [u32; 5] = [2, 5, 10, 100, 1000];

/// How the blocklist is sized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistOptions {
    /// IP cap.
    pub max_ips: usize,
    /// Number cap.
    pub max_numbers: usize,
    /// Keys whose newest event is older than this are removed by [`Blocklist::expire`](super::Blocklist::expire);
    /// `None` keeps them (retention 0).
    pub retention: Option<Duration>,
    /// Counts (local, remote, or their sum) whose reaching publishes a change.
    pub count_thresholds: Vec<u32>,
    /// Changes kept for [`Blocklist::resume`](super::Blocklist::resume).
    pub replay_window: usize,
    /// Changes a subscriber may lag before it is dropped.
    pub subscriber_lag: usize,
    /// Shards per table (rounded up to a power of two).
    pub shards: usize,
}

impl Default for BlocklistOptions {
    fn default() -> Self {
        Self {
            max_ips: DEFAULT_MAX_IPS,
            max_numbers: DEFAULT_MAX_NUMBERS,
            retention: Some(Duration::from_secs(
                u64::from(crate::config::defaults::RETENTION_DAYS) * 86_400,
            )),
            count_thresholds: DEFAULT_COUNT_THRESHOLDS.to_vec(),
            replay_window: DEFAULT_REPLAY_WINDOW,
            subscriber_lag: DEFAULT_SUBSCRIBER_LAG,
            shards: DEFAULT_SHARDS,
        }
    }
}

/// One event as the blocklist counts it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// When it happened (the event's timestamp).
    pub at: Timestamp,
    /// Its source IP (any form; normalised).
    pub source: Option<IpAddr>,
    /// Its called number as received; anything but a phone number is ignored.
    pub called_number: Option<&'a str>,
    /// Its attack type.
    pub attack_type: AttackType,
    /// Who saw it.
    pub origin: ObservedOrigin<'a>,
}

impl<'a> Observation<'a> {
    /// The observation of an event; `proven` says whether it proved its source receives our
    /// replies (local events only).
    pub fn from_event(event: &'a BadActor, proven: bool) -> Self {
        let origin = match &event.origin {
            Origin::Local => ObservedOrigin::Local {
                transport: event.transport,
                proven,
            },
            Origin::Peer(peer) => ObservedOrigin::Remote {
                author: &peer.peer_id,
            },
            // Unsigned: every OpenDHT value is one author, whoever put it.
            Origin::OpenDht => ObservedOrigin::Remote {
                author: crate::event::OPENDHT_ORIGIN,
            },
        };
        Self {
            at: event.event_timestamp,
            source: Some(event.source.ip()),
            called_number: Some(&event.called_number),
            attack_type: event.attack.attack_type,
            origin,
        }
    }
}

/// Counters and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlocklistStats {
    /// IPs held.
    pub ips: usize,
    /// Numbers held.
    pub numbers: usize,
    /// IPs evicted at the cap.
    pub evicted_ips: u64,
    /// Numbers evicted at the cap.
    pub evicted_numbers: u64,
    /// Keys removed by retention.
    pub expired: u64,
    /// Events not in any flush because the pending tallies were full.
    pub flush_overflow: u64,
    /// Author names held.
    pub authors: usize,
    /// Author names not interned.
    pub authors_refused: u64,
    /// Subscribers dropped for lagging.
    pub subscribers_dropped: u64,
    /// Current subscribers.
    pub subscribers: usize,
    /// The next change's id.
    pub next_seq: u64,
}
