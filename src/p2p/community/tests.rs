//! The checks of summaries from the network (forged, oversized, malformed, stale, out-of-limit
//! fields), one summary per node per hour, the node cap, the 24-hour window and the sums, on
//! plain values; and our summary built from a store.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use jiff::{SignedDuration, Timestamp};
use libp2p::PeerId;
use libp2p::identity::Keypair;

use super::ledger::{Admission, Ledger};
use super::{Author, Community, Outcome, SummaryError, check_body, summarize};
use crate::countries::Countries;
use crate::event::test_support::EventBuilder;
use crate::p2p::protocol::{
    MAX_COMMUNITY_NODES, MAX_SUMMARY_BYTES, MAX_SUMMARY_COUNT, MAX_SUMMARY_METHODS,
    PROTOCOL_VERSION, SignedSummary, SummaryBody,
};

const NETWORK: &str = "test";

fn now() -> Timestamp {
    "2026-12-04T22:30:00Z".parse().expect("time")
}

fn body(key: &Keypair, events: u64) -> SummaryBody {
    let counts = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    SummaryBody {
        v: PROTOCOL_VERSION,
        network: NETWORK.to_owned(),
        peer_id: key.public().to_peer_id().to_base58(),
        period_start: "2026-12-04T21:29:00Z".to_owned(),
        period_end: "2026-12-04T22:29:59Z".to_owned(),
        events,
        ip_addresses: 2,
        called_numbers: 1,
        by_attack_type: counts(&[("scan", events)]),
        by_method: counts(&[("OPTIONS", events)]),
        by_country: counts(&[("GB", 1), ("ZZ", 1)]),
    }
}

fn signed(key: &Keypair, body: &SummaryBody) -> Vec<u8> {
    SignedSummary::sign(body, key)
        .expect("signs")
        .to_json()
        .into_bytes()
}

fn verify(data: &[u8]) -> Result<SummaryBody, SummaryError> {
    SignedSummary::verify(data, NETWORK, now()).map(|(_, body)| body)
}

#[test]
fn a_signed_summary_verifies_as_its_author_s() {
    let key = Keypair::generate_ed25519();
    let sent = body(&key, 5);
    let (author, received) =
        SignedSummary::verify(&signed(&key, &sent), NETWORK, now()).expect("valid");
    assert_eq!(author, key.public().to_peer_id());
    assert_eq!(received, sent);
}

#[test]
fn forged_summaries_are_refused() {
    let key = Keypair::generate_ed25519();
    let mallory = Keypair::generate_ed25519();
    // Signed by another key than the one its peer_id names.
    let claimed = body(&key, 5);
    assert_eq!(
        verify(&signed(&mallory, &claimed)),
        Err(SummaryError::BadSignature)
    );
    // A body changed after signing.
    let mut summary = SignedSummary::sign(&claimed, &key).expect("signs");
    summary.body = summary.body.replace("\"events\":5", "\"events\":500");
    assert_eq!(
        verify(summary.to_json().as_bytes()),
        Err(SummaryError::BadSignature)
    );
    // No signature, a huge one, a peer id that is not one.
    summary.signature = String::new();
    assert_eq!(
        verify(summary.to_json().as_bytes()),
        Err(SummaryError::BadSignature)
    );
    summary.signature = "ab".repeat(1000);
    assert_eq!(
        verify(summary.to_json().as_bytes()),
        Err(SummaryError::BadSignature)
    );
    let mut nobody = body(&key, 5);
    nobody.peer_id = "not-a-peer".to_owned();
    assert_eq!(
        verify(&signed(&key, &nobody)),
        Err(SummaryError::BadSignature)
    );
}

