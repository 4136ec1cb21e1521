//! Batching this node's events without a swarm: what is taken, when a batch is due, and that
//! every batch is within the gossip limit and carries every record, signed, in order.

use jiff::Timestamp;

use super::*;
use crate::event::{Origin, PeerOrigin};
use crate::p2p::record::tests::event;

const NETWORK: &str = "sentrypeer";

#[test]
fn batches_of_escape_heavy_records_stay_within_the_limit() {
    // A record like a real one: a SIP message full of CRLFs and quotes, as JSON.
    let message = "INVITE sip:100@192.0.2.1 SIP/2.0\r\nFrom: \"100\" <sip:100@x>\r\n".repeat(20);
    let record = serde_json::json!({ "sip_message": message, "quoted": "\"\\" }).to_string();
    let records: Vec<String> = (0..200).map(|_| record.clone()).collect();
    let limit = 16 * 1024;
    let chunks = chunks_within(records.clone(), limit);
    assert!(chunks.len() > 1, "the records need several batches");
    for chunk in &chunks {
        let data = serde_json::to_vec(&Batch::new(chunk.clone())).expect("JSON");
        assert!(data.len() <= limit, "{} > {limit}", data.len());
    }
    assert_eq!(chunks.concat(), records, "every record, in order");
}

#[test]
fn only_local_events_are_taken_and_a_full_batch_is_due_at_once() {
    let mut outbox = Outbox::new(NETWORK.to_owned(), Keypair::generate_ed25519());
    let mut from_peer = event(Timestamp::now());
    from_peer.origin = Origin::Peer(PeerOrigin {
        peer_id: "12D3KooW".to_owned(),
        signed_record: None,
    });
    assert!(!outbox.push(Arc::new(from_peer)));
    for _ in 1..BATCH_RECORDS {
        assert!(!outbox.push(Arc::new(event(Timestamp::now()))));
    }
    assert!(
        outbox.push(Arc::new(event(Timestamp::now()))),
        "a batch's worth"
    );
    let drained = outbox.drain();
    assert_eq!(
        drained.signed.len(),
        BATCH_RECORDS,
        "the peer's record is not ours to share"
    );
    assert!(outbox.drain().batches.is_empty(), "drained empty");
}

#[test]
fn draining_signs_every_event_into_batches_within_the_gossip_limit() {
    let key = Keypair::generate_ed25519();
    let mut outbox = Outbox::new(NETWORK.to_owned(), key.clone());
    let now = Timestamp::now();
    let mut events = Vec::new();
    for _ in 0..300 {
        let mut big = event(now);
        big.sip_message = "Via: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK\r\n".repeat(85);
        events.push(big.event_uuid);
        outbox.push(Arc::new(big));
    }
    let drained = outbox.drain();
    assert_eq!(drained.signed, events);
    assert!(
        drained.batches.len() > 1,
        "4 KiB messages need several batches"
    );
    let mut received = Vec::new();
    for batch in &drained.batches {
        assert!(batch.data.len() <= MAX_BATCH_BYTES, "{}", batch.data.len());
        let decoded = Batch::decode(&batch.data).expect("a batch of this version");
        assert_eq!(decoded.records.len() as u64, batch.records);
        for record in &decoded.records {
            let (author, event) =
                SignedRecord::verify(record, NETWORK, None, now).expect("a valid record");
            assert_eq!(author, key.public().to_peer_id());
            received.push(event.event_uuid);
        }
    }
    assert_eq!(received, events, "every record, in order");
}
