//! Gossipsub's peer scoring and mesh, chosen for this application rather than taken from the
//! library's defaults, each value with its reason.
//!
//! What a score does (libp2p-gossipsub 0.50): below [`GOSSIP_THRESHOLD`] a peer is no longer
//! told about messages (IHAVE), below [`PUBLISH_THRESHOLD`] it is no longer sent the messages
//! we publish, below [`GRAYLIST_THRESHOLD`] everything it sends is ignored; a negative score
//! also takes it out of the mesh. The score of a peer is, here:
//!
//! - the application score (`reciprocity`): +10 once it contributed records, 0 during its grace
//!   period, -1000 for a freeloader after it and for a peer cut off for breaking the catch-up
//!   protocol: a freeloader or a cheat is graylisted;
//! - invalid messages (P4): a batch refused because it holds a forged record counts against the
//!   peer that sent it, squared, at -100 each: one forged batch graylists the sender for about
//!   a minute and a half, more for longer (the count halves about every 9 minutes);
//! - the library's behaviour penalties (broken IHAVE promises, grafting during a back-off) and
//!   slow-peer penalty, as the library sets them: they fade within seconds.
//!
//! A peer's counters are kept [`RETAIN_SCORE`] after it leaves (the library keeps them an hour),
//! so a cheat that reconnects keeps most of its penalty while identities that connect and leave
//! cost memory for ten minutes, not sixty.
//!
//! Left out on purpose:
//!
//! - **IP colocation (P6).** The library's default (-5 × (peers on one IP - 10)²) graylists
//!   every peer behind an address shared by more than about 14 nodes, which is what broke
//!   networks of 15 nodes and more on one loopback address (issue 22, reproduced: every peer at
//!   -80 as seen by every node, so the capturing node published to nobody) and would do the
//!   same to operators behind one NAT or on one cloud host. Connections from one address are
//!   capped instead (`--p2p-max-connections-per-address`), which bounds identities per address
//!   without punishing the honest ones, and the mesh keeps two peers this node dialled itself
//!   (`mesh_outbound_min`), so identities that dial in cannot fill it.
//! - **Time in mesh, first and mesh message deliveries (P1-P3).** Bad actors are captured in
//!   bursts with long quiet periods; mesh-delivery quotas would score every mesh peer down in a
//!   quiet hour, and the others reward nothing an honest node does that a cheat cannot.
//!
//! The mesh keeps the library's sizes (6 peers, 5 to 12; gossip to 6 more), made for networks
//! of thousands: a record crosses 50 nodes in about three hops. The heartbeat is 500 ms instead
//! of 1 s, so a new mesh forms and repairs twice as fast.

use std::collections::HashMap;
use std::time::Duration;

use libp2p::gossipsub::{self, PeerScoreParams, PeerScoreThresholds, TopicHash, TopicScoreParams};

/// Below this a peer is not told about messages.
pub const GOSSIP_THRESHOLD: f64 = -10.0;
/// Below this a peer is not sent what we publish.
pub const PUBLISH_THRESHOLD: f64 = -50.0;
/// Below this everything a peer sends is ignored.
pub const GRAYLIST_THRESHOLD: f64 = -80.0;
/// Gossipsub's heartbeat: mesh upkeep and gossip about messages.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// How long a gone peer's score counters are kept.
pub const RETAIN_SCORE: Duration = Duration::from_secs(600);
/// Weight of one invalid message (squared count) on the bad-actors topic.
const INVALID_MESSAGE_WEIGHT: f64 = -100.0;
/// Time for the invalid-message count to fade to a tenth (to nothing soon after).
const INVALID_MESSAGE_MEMORY: Duration = Duration::from_secs(1800);

/// The thresholds above.
pub fn thresholds() -> PeerScoreThresholds {
    PeerScoreThresholds {
        gossip_threshold: GOSSIP_THRESHOLD,
        publish_threshold: PUBLISH_THRESHOLD,
        graylist_threshold: GRAYLIST_THRESHOLD,
        // Peer exchange and opportunistic grafting are off (gossipsub's defaults); these keep
        // the library's values so they stay valid.
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 20.0,
    }
}

/// The score parameters for a node on `topics` (the bad actors' and the community summaries';
/// see the module's documentation): an invalid message weighs the same on each.
pub fn params(topics: impl IntoIterator<Item = TopicHash>) -> PeerScoreParams {
    let per_topic = TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(INVALID_MESSAGE_MEMORY),
        ..TopicScoreParams::default()
    };
    PeerScoreParams {
        topics: (topics.into_iter())
            .map(|topic| (topic, per_topic.clone()))
            .collect::<HashMap<_, _>>(),
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: 0.0,
        retain_score: RETAIN_SCORE,
        ..PeerScoreParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameters_are_valid_and_colocation_is_off() {
        let topic = TopicHash::from_raw("sentrypeer/sentrypeer/bad-actors/1");
        let params = params([topic]);
        params.validate().expect("valid score parameters");
        thresholds().validate().expect("valid thresholds");
        assert_eq!(params.ip_colocation_factor_weight, 0.0);
    }

    #[test]
    fn one_forged_batch_graylists_its_sender_for_about_a_minute_and_a_half() {
        let topic = TopicHash::from_raw("t");
        let decay = params([topic.clone()]).topics[&topic].invalid_message_deliveries_decay;
        let score_after = |seconds: i32| INVALID_MESSAGE_WEIGHT * decay.powi(seconds).powi(2);
        assert!(score_after(0) < GRAYLIST_THRESHOLD);
        assert!(score_after(60) < GRAYLIST_THRESHOLD);
        assert!(score_after(120) > GRAYLIST_THRESHOLD);
        let half_life = 0.5f64.ln() / decay.ln();
        assert!((450.0..650.0).contains(&half_life), "{half_life}");
    }
}
