//! Records arriving from peers: verified, filtered (own, denied, seen, over the rate) and
//! handed to the pipeline as peer data.

use jiff::Timestamp;
use libp2p::{PeerId, gossipsub};
use uuid::Uuid;

use super::{Arrival, Batch, Node, SEEN_CAPACITY};
use crate::p2p::P2pStats;
use crate::p2p::record::{RecordError, SignedRecord};

impl Node {
    /// Verifies and ingests a batch; the verdict tells gossipsub whether to forward it and
    /// whether to penalise the peer that sent it.
    pub(super) fn on_batch(&mut self, data: &[u8], from: PeerId) -> gossipsub::MessageAcceptance {
        let batch = serde_json::from_slice::<Batch>(data)
            .ok()
            .filter(|batch| batch.v == 1);
        let Some(batch) = batch else {
            P2pStats::bump(&self.stats.rejected_malformed);
            self.stats.dropped_from(&from);
            return gossipsub::MessageAcceptance::Reject;
        };
        let mut forged = false;
        for record in &batch.records {
            if let Err(RecordError::BadSignature) = self.ingest(record, from, Arrival::Pushed) {
                forged = true;
            }
        }
        if forged {
            gossipsub::MessageAcceptance::Reject
        } else {
            gossipsub::MessageAcceptance::Accept
        }
    }

    /// Verifies one record and submits it to the pipeline. Records of our own or already seen
    /// are dropped, counted as duplicates. Pushed records are rate-limited per author; records
    /// this node asked for in catch-up are not (a window can hold far more than a second's
    /// worth).
    pub(super) fn ingest(
        &mut self,
        text: &str,
        from: PeerId,
        arrival: Arrival,
    ) -> Result<(), RecordError> {
        P2pStats::bump(&self.stats.received_records);
        let verified = SignedRecord::verify(
            text,
            &self.config.network,
            self.config.retention,
            Timestamp::now(),
        );
        let (author, event) = match verified {
            Ok(verified) => verified,
            Err(error) => {
                let counter = match &error {
                    RecordError::BadSignature | RecordError::UnknownKey => {
                        &self.stats.rejected_signature
                    }
                    RecordError::OutOfWindow => &self.stats.rejected_window,
                    RecordError::OtherNetwork => &self.stats.rejected_network,
                    _ => &self.stats.rejected_malformed,
                };
                P2pStats::bump(counter);
                self.stats.dropped_from(&from);
                tracing::debug!(peer = %from, %error, "record refused");
                return Err(error);
            }
        };
        if author == self.local_peer {
            // Our own record coming back (forwarded, or in a peer's catch-up page).
            P2pStats::bump(&self.stats.duplicate_records);
            return Ok(());
        }
        let allowed = !self.config.deny.contains(&author)
            && (self.config.receive_only_from.is_empty()
                || self.config.receive_only_from.contains(&author));
        if !allowed {
            P2pStats::bump(&self.stats.rejected_denied);
            self.stats.dropped_from(&from);
            return Ok(());
        }
        if self.seen.contains(&event.event_uuid) {
            P2pStats::bump(&self.stats.duplicate_records);
            return Ok(());
        }
        if arrival == Arrival::Pushed && self.rate.check_key(&author).is_err() {
            P2pStats::bump(&self.stats.rate_limited);
            self.stats.dropped_from(&from);
            return Ok(());
        }
        self.remember(event.event_uuid);
        self.contributions.accepted(author);
        P2pStats::bump(&self.stats.accepted_records);
        tracing::debug!(
            peer = %author,
            source = %event.source.ip(),
            event_uuid = %event.event_uuid,
            "peer record accepted"
        );
        self.pipeline.submit_from_peer(event);
        Ok(())
    }

    pub(super) fn remember(&mut self, uuid: Uuid) {
        if self.seen.insert(uuid) {
            self.seen_order.push_back(uuid);
            if self.seen_order.len() > SEEN_CAPACITY
                && let Some(oldest) = self.seen_order.pop_front()
            {
                self.seen.remove(&oldest);
            }
        }
    }
}