#[test]
fn oversized_malformed_and_foreign_summaries_are_refused() {
    let key = Keypair::generate_ed25519();
    let huge = vec![b' '; MAX_SUMMARY_BYTES + 1];
    assert_eq!(
        verify(&huge),
        Err(SummaryError::TooLarge(MAX_SUMMARY_BYTES + 1))
    );
    assert_eq!(verify(b"{}"), Err(SummaryError::Malformed));
    assert_eq!(verify(b"\xff\xfe"), Err(SummaryError::Malformed));
    let extra = r#"{"body":"{}","signature":"00","extra":1}"#;
    assert_eq!(verify(extra.as_bytes()), Err(SummaryError::Malformed));
    let mut other_version = body(&key, 1);
    other_version.v = PROTOCOL_VERSION + 1;
    assert_eq!(
        verify(&signed(&key, &other_version)),
        Err(SummaryError::Malformed)
    );
    let mut other_network = body(&key, 1);
    other_network.network = "elsewhere".to_owned();
    assert_eq!(
        verify(&signed(&key, &other_network)),
        Err(SummaryError::OtherNetwork)
    );
    // A body with an unknown key is not a summary.
    let text = serde_json::to_string(&body(&key, 1)).expect("json");
    let text = text.replacen('{', r#"{"source_ips":["192.0.2.1"],"#, 1);
    let signature = hex::encode(key.sign(text.as_bytes()).expect("sign"));
    let smuggled = serde_json::json!({ "body": text, "signature": signature }).to_string();
    assert_eq!(verify(smuggled.as_bytes()), Err(SummaryError::Malformed));
}

#[test]
fn stale_future_and_out_of_limit_fields_are_refused() {
    let key = Keypair::generate_ed25519();
    let check = |change: &dyn Fn(&mut SummaryBody)| {
        let mut body = body(&key, 5);
        change(&mut body);
        check_body(&body, now())
    };
    assert_eq!(check(&|_| ()), Ok(()));
    let field = SummaryError::InvalidField;
    assert_eq!(
        check(&|b| b.period_end = "2026-12-04T19:00:00Z".to_owned()),
        Err(field("period_start")),
        "a period longer than an hour"
    );
    assert_eq!(
        check(&|b| {
            b.period_start = "2026-12-04T19:00:00Z".to_owned();
            b.period_end = "2026-12-04T20:00:00Z".to_owned();
        }),
        Err(SummaryError::OutOfWindow),
        "older than two hours: a replay"
    );
    assert_eq!(
        check(&|b| {
            b.period_start = "2026-12-04T22:40:00Z".to_owned();
            b.period_end = "2026-12-04T23:00:00Z".to_owned();
        }),
        Err(SummaryError::OutOfWindow),
        "in the future"
    );
    assert_eq!(
        check(&|b| b.period_end = "soon".to_owned()),
        Err(field("period_end"))
    );
    assert_eq!(
        check(&|b| b.events = MAX_SUMMARY_COUNT + 1),
        Err(field("events"))
    );
    assert_eq!(
        check(&|b| {
            b.by_attack_type.insert("world_domination".to_owned(), 1);
        }),
        Err(field("by_attack_type"))
    );
    assert_eq!(
        check(&|b| {
            b.by_method.insert("INVITE".to_owned(), 1);
        }),
        Err(field("by_method")),
        "more events by method than in all"
    );
    assert_eq!(
        check(&|b| {
            b.by_method = BTreeMap::from([("IN VITE<script>".to_owned(), 1)]);
        }),
        Err(field("by_method"))
    );
    assert_eq!(
        check(&|b| {
            b.by_method = (0..=MAX_SUMMARY_METHODS)
                .map(|n| (format!("M{n}"), 0))
                .collect();
        }),
        Err(field("by_method"))
    );
    assert_eq!(
        check(&|b| {
            b.by_country = BTreeMap::from([("gb".to_owned(), 1)]);
        }),
        Err(field("by_country"))
    );
    assert_eq!(
        check(&|b| {
            b.by_country.insert("FR".to_owned(), 1);
        }),
        Err(field("by_country")),
        "more IPs by country than in all"
    );
}

#[test]
fn one_summary_per_node_per_hour_is_counted_and_the_rest_refused_and_counted() {
    let community = Community::default();
    let key = Keypair::generate_ed25519();
    let local = PeerId::random();
    let receive = |events, at: Timestamp| {
        community.receive(&signed(&key, &body(&key, events)), NETWORK, &local, at)
    };
    assert_eq!(receive(5, now()), Outcome::Accepted);
    assert_eq!(
        receive(7, now() + SignedDuration::from_mins(20)),
        Outcome::Ignored
    );
    assert_eq!(
        community.refused_duplicate_in_hour.load(Ordering::Relaxed),
        1
    );
    let view = community.view(now());
    assert_eq!((view.nodes, view.summaries, view.totals.events), (1, 1, 5));
    // Next hour: counted again (the period is still within two hours).
    let next_hour: Timestamp = "2026-12-04T23:05:00Z".parse().expect("time");
    assert_eq!(receive(7, next_hour), Outcome::Accepted);
    let view = community.view(next_hour);
    assert_eq!((view.nodes, view.summaries, view.totals.events), (1, 2, 12));
    assert_eq!(view.per_node[0].summaries, 2);
    assert_eq!(view.by_method["OPTIONS"], 12);
    assert_eq!(view.by_country["GB"], 2);
    // Ours coming back, and a forged one.
    let ours = community.receive(
        &signed(&key, &body(&key, 1)),
        NETWORK,
        &key.public().to_peer_id(),
        now(),
    );
    assert_eq!(ours, Outcome::Ignored);
    let mut forged = SignedSummary::sign(&body(&key, 1), &key).expect("signs");
    forged.signature = hex::encode([0_u8; 64]);
    let outcome = community.receive(forged.to_json().as_bytes(), NETWORK, &local, now());
    assert_eq!(outcome, Outcome::Rejected);
    let count = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    assert_eq!(
        [
            count(&community.received),
            count(&community.accepted),
            count(&community.own),
            count(&community.refused_signature)
        ],
        [5, 2, 1, 1]
    );
    // A day later, all of it has left the window.
    let day_later = next_hour + SignedDuration::from_hours(25);
    assert_eq!(community.view(day_later).summaries, 0);
}

#[test]
fn the_node_cap_drops_the_node_heard_from_least_recently() {
    let mut ledger = Ledger::default();
    let key = Keypair::generate_ed25519();
    let summary = body(&key, 1);
    let first = PeerId::random();
    let start = now();
    assert_eq!(
        ledger.admit(first, &summary, start),
        Admission::Accepted {
            dropped_node: false
        }
    );
    let later = start + SignedDuration::from_secs(1);
    for _ in 1..MAX_COMMUNITY_NODES {
        ledger.admit(PeerId::random(), &summary, later);
    }
    assert_eq!(ledger.nodes(), MAX_COMMUNITY_NODES);
    assert_eq!(
        ledger.admit(PeerId::random(), &summary, later),
        Admission::Accepted { dropped_node: true }
    );
    assert_eq!(ledger.nodes(), MAX_COMMUNITY_NODES);
    // The first was dropped: it is a new node again (its earlier summary stays in the sums).
    assert_eq!(
        ledger.admit(first, &summary, later),
        Admission::Accepted { dropped_node: true }
    );
    assert_eq!(ledger.view(later).summaries, MAX_COMMUNITY_NODES as u64 + 2);
}

#[test]
fn our_summary_counts_our_own_events_only_and_no_addresses() {
    let mut conn = rusqlite::Connection::open_in_memory().expect("db");
    crate::store::migrate(&mut conn).expect("migrate");
    let events: Vec<_> = [
        EventBuilder::new()
            .source_ip("81.2.69.142")
            .method("REGISTER")
            .seconds_ago(60),
        EventBuilder::new()
            .source_ip("10.0.0.1")
            .method("OPTIONS")
            .seconds_ago(30),
        EventBuilder::new()
            .source_ip("81.2.69.160")
            .peer("12D3KooWPeer")
            .seconds_ago(30),
    ]
    .into_iter()
    .map(|builder| std::sync::Arc::new(builder.build()))
    .collect();
    crate::store::writer::insert_events(&mut conn, &events).expect("insert");
    let key = Keypair::generate_ed25519();
    let author = Author {
        network: NETWORK.to_owned(),
        peer_id: key.public().to_peer_id().to_base58(),
    };
    let now = Timestamp::now();
    let body = summarize(&conn, &Countries::BuiltIn, &author, now).expect("summary");
    assert_eq!((body.events, body.ip_addresses), (2, 2));
    assert_eq!(body.by_method.values().sum::<u64>(), 2);
    assert_eq!(body.by_country.get("GB"), Some(&1), "{:?}", body.by_country);
    assert_eq!(
        body.by_country.get("ZZ"),
        Some(&1),
        "private addresses are unknown"
    );
    let text = SignedSummary::sign(&body, &key).expect("signs").to_json();
    assert!(
        !text.contains("81.2.69") && !text.contains("10.0.0.1"),
        "{text}"
    );
    check_body(&body, now).expect("our summary passes the checks");
}

#[test]
fn a_summary_with_every_list_full_fits_the_size_limit() {
    let key = Keypair::generate_ed25519();
    let mut full = body(&key, MAX_SUMMARY_COUNT);
    full.ip_addresses = MAX_SUMMARY_COUNT;
    full.called_numbers = MAX_SUMMARY_COUNT;
    full.by_attack_type = crate::sip::AttackType::ALL
        .iter()
        .map(|attack_type| (attack_type.as_str().to_owned(), MAX_SUMMARY_COUNT / 6))
        .collect();
    full.by_method = (0..MAX_SUMMARY_METHODS)
        .map(|n| (format!("{n:0>32}"), MAX_SUMMARY_COUNT / 32))
        .collect();
    full.by_country = (0..crate::p2p::protocol::MAX_SUMMARY_COUNTRIES)
        .map(|n| {
            let letter = |i: usize| char::from(b'A' + u8::try_from(i % 26).expect("letter"));
            (
                format!("{}{}", letter(n / 26), letter(n)),
                MAX_SUMMARY_COUNT / 256,
            )
        })
        .collect();
    let data = signed(&key, &full);
    // 6,830 bytes: half the limit leaves room for longer peer ids or a future field.
    assert!(data.len() < MAX_SUMMARY_BYTES / 2, "{} bytes", data.len());
    assert_eq!(verify(&data), Ok(full));
}
