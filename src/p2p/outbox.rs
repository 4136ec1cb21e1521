//! This node's own events on their way out, decided without a network: [`Outbox`] gathers
//! locally captured events (never peers' records: they are not re-published as ours) until a
//! batch is due, then signs them and cuts them into gossip messages within [`MAX_BATCH_BYTES`].

use std::sync::Arc;

use libp2p::identity::Keypair;
use uuid::Uuid;

use super::protocol::{BATCH_RECORDS, Batch, MAX_BATCH_BYTES, json_string_len};
use super::record::SignedRecord;
use crate::event::BadActor;

/// Local events waiting to be pushed, and what signs them.
#[derive(Debug)]
pub(crate) struct Outbox {
    pending: Vec<Arc<BadActor>>,
    network: String,
    key: Keypair,
}

/// One gossip message, ready to publish.
#[derive(Debug)]
pub(crate) struct OutgoingBatch {
    /// The [`Batch`] as JSON, at most [`MAX_BATCH_BYTES`].
    pub(crate) data: Vec<u8>,
    /// Records in it.
    pub(crate) records: u64,
}

/// What emptying the outbox gave.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    /// The messages to publish, in the order the events came.
    pub(crate) batches: Vec<OutgoingBatch>,
    /// Ids of the events signed (remembered, so they are duplicates if they come back).
    pub(crate) signed: Vec<Uuid>,
    /// Events left out: no record of them fits [`MAX_RECORD_BYTES`] (see
    /// [`SignedRecord::sign`]).
    ///
    /// [`MAX_RECORD_BYTES`]: super::protocol::MAX_RECORD_BYTES
    pub(crate) too_large: u64,
}

impl Outbox {
    /// An empty outbox signing for `network` with `key`.
    pub(crate) fn new(network: String, key: Keypair) -> Self {
        Self {
            pending: Vec::new(),
            network,
            key,
        }
    }

    /// Takes `event` if it was captured here (others are ignored). True when a batch's worth
    /// ([`BATCH_RECORDS`]) is waiting: publish now rather than at the next tick.
    pub(crate) fn push(&mut self, event: Arc<BadActor>) -> bool {
        if event.origin.is_local() {
            self.pending.push(event);
        }
        self.pending.len() >= BATCH_RECORDS
    }

    /// Signs every waiting event and cuts the records into messages; leaves the outbox empty.
    pub(crate) fn drain(&mut self) -> Drained {
        let mut drained = Drained::default();
        let mut records = Vec::with_capacity(self.pending.len());
        for event in std::mem::take(&mut self.pending) {
            match SignedRecord::sign(&event, &self.network, &self.key) {
                Ok(record) => {
                    drained.signed.push(event.event_uuid);
                    records.push(record.to_json());
                }
                Err(error) => {
                    // Attacker-sized texts: counted, and logged only at debug (one per event).
                    drained.too_large += 1;
                    tracing::debug!(%error, event_uuid = %event.event_uuid, "event not shared");
                }
            }
        }
        for chunk in chunks_within(records, MAX_BATCH_BYTES) {
            let count = chunk.len() as u64;
            match serde_json::to_vec(&Batch::new(chunk)) {
                Ok(data) => drained.batches.push(OutgoingBatch {
                    data,
                    records: count,
                }),
                Err(error) => tracing::error!(%error, "cannot write a batch"),
            }
        }
        drained
    }
}

/// Splits records into groups whose [`Batch`] JSON stays under `limit` bytes. A record is a JSON
/// text carried as a JSON string, so it counts with its escapes: every `"` and `\` in it (a
/// SIP message's CRLFs are already `\r\n` there) doubles. Counting the bare text let batches of
/// real probes exceed gossipsub's limit and be refused whole (`MessageTooLarge`): the soak run
/// pushed 2,434 of 40,001 records.
fn chunks_within(records: Vec<String>, limit: usize) -> Vec<Vec<String>> {
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut size = 0;
    for record in records {
        let needed = json_string_len(&record) + 8;
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

#[cfg(test)]
mod tests;
