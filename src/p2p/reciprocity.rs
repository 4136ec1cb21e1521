//! "You only get other users' data if you share yours": who has contributed records this node
//! accepted, within the retention window, and so may receive catch-up; and the gossipsub
//! application score that pushes freeloaders out of the mesh.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::PeerId;

/// Score given to a peer that has contributed.
pub const CONTRIBUTOR_SCORE: f64 = 10.0;
/// Score given to a peer that has contributed nothing after its grace period: below gossipsub's
/// publish and gossip thresholds, so it is neither sent messages nor kept in the mesh.
pub const FREELOADER_SCORE: f64 = -1000.0;

/// Records accepted per author.
#[derive(Debug, Default)]
pub struct Contributions {
    accepted: HashMap<PeerId, u64>,
    first_seen: HashMap<PeerId, Instant>,
}

impl Contributions {
    /// Starts from counts read from the database (records of the window, per author).
    pub fn from_counts(counts: impl IntoIterator<Item = (PeerId, u64)>) -> Self {
        Self {
            accepted: counts.into_iter().collect(),
            first_seen: HashMap::new(),
        }
    }

    /// Counts one accepted record authored by `peer`.
    pub fn accepted(&mut self, peer: PeerId) {
        *self.accepted.entry(peer).or_default() += 1;
    }

    /// Records accepted from `peer`.
    pub fn count(&self, peer: &PeerId) -> u64 {
        self.accepted.get(peer).copied().unwrap_or_default()
    }

    /// Whether `peer` may receive catch-up: it contributed at least `threshold` records.
    pub fn may_catch_up(&self, peer: &PeerId, threshold: u64) -> bool {
        self.count(peer) >= threshold.max(1)
    }

    /// Notes that `peer` connected (starts its grace period).
    pub fn connected(&mut self, peer: PeerId) {
        self.first_seen.entry(peer).or_insert_with(Instant::now);
    }

    /// The gossipsub application score of `peer`: positive once it contributed, neutral during
    /// `grace` after it first connected, strongly negative after that.
    pub fn score(&self, peer: &PeerId, grace: Duration) -> f64 {
        if self.count(peer) > 0 {
            CONTRIBUTOR_SCORE
        } else if self
            .first_seen
            .get(peer)
            .is_some_and(|at| at.elapsed() < grace)
        {
            0.0
        } else {
            FREELOADER_SCORE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contributors_catch_up_and_freeloaders_score_down() {
        let giver = PeerId::random();
        let taker = PeerId::random();
        let mut contributions = Contributions::from_counts([(giver, 3)]);
        assert!(contributions.may_catch_up(&giver, 3));
        assert!(!contributions.may_catch_up(&giver, 4));
        assert!(
            !contributions.may_catch_up(&taker, 0),
            "a threshold of 0 still needs one record"
        );
        contributions.connected(taker);
        assert_eq!(contributions.score(&taker, Duration::from_secs(60)), 0.0);
        assert_eq!(
            contributions.score(&taker, Duration::ZERO),
            FREELOADER_SCORE
        );
        contributions.accepted(taker);
        assert_eq!(
            contributions.score(&taker, Duration::ZERO),
            CONTRIBUTOR_SCORE
        );
        assert!(contributions.may_catch_up(&taker, 1));
    }
}
