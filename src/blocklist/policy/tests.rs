//! Tests of the verdict policy: each check, each consumer's defaults, and the poisoning cases of
//! the issue (special addresses and single hostile peers).

use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::blocklist::{
    Blocklist, BlocklistOptions, Key, Observation, ObservedOrigin, transport_bit,
};
use crate::event::Transport;
use crate::sip::AttackType;

const NOW: i64 = 1_800_000_000;

fn now() -> Timestamp {
    Timestamp::from_second(NOW).expect("valid")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

/// What the list holds for `key` after each `(origin, seconds ago)` event.
fn seen(list: &Blocklist, key: &Key, events: &[(ObservedOrigin<'_>, i64)]) -> EntryView {
    for (origin, ago) in events {
        let (source, number) = match key {
            Key::Ip(ip) => (Some(*ip), None),
            Key::Number(number) => (None, Some(&**number)),
        };
        list.observe(&Observation {
            at: Timestamp::from_second(NOW - ago).expect("valid"),
            source,
            called_number: number,
            attack_type: AttackType::Scan,
            origin: *origin,
        });
    }
    list.lookup(key).expect("observed")
}

const UDP: ObservedOrigin<'static> = ObservedOrigin::Local {
    transport: Transport::Udp,
    proven: false,
};

fn peer(author: &str) -> ObservedOrigin<'_> {
    ObservedOrigin::Remote { author }
}

fn policy(list: &Blocklist, node: &VerdictOptions, consumer: &ConsumerOptions) -> Policy {
    Policy::new(node, consumer, list)
}

fn decide(
    node: &VerdictOptions,
    consumer: &ConsumerOptions,
    key: &Key,
    events: &[(ObservedOrigin<'_>, i64)],
) -> Result<Verdict, Refusal> {
    let list = Blocklist::new(&BlocklistOptions::default());
    let entry = seen(&list, key, events);
    policy(&list, node, consumer).decide(key, &entry, now())
}

fn feeds(key: &Key, events: &[(ObservedOrigin<'_>, i64)]) -> Result<Verdict, Refusal> {
    decide(
        &VerdictOptions::default(),
        &ConsumerOptions::feeds(),
        key,
        events,
    )
}

#[test]
fn a_local_probe_is_a_verdict_for_feeds_crowdsec_and_the_sip_agent() {
    let key = Key::ip(ip("8.8.8.8"));
    for consumer in [
        ConsumerOptions::feeds(),
        ConsumerOptions::crowdsec(),
        ConsumerOptions::sip_agent(),
    ] {
        let verdict = decide(&VerdictOptions::default(), &consumer, &key, &[(UDP, 5)])
            .expect("listed as before");
        assert_eq!(
            (verdict.count, verdict.local, verdict.remote),
            (1, true, false)
        );
        assert_eq!(verdict.last_seen.as_second(), NOW - 5);
    }
}

#[test]
fn no_special_purpose_address_is_ever_a_verdict_by_default() {
    for block in super::special::blocks_checked_as_written() {
        for address in [block.network.network(), block.network.broadcast()] {
            let key = Key::ip(address);
            assert!(
                matches!(feeds(&key, &[(UDP, 0)]), Err(Refusal::SpecialAddress(_))),
                "{address} ({})",
                block.name
            );
        }
    }
}

#[test]
fn special_addresses_are_verdicts_when_included_for_labs() {
    let lab = VerdictOptions {
        include_special_addresses: true,
        ..VerdictOptions::default()
    };
    for address in ["127.0.0.1", "::1", "10.0.0.1"] {
        let key = Key::ip(ip(address));
        assert!(decide(&lab, &ConsumerOptions::feeds(), &key, &[(UDP, 0)]).is_ok());
    }
}

#[test]
fn the_nodes_own_addresses_are_never_verdicts_even_in_labs() {
    let node = VerdictOptions {
        include_special_addresses: true,
        own_addresses: vec![ip("127.0.0.1"), ip("2a00:1450::5")],
        ..VerdictOptions::default()
    };
    for address in ["127.0.0.1", "::ffff:127.0.0.1", "2a00:1450::5"] {
        let key = Key::ip(ip(address));
        let refusal = decide(&node, &ConsumerOptions::feeds(), &key, &[(UDP, 0)]);
        assert_eq!(refusal, Err(Refusal::OwnAddress), "{address}");
    }
}

#[test]
fn never_listed_networks_and_numbers_are_never_verdicts() {
    let node = VerdictOptions {
        never: NeverList {
            networks: vec!["8.8.8.0/24".parse().expect("net")],
            numbers: vec!["0900*".parse().expect("rule")],
        },
        ..VerdictOptions::default()
    };
    let consumer = ConsumerOptions::feeds();
    let hits = [
        Key::ip(ip("8.8.8.8")),
        Key::number("0900123").expect("number"),
    ];
    for key in hits {
        assert_eq!(
            decide(&node, &consumer, &key, &[(UDP, 0)]),
            Err(Refusal::NeverListed)
        );
    }
    assert!(decide(&node, &consumer, &Key::ip(ip("8.8.4.4")), &[(UDP, 0)]).is_ok());
}

#[test]
fn the_sip_agent_never_blocks_emergency_numbers_but_feeds_list_them() {
    let node = VerdictOptions::default();
    for number in EMERGENCY_NUMBERS {
        let key = Key::number(number).expect("number");
        let agent = decide(&node, &ConsumerOptions::sip_agent(), &key, &[(UDP, 0)]);
        assert_eq!(agent, Err(Refusal::NeverListed), "{number}");
        assert!(decide(&node, &ConsumerOptions::feeds(), &key, &[(UDP, 0)]).is_ok());
    }
    let ordinary = Key::number("1121234567").expect("number");
    assert!(decide(&node, &ConsumerOptions::sip_agent(), &ordinary, &[(UDP, 0)]).is_ok());
}

#[test]
fn one_hostile_peer_cannot_list_anything_by_itself() {
    // The issue's poisoning case: one peer's records for these reached every feed.
    for address in super::special::POISONED_IN_THE_ISSUE {
        let key = Key::ip(ip(address));
        assert!(matches!(
            feeds(&key, &[(peer("evil"), 0)]),
            Err(Refusal::SpecialAddress(_))
        ));
    }
    for key in [
        Key::ip(ip("8.8.8.8")),
        Key::ip(ip("1.1.1.1")),
        Key::number("+441234567890").expect("number"),
    ] {
        let events = [(peer("evil"), 0), (peer("evil"), 0), (peer("evil"), 1)];
        assert_eq!(feeds(&key, &events), Err(Refusal::RemoteUntrusted), "{key}");
    }
}

#[test]
fn remote_reports_count_from_a_quorum_or_a_trusted_author() {
    let key = Key::ip(ip("8.8.8.8"));
    let two = [(peer("alice"), 0), (peer("bob"), 3)];
    let verdict = feeds(&key, &two).expect("two authors make a quorum");
    assert_eq!(
        (verdict.count, verdict.local, verdict.remote),
        (2, false, true)
    );

    let trusting = VerdictOptions {
        trusted_authors: vec!["alice".into()],
        ..VerdictOptions::default()
    };
    let consumer = ConsumerOptions::feeds();
    assert!(decide(&trusting, &consumer, &key, &[(peer("alice"), 0)]).is_ok());
    assert_eq!(
        decide(&trusting, &consumer, &key, &[(peer("mallory"), 0)]),
        Err(Refusal::RemoteUntrusted)
    );

    let three = VerdictOptions {
        peer_quorum: 3,
        ..VerdictOptions::default()
    };
    assert_eq!(
        decide(&three, &consumer, &key, &two),
        Err(Refusal::RemoteUntrusted)
    );
    let anyone = VerdictOptions {
        peer_quorum: 0,
        ..VerdictOptions::default()
    };
    assert!(decide(&anyone, &consumer, &key, &[(peer("mallory"), 0)]).is_ok());
}

#[test]
fn untrusted_reports_do_not_add_to_a_local_count() {
    let key = Key::ip(ip("8.8.8.8"));
    let verdict =
        feeds(&key, &[(UDP, 10), (peer("evil"), 0), (peer("evil"), 0)]).expect("local counts");
    assert_eq!((verdict.count, verdict.remote), (1, false));
    assert_eq!(
        verdict.last_seen.as_second(),
        NOW - 10,
        "age of counted events only"
    );
}

#[test]
fn consumers_choose_the_origins_that_count() {
    let key = Key::ip(ip("8.8.8.8"));
    let local_only = ConsumerOptions {
        origins: CountedOrigins {
            local: true,
            remote: false,
        },
        ..ConsumerOptions::feeds()
    };
    let quorum = [(peer("alice"), 0), (peer("bob"), 0)];
    let node = VerdictOptions::default();
    assert_eq!(
        decide(&node, &local_only, &key, &quorum),
        Err(Refusal::NoCountedOrigin)
    );
    let remote_only = ConsumerOptions {
        origins: CountedOrigins {
            local: false,
            remote: true,
        },
        ..ConsumerOptions::feeds()
    };
    assert_eq!(
        decide(&node, &remote_only, &key, &[(UDP, 0)]),
        Err(Refusal::NoCountedOrigin)
    );
    assert!(decide(&node, &remote_only, &key, &quorum).is_ok());
}

#[test]
fn minimum_count_and_maximum_age_apply_to_counted_events() {
    let key = Key::number("5551234").expect("number");
    let node = VerdictOptions::default();
    let strict = ConsumerOptions {
        min_count: 3,
        max_age: Some(Duration::from_secs(60)),
        ..ConsumerOptions::sip_agent()
    };
    assert_eq!(
        decide(&node, &strict, &key, &[(UDP, 0), (UDP, 0)]),
        Err(Refusal::BelowMinCount)
    );
    assert!(decide(&node, &strict, &key, &[(UDP, 0), (UDP, 0), (UDP, 60)]).is_ok());
    let stale = [(UDP, 61), (UDP, 100), (UDP, 200)];
    assert_eq!(decide(&node, &strict, &key, &stale), Err(Refusal::TooOld));
}

#[test]
fn bgp_lists_udp_only_sources_only_once_proven() {
    let key = Key::ip(ip("8.8.8.8"));
    let node = VerdictOptions::default();
    let bgp = ConsumerOptions::bgp();
    assert_eq!(
        decide(&node, &bgp, &key, &[(UDP, 0)]),
        Err(Refusal::Unproven)
    );
    let echoed = ObservedOrigin::Local {
        transport: Transport::Udp,
        proven: true,
    };
    assert!(
        decide(&node, &bgp, &key, &[(UDP, 5), (echoed, 0)])
            .expect("proven")
            .proven
    );
    let tcp = ObservedOrigin::Local {
        transport: Transport::Tcp,
        proven: false,
    };
    assert!(decide(&node, &bgp, &key, &[(tcp, 0)]).is_ok());
    let quorum = [(peer("alice"), 0), (peer("bob"), 0)];
    assert_eq!(
        decide(&node, &bgp, &key, &quorum),
        Err(Refusal::Unproven),
        "proof is local"
    );
    // Numbers have no source to prove.
    let number = Key::number("5551234").expect("number");
    assert!(decide(&node, &bgp, &number, &[(UDP, 0)]).is_ok());
}

#[test]
fn verdicts_evaluate_the_facts_a_change_carries() {
    let list = Blocklist::new(&BlocklistOptions::default());
    let policy = policy(&list, &VerdictOptions::default(), &ConsumerOptions::bgp());
    let mut changes = list.subscribe();
    seen(&list, &Key::ip(ip("8.8.8.8")), &[(UDP, 0)]);
    let tcp = ObservedOrigin::Local {
        transport: Transport::Tcp,
        proven: false,
    };
    seen(&list, &Key::ip(ip("8.8.8.8")), &[(tcp, 0)]);
    let first = changes.try_recv().expect("open").expect("new");
    let second = changes.try_recv().expect("open").expect("proven");
    assert_eq!(policy.verdict(&first.key, &first.entry, now()), None);
    assert!(policy.verdict(&second.key, &second.entry, now()).is_some());
    assert!(second.entry.transports & transport_bit(Transport::Tcp) != 0);
}
