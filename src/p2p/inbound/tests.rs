//! The inbound checks on signed records, without a swarm: every verdict, the order of the checks,
//! the per-author rate on a fake clock, and what each verdict counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use libp2p::identity::Keypair;

use super::*;
use crate::p2p::record::tests::event;

const NETWORK: &str = "sentrypeer";

struct Fixture {
    local: Keypair,
    peer: Keypair,
    clock: FakeRelativeClock,
}

impl Fixture {
    fn new() -> Self {
        Self {
            local: Keypair::generate_ed25519(),
            peer: Keypair::generate_ed25519(),
            clock: FakeRelativeClock::default(),
        }
    }

    fn rules(&self) -> InboundRules {
        InboundRules {
            network: NETWORK.to_owned(),
            retention: Some(SignedDuration::from_hours(24)),
            local_peer: self.local.public().to_peer_id(),
            receive_only_from: Vec::new(),
            deny: Vec::new(),
            max_records_per_second: 1000,
        }
    }

    fn policy(&self, rules: InboundRules) -> InboundPolicy<FakeRelativeClock> {
        InboundPolicy::with_clock(rules, self.clock.clone())
    }
}

/// A fresh event signed by `key`, as it travels.
fn record_by(key: &Keypair) -> String {
    signed(&event(Timestamp::now()), key)
}

fn signed(event: &BadActor, key: &Keypair) -> String {
    SignedRecord::sign(event, NETWORK, key)
        .expect("sign")
        .to_json()
}

fn is_accepted(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::Accepted { .. })
}

#[test]
fn a_valid_record_is_accepted_from_its_author_once() {
    let fixture = Fixture::new();
    let mut policy = fixture.policy(fixture.rules());
    let text = record_by(&fixture.peer);
    let Verdict::Accepted { author, event } = policy.check(&text, Timestamp::now()) else {
        panic!("a valid record is accepted");
    };
    assert_eq!(author, fixture.peer.public().to_peer_id());
    assert!(!event.origin.is_local());
    assert!(matches!(
        policy.check(&text, Timestamp::now()),
        Verdict::Duplicate
    ));
}

#[test]
fn our_own_records_and_published_ids_coming_back_are_duplicates() {
    let fixture = Fixture::new();
    let mut policy = fixture.policy(fixture.rules());
    let own = record_by(&fixture.local);
    assert!(matches!(
        policy.check(&own, Timestamp::now()),
        Verdict::Duplicate
    ));
    let published = event(Timestamp::now());
    policy.remember(published.event_uuid);
    assert!(matches!(
        policy.check(&signed(&published, &fixture.peer), Timestamp::now()),
        Verdict::Duplicate
    ));
}

#[test]
fn denied_authors_and_authors_not_received_from_are_rejected() {
    let fixture = Fixture::new();
    let author = fixture.peer.public().to_peer_id();
    let other = Keypair::generate_ed25519().public().to_peer_id();
    let judged = |rules: InboundRules| {
        fixture
            .policy(rules)
            .check(&record_by(&fixture.peer), Timestamp::now())
    };
    let denied = judged(InboundRules {
        deny: vec![author],
        ..fixture.rules()
    });
    assert!(matches!(denied, Verdict::Rejected(Rejection::Denied)));
    let not_allowed = judged(InboundRules {
        receive_only_from: vec![other],
        ..fixture.rules()
    });
    assert!(matches!(not_allowed, Verdict::Rejected(Rejection::Denied)));
    let allowed = judged(InboundRules {
        receive_only_from: vec![other, author],
        ..fixture.rules()
    });
    assert!(is_accepted(&allowed));
}

#[test]
fn forged_foreign_and_stale_records_are_rejected_and_only_forgeries_are_forged() {
    let fixture = Fixture::new();
    let mut policy = fixture.policy(fixture.rules());
    let now = Timestamp::now();
    let mut forged: SignedRecord = serde_json::from_str(&record_by(&fixture.peer)).expect("record");
    forged.body = forged.body.replace("192.0.2.7", "192.0.2.8");
    let verdict = policy.check(&forged.to_json(), now);
    assert!(verdict.is_forged(), "{verdict:?}");
    let foreign = SignedRecord::sign(&event(now), "other", &fixture.peer)
        .expect("sign")
        .to_json();
    let verdict = policy.check(&foreign, now);
    assert!(matches!(
        verdict,
        Verdict::Rejected(Rejection::Invalid(RecordError::OtherNetwork))
    ));
    assert!(!verdict.is_forged());
    let stale = signed(&event(now - SignedDuration::from_hours(25)), &fixture.peer);
    assert!(matches!(
        policy.check(&stale, now),
        Verdict::Rejected(Rejection::Invalid(RecordError::OutOfWindow))
    ));
    assert!(matches!(
        policy.check("{", now),
        Verdict::Rejected(Rejection::Invalid(RecordError::Malformed(_)))
    ));
}

