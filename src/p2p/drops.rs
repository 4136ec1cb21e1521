//! Records refused or dropped per peer that sent them, by reason: a bounded table (at most
//! [`MAX_TRACKED_PEERS`] peers; beyond, drops are only in the node-wide counters) that
//! `/api/v1/health` reports as one total per peer and `/api/v1/peers` splits by reason.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use libp2p::PeerId;

use super::P2pStats;

/// Peers whose drops are counted one by one (beyond, they are only in the totals).
pub const MAX_TRACKED_PEERS: usize = 1000;

/// Why a record (or a message) from a peer was refused or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Bad signature, or a key that does not match its PeerId.
    Signature,
    /// Malformed, wrong version, bad fields, too large, or a batch that does not decode.
    Malformed,
    /// Outside the retention window or in the future.
    Window,
    /// Another network.
    Network,
    /// Author denied or not allowed.
    Denied,
    /// Over its author's rate.
    RateLimited,
    /// A community summary that failed its checks.
    CommunitySummary,
}

impl DropReason {
    /// Every reason, in the order of [`Self::name`]'s table.
    pub const ALL: [Self; 7] = [
        Self::Signature,
        Self::Malformed,
        Self::Window,
        Self::Network,
        Self::Denied,
        Self::RateLimited,
        Self::CommunitySummary,
    ];

    /// The reason's name: the node-wide counter of `/api/v1/health`'s `p2p` section where there
    /// is one.
    pub fn name(self) -> &'static str {
        match self {
            Self::Signature => "rejected_signature",
            Self::Malformed => "rejected_malformed",
            Self::Window => "rejected_window",
            Self::Network => "rejected_network",
            Self::Denied => "rejected_denied",
            Self::RateLimited => "rate_limited",
            Self::CommunitySummary => "rejected_community_summary",
        }
    }

    /// The node-wide counter of records refused for this reason (community summaries are
    /// counted by the community's own counters).
    pub(crate) fn counter(self, stats: &P2pStats) -> Option<&AtomicU64> {
        match self {
            Self::Signature => Some(&stats.rejected_signature),
            Self::Malformed => Some(&stats.rejected_malformed),
            Self::Window => Some(&stats.rejected_window),
            Self::Network => Some(&stats.rejected_network),
            Self::Denied => Some(&stats.rejected_denied),
            Self::RateLimited => Some(&stats.rate_limited),
            Self::CommunitySummary => None,
        }
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|reason| *reason == self)
            .unwrap_or_default()
    }
}

/// Drops per peer, by reason.
#[derive(Debug, Default)]
pub struct PeerDrops {
    counts: Mutex<BTreeMap<String, [u64; DropReason::ALL.len()]>>,
}

impl PeerDrops {
    /// Counts one drop of `reason` against `peer`, if `peer` is tracked or there is room.
    pub(crate) fn count(&self, peer: &PeerId, reason: DropReason) {
        if let Ok(mut counts) = self.counts.lock() {
            let key = peer.to_base58();
            if counts.len() < MAX_TRACKED_PEERS || counts.contains_key(&key) {
                counts.entry(key).or_default()[reason.index()] += 1;
            }
        }
    }

    /// Drops per peer, all reasons together (a copy).
    pub fn totals(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .map(|counts| {
                (counts.iter())
                    .map(|(peer, by_reason)| (peer.clone(), by_reason.iter().sum()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `peer`'s drops by reason name (reasons it never hit left out).
    pub fn by_reason(&self, peer: &PeerId) -> BTreeMap<&'static str, u64> {
        let Ok(counts) = self.counts.lock() else {
            return BTreeMap::new();
        };
        let Some(by_reason) = counts.get(&peer.to_base58()) else {
            return BTreeMap::new();
        };
        (DropReason::ALL.iter().zip(by_reason))
            .filter(|(_, count)| **count > 0)
            .map(|(reason, count)| (reason.name(), *count))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_split_by_reason_and_the_table_is_bounded() {
        let drops = PeerDrops::default();
        let cheat = PeerId::random();
        drops.count(&cheat, DropReason::Signature);
        drops.count(&cheat, DropReason::Signature);
        drops.count(&cheat, DropReason::RateLimited);
        assert_eq!(
            drops.by_reason(&cheat),
            BTreeMap::from([("rate_limited", 1), ("rejected_signature", 2)])
        );
        assert_eq!(drops.totals().get(&cheat.to_base58()), Some(&3));
        assert!(drops.by_reason(&PeerId::random()).is_empty());
        for _ in 0..MAX_TRACKED_PEERS {
            drops.count(&PeerId::random(), DropReason::Window);
        }
        assert_eq!(drops.totals().len(), MAX_TRACKED_PEERS);
        drops.count(&cheat, DropReason::Denied);
        assert_eq!(drops.by_reason(&cheat).get("rejected_denied"), Some(&1));
    }

    #[test]
    fn each_reason_has_its_own_name() {
        let names: std::collections::BTreeSet<&str> =
            DropReason::ALL.iter().map(|reason| reason.name()).collect();
        assert_eq!(names.len(), DropReason::ALL.len());
        assert!((DropReason::ALL.iter()).all(|reason| DropReason::ALL[reason.index()] == *reason));
    }
}
