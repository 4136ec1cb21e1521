//! Pushing this node's own events: sign, batch within the gossip size limit, publish.

use libp2p::Swarm;

use super::{Batch, CATCH_UP_RETRY, Node};
use crate::p2p::P2pStats;
use crate::p2p::behaviour::{Behaviour, MAX_GOSSIP_BYTES};
use crate::p2p::record::SignedRecord;

impl Node {
    /// Signs and pushes the outbox.
    pub(super) fn publish(&mut self, swarm: &mut Swarm<Behaviour>) {
        if self.outbox.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.outbox);
        let mut records = Vec::with_capacity(events.len());
        for event in &events {
            match SignedRecord::sign(event, &self.config.network, &self.config.key) {
                Ok(record) => {
                    self.remember(event.event_uuid);
                    records.push(record.to_json());
                }
                Err(error) => tracing::error!(%error, "cannot sign a record"),
            }
        }
        for chunk in chunks_within(records, MAX_GOSSIP_BYTES - 1024) {
            let count = chunk.len() as u64;
            let Ok(data) = serde_json::to_vec(&Batch {
                v: 1,
                records: chunk,
            }) else {
                continue;
            };
            let topic = self.protocols.topic.clone();
            let bytes = data.len() as u64;
            match swarm.behaviour_mut().gossipsub.publish(topic, data) {
                Ok(_) => {
                    P2pStats::bump(&self.stats.published_messages);
                    self.stats
                        .published_bytes
                        .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
                    self.stats
                        .published_records
                        .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                    // A refused catch-up may now be granted: ask again soon.
                    self.catch_up_retry = CATCH_UP_RETRY.0;
                }
                Err(error) => {
                    self.stats
                        .unpublished_records
                        .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!(%error, records = count, "records not pushed");
                }
            }
        }
    }
}

/// Splits records into groups whose JSON stays under `limit` bytes.
fn chunks_within(records: Vec<String>, limit: usize) -> Vec<Vec<String>> {
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut size = 0;
    for record in records {
        let needed = record.len() + 8;
        if chunks.is_empty() || size + needed > limit {
            chunks.push(Vec::new());
            size = 0;
        }
        size += needed;
        if let Some(last) = chunks.last_mut() {
            last.push(record);
        }
    }
    chunks
}
