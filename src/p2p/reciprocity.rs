//! "You only get other users' data if you share yours": who has contributed records this node
//! accepted, within the retention window, and so may receive catch-up; who broke the catch-up
//! protocol and is cut off; and the gossipsub application score that pushes freeloaders and
//! cheats out of the mesh.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use lru::LruCache;

use super::protocol::{CUT_OFF_PERIOD, MAX_CUT_OFF_PEERS, MAX_TRACKED_AUTHORS};

/// Score given to a peer that has contributed.
pub const CONTRIBUTOR_SCORE: f64 = 10.0;
/// Score given to a peer that has contributed nothing after its grace period, and to a peer cut
/// off for breaking the catch-up protocol: below gossipsub's graylist threshold, so it is
/// neither sent messages nor kept in the mesh, and what it sends is ignored.
pub const FREELOADER_SCORE: f64 = -1000.0;

/// Records accepted per author, grace periods of connected peers, peers cut off.
#[derive(Debug)]
pub struct Contributions {
    accepted: HashMap<PeerId, u64>,
    first_seen: HashMap<PeerId, Instant>,
    cut_off: LruCache<PeerId, Instant>,
}

impl Default for Contributions {
    fn default() -> Self {
        Self::from_counts([])
    }
}

impl Contributions {
    /// Starts from counts read from the database (records of the window, per author).
    pub fn from_counts(counts: impl IntoIterator<Item = (PeerId, u64)>) -> Self {
        let capacity = NonZeroUsize::new(MAX_CUT_OFF_PEERS).unwrap_or(NonZeroUsize::MIN);
        let mut contributions = Self {
            accepted: counts.into_iter().collect(),
            first_seen: HashMap::new(),
            cut_off: LruCache::new(capacity),
        };
        contributions.keep_within(MAX_TRACKED_AUTHORS);
        contributions
    }

    /// Counts one accepted record authored by `peer`.
    pub fn accepted(&mut self, peer: PeerId) {
        *self.accepted.entry(peer).or_default() += 1;
        self.keep_within(MAX_TRACKED_AUTHORS);
    }

    /// Past `limit` authors, forgets the smallest contributors down to three quarters of it (so
    /// the sort is paid once per quarter of new authors, not per record).
    fn keep_within(&mut self, limit: usize) {
        if self.accepted.len() <= limit {
            return;
        }
        let mut by_count: Vec<(PeerId, u64)> = self.accepted.drain().collect();
        by_count.sort_unstable_by_key(|(_, count)| std::cmp::Reverse(*count));
        by_count.truncate(limit * 3 / 4);
        self.accepted = by_count.into_iter().collect();
    }

    /// Records accepted from `peer`.
    pub fn count(&self, peer: &PeerId) -> u64 {
        self.accepted.get(peer).copied().unwrap_or_default()
    }

    /// Authors counted.
    pub fn authors(&self) -> usize {
        self.accepted.len()
    }

    /// Whether `peer` may receive catch-up: it contributed at least `threshold` records.
    pub fn may_catch_up(&self, peer: &PeerId, threshold: u64) -> bool {
        self.count(peer) >= threshold.max(1)
    }

    /// Notes that `peer` connected (starts its grace period).
    pub fn connected(&mut self, peer: PeerId) {
        self.first_seen.entry(peer).or_insert_with(Instant::now);
    }

    /// Notes that `peer`'s last connection closed: its grace period is forgotten (what it
    /// contributed, and whether it is cut off, are not).
    pub fn disconnected(&mut self, peer: &PeerId) {
        self.first_seen.remove(peer);
    }

    /// Cuts `peer` off at `now` for [`CUT_OFF_PERIOD`]: it scores as a freeloader whatever it
    /// contributed.
    pub fn cut_off(&mut self, peer: PeerId, now: Instant) {
        self.cut_off.put(peer, now + CUT_OFF_PERIOD);
    }

    /// Whether `peer` is cut off at `now` (an expired cut-off is forgotten).
    pub fn is_cut_off(&mut self, peer: &PeerId, now: Instant) -> bool {
        match self.cut_off.peek(peer) {
            Some(until) if *until > now => true,
            Some(_) => {
                self.cut_off.pop(peer);
                false
            }
            None => false,
        }
    }

    /// The gossipsub application score of `peer`: strongly negative while it is cut off,
    /// positive once it contributed, neutral during `grace` after it connected, strongly
    /// negative after that.
    pub fn score(&mut self, peer: &PeerId, grace: Duration) -> f64 {
        if self.is_cut_off(peer, Instant::now()) {
            FREELOADER_SCORE
        } else if self.count(peer) > 0 {
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

    #[test]
    fn a_peer_cut_off_scores_as_a_freeloader_until_the_period_ends() {
        let cheat = PeerId::random();
        let mut contributions = Contributions::from_counts([(cheat, 100)]);
        let now = Instant::now();
        contributions.cut_off(cheat, now);
        assert_eq!(contributions.score(&cheat, Duration::MAX), FREELOADER_SCORE);
        assert!(contributions.is_cut_off(&cheat, now + CUT_OFF_PERIOD / 2));
        assert!(!contributions.is_cut_off(&cheat, now + CUT_OFF_PERIOD));
        assert_eq!(
            contributions.score(&cheat, Duration::MAX),
            CONTRIBUTOR_SCORE
        );
    }

    #[test]
    fn grace_periods_go_with_the_peer_and_many_authors_cost_a_bounded_map() {
        let mut contributions = Contributions::default();
        let peer = PeerId::random();
        contributions.connected(peer);
        contributions.disconnected(&peer);
        assert!(contributions.first_seen.is_empty());
        let giver = PeerId::random();
        for _ in 0..5 {
            contributions.accepted(giver);
        }
        for _ in 0..MAX_TRACKED_AUTHORS {
            contributions.accepted(PeerId::random());
        }
        assert!(contributions.authors() <= MAX_TRACKED_AUTHORS);
        assert_eq!(
            contributions.count(&giver),
            5,
            "the largest contributors are kept"
        );
    }
}
