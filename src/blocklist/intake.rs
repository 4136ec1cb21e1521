//! Where every event enters: a message a listener captured, or a record a peer shared. It is
//! counted in the live blocklist first, which never drops it, then handed to the pipeline,
//! whose consumers (store, sinks, peers) may shed it under load, counted.

use std::sync::Arc;

use super::{Blocklist, Observation};
use crate::event::BadActor;
use crate::pipeline::Pipeline;

/// The blocklist and the pipeline, fed together. Cheap to clone; holding one keeps the
/// pipeline's queues open (as a [`Pipeline`] does).
#[derive(Debug, Clone)]
pub struct Intake {
    blocklist: Arc<Blocklist>,
    pipeline: Pipeline,
}

impl Intake {
    /// Feeds `blocklist` and `pipeline`.
    pub fn new(blocklist: Arc<Blocklist>, pipeline: Pipeline) -> Self {
        Self {
            blocklist,
            pipeline,
        }
    }

    /// A message this node captured; `proven` says whether its source has shown it receives
    /// our replies (TCP and TLS count as proven by themselves).
    pub fn captured(&self, event: BadActor, proven: bool) {
        self.blocklist
            .observe(&Observation::from_event(&event, proven));
        self.pipeline.submit(event);
    }

    /// A record a peer shared (counted for its author).
    pub fn from_peer(&self, event: BadActor) {
        self.blocklist
            .observe(&Observation::from_event(&event, false));
        self.pipeline.submit_from_peer(event);
    }

    /// A value from the OpenDHT community (unsigned): counted in the live list (as reports of
    /// the one author `opendht`) only when `counts_toward_verdicts`, always handed to the
    /// pipeline as peer data.
    pub fn from_opendht(&self, event: BadActor, counts_toward_verdicts: bool) {
        if counts_toward_verdicts {
            self.blocklist
                .observe(&Observation::from_event(&event, false));
        }
        self.pipeline.submit_from_peer(event);
    }

    /// Whether every consumer that takes peers' records has room for a page of them (a
    /// catch-up waits otherwise; the blocklist itself always has room).
    pub fn has_room_for_peer_records(&self) -> bool {
        self.pipeline.has_room_for_peer_records()
    }

    /// The live blocklist.
    pub fn blocklist(&self) -> &Arc<Blocklist> {
        &self.blocklist
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::BlocklistOptions;
    use crate::event::test_support::EventBuilder;
    use crate::pipeline::PeerRecords;

    #[test]
    fn every_event_is_counted_even_when_the_pipeline_sheds_it() {
        let blocklist = Arc::new(Blocklist::new(&BlocklistOptions::default()));
        let mut builder = Pipeline::builder();
        let store = builder.consumer("store", 1, PeerRecords::Taken);
        let intake = Intake::new(Arc::clone(&blocklist), builder.build());
        for _ in 0..3 {
            intake.captured(EventBuilder::new().source_ip("192.0.2.7").build(), false);
        }
        intake.from_peer(
            EventBuilder::new()
                .source_ip("192.0.2.7")
                .peer("12D3KooWPeer")
                .build(),
        );
        let entry = blocklist
            .lookup_ip("192.0.2.7".parse().expect("ip"))
            .expect("listed");
        assert_eq!((entry.local_count, entry.remote_count), (3, 1));
        drop(intake);
        assert_eq!(store.iter().count(), 1, "the pipeline kept one of four");
    }

    #[test]
    fn opendht_values_reach_the_list_only_when_they_count_toward_verdicts() {
        let blocklist = Arc::new(Blocklist::new(&BlocklistOptions::default()));
        let mut builder = Pipeline::builder();
        let store = builder.consumer("store", 8, PeerRecords::Taken);
        let intake = Intake::new(Arc::clone(&blocklist), builder.build());
        let value = |ip: &str| {
            EventBuilder::new()
                .source_ip(ip)
                .origin(crate::event::Origin::OpenDht)
                .build()
        };
        intake.from_opendht(value("192.0.2.8"), false);
        intake.from_opendht(value("192.0.2.9"), true);
        assert!(
            blocklist
                .lookup_ip("192.0.2.8".parse().expect("ip"))
                .is_none()
        );
        let counted = blocklist
            .lookup_ip("192.0.2.9".parse().expect("ip"))
            .expect("listed");
        assert_eq!((counted.local_count, counted.remote_count), (0, 1));
        drop(intake);
        assert_eq!(store.iter().count(), 2, "both stored as peer data");
    }
}
