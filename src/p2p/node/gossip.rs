//! Gossip on the swarm: publishing the outbox's batches, and handing each record of a peer's
//! batch to the inbound policy, storing what it accepts and telling gossipsub whether to
//! forward the batch.

use std::sync::atomic::Ordering;

use jiff::Timestamp;
use libp2p::{PeerId, Swarm, gossipsub};

use super::Node;
use crate::p2p::P2pStats;
use crate::p2p::behaviour::Behaviour;
use crate::p2p::drops::DropReason;
use crate::p2p::inbound::{Rejection, Verdict};
use crate::p2p::protocol::Batch;

impl Node {
    /// Signs and pushes the outbox.
    pub(super) fn publish(&mut self, swarm: &mut Swarm<Behaviour>) {
        let drained = self.outbox.drain();
        for uuid in drained.signed {
            self.inbound.remember(uuid);
        }
        self.stats
            .records_too_large
            .fetch_add(drained.too_large, Ordering::Relaxed);
        for batch in drained.batches {
            let topic = self.protocols.topic.clone();
            let bytes = batch.data.len() as u64;
            match swarm.behaviour_mut().gossipsub.publish(topic, batch.data) {
                Ok(_) => {
                    P2pStats::bump(&self.stats.published_messages);
                    self.stats
                        .published_bytes
                        .fetch_add(bytes, Ordering::Relaxed);
                    self.stats
                        .published_records
                        .fetch_add(batch.records, Ordering::Relaxed);
                    self.catch_up.on_shared();
                }
                Err(error) => {
                    self.stats
                        .unpublished_records
                        .fetch_add(batch.records, Ordering::Relaxed);
                    tracing::debug!(%error, records = batch.records, "records not pushed");
                }
            }
        }
    }

    pub(super) fn on_gossip(&mut self, swarm: &mut Swarm<Behaviour>, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let acceptance = if message.topic == self.protocols.stats_topic.hash() {
                    self.on_summary(&message.data, propagation_source)
                } else {
                    self.on_batch(&message.data, propagation_source)
                };
                swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                let unsent = failed_messages.priority + failed_messages.non_priority;
                self.stats
                    .unsent_to_slow_peers
                    .fetch_add(unsent as u64, Ordering::Relaxed);
                tracing::debug!(peer = %peer_id, unsent, "peer reads too slowly");
            }
            gossipsub::Event::Subscribed { peer_id, .. } => {
                tracing::debug!(peer = %peer_id, "peer subscribed");
            }
            _ => {}
        }
    }

    /// Verifies and ingests a batch; the verdict tells gossipsub whether to forward it and
    /// whether to penalise the peer that sent it.
    fn on_batch(&mut self, data: &[u8], from: PeerId) -> gossipsub::MessageAcceptance {
        let Some(batch) = Batch::decode(data) else {
            self.stats.dropped_from(&from, DropReason::Malformed);
            return gossipsub::MessageAcceptance::Reject;
        };
        let mut forged = false;
        for record in &batch.records {
            let verdict = self.inbound.check(record, Timestamp::now());
            forged |= self.settle(verdict, from);
        }
        if forged {
            gossipsub::MessageAcceptance::Reject
        } else {
            gossipsub::MessageAcceptance::Accept
        }
    }

    /// Counts the verdict on a record `from` sent, and hands the record to the intake when
    /// it was accepted. Returns whether it was forged.
    pub(super) fn settle(&mut self, verdict: Verdict, from: PeerId) -> bool {
        verdict.count(&self.stats, &from);
        let forged = verdict.is_forged();
        match verdict {
            Verdict::Accepted { author, event } => {
                self.contributions.accepted(author);
                tracing::debug!(
                    peer = %author,
                    source = %event.source.ip(),
                    event_uuid = %event.event_uuid,
                    "peer record accepted"
                );
                self.intake.from_peer(*event);
            }
            Verdict::Rejected(Rejection::Invalid(error)) => {
                tracing::debug!(peer = %from, %error, "record refused");
            }
            _ => {}
        }
        forged
    }
}