#[test]
fn every_record_is_limited_per_author_and_says_how_long_to_wait() {
    let fixture = Fixture::new();
    let mut policy = fixture.policy(InboundRules {
        max_records_per_second: 1,
        ..fixture.rules()
    });
    let mut check = |key: &Keypair| policy.check(&record_by(key), Timestamp::now());
    assert!(is_accepted(&check(&fixture.peer)));
    assert!(
        is_accepted(&check(&fixture.peer)),
        "a burst of two seconds' worth"
    );
    let Verdict::RateLimited { wait } = check(&fixture.peer) else {
        panic!("over the rate");
    };
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
    let another = Keypair::generate_ed25519();
    assert!(
        is_accepted(&check(&another)),
        "each author has its own rate"
    );
    fixture.clock.advance(wait);
    let later = policy.check(&record_by(&fixture.peer), Timestamp::now());
    assert!(
        is_accepted(&later),
        "once the wait is over the author may send again"
    );
}

#[test]
fn authors_gone_quiet_are_forgotten() {
    let fixture = Fixture::new();
    let mut policy = fixture.policy(fixture.rules());
    for _ in 0..20 {
        policy.check(&record_by(&Keypair::generate_ed25519()), Timestamp::now());
    }
    assert_eq!(policy.tracked_authors(), 20);
    fixture.clock.advance(Duration::from_secs(10));
    policy.prune();
    assert_eq!(policy.tracked_authors(), 0);
}

#[test]
fn each_verdict_counts_the_record_once_and_drops_against_the_sender() {
    let stats = P2pStats::default();
    let sender = Keypair::generate_ed25519().public().to_peer_id();
    let verdicts = [
        Verdict::Duplicate,
        Verdict::RateLimited {
            wait: Duration::ZERO,
        },
        Verdict::Rejected(Rejection::Denied),
        Verdict::Rejected(Rejection::Invalid(RecordError::BadSignature)),
        Verdict::Rejected(Rejection::Invalid(RecordError::UnknownKey)),
        Verdict::Rejected(Rejection::Invalid(RecordError::OutOfWindow)),
        Verdict::Rejected(Rejection::Invalid(RecordError::OtherNetwork)),
        Verdict::Rejected(Rejection::Invalid(RecordError::TooLarge(9000))),
    ];
    for verdict in &verdicts {
        verdict.count(&stats, &sender);
    }
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    assert_eq!(load(&stats.received_records), 8);
    assert_eq!(load(&stats.duplicate_records), 1);
    assert_eq!(load(&stats.rate_limited), 1);
    assert_eq!(load(&stats.rejected_denied), 1);
    assert_eq!(load(&stats.rejected_signature), 2);
    assert_eq!(load(&stats.rejected_window), 1);
    assert_eq!(load(&stats.rejected_network), 1);
    assert_eq!(load(&stats.rejected_malformed), 1);
    assert_eq!(load(&stats.accepted_records), 0);
    assert_eq!(
        stats.dropped_by_peer().get(&sender.to_base58()),
        Some(&7),
        "every verdict but the duplicate is a drop from the sender"
    );
    assert_eq!(
        stats.dropped_by_peer.by_reason(&sender),
        std::collections::BTreeMap::from([
            ("rate_limited", 1),
            ("rejected_denied", 1),
            ("rejected_malformed", 1),
            ("rejected_network", 1),
            ("rejected_signature", 2),
            ("rejected_window", 1),
        ]),
        "the sender's drops split by reason, as the node-wide counters"
    );
}

#[test]
fn seen_ids_forget_the_oldest_beyond_their_capacity() {
    let mut seen = SeenIds::new(2);
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        seen.remember(*id);
    }
    seen.remember(ids[2]);
    assert!(!seen.contains(&ids[0]));
    assert!(seen.contains(&ids[1]) && seen.contains(&ids[2]));
    assert_eq!(seen.order.len(), 2);
}
