//! Tests of the live table, its change stream, expiry, eviction, flushing and loading.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use jiff::Timestamp;
use proptest::prelude::*;

use super::*;
use crate::sip::AttackType;

mod concurrency;

/// A timestamp `seconds` after 2024-01-01 (nanoseconds kept).
pub(super) fn at(seconds: i64, nanos: i32) -> Timestamp {
    Timestamp::new(1_704_067_200 + seconds, nanos).expect("valid")
}

pub(super) fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

/// A local UDP scan from `source` to `number` at `at`.
pub(super) fn local<'a>(source: &str, number: &'a str, at: Timestamp) -> Observation<'a> {
    Observation {
        at,
        source: Some(ip(source)),
        called_number: Some(number),
        attack_type: AttackType::Scan,
        origin: ObservedOrigin::Local {
            transport: Transport::Udp,
            proven: false,
        },
    }
}

/// A blocklist with one shard per table (so caps are exact) and small caps.
pub(super) fn small(max_ips: usize, max_numbers: usize) -> Blocklist {
    Blocklist::new(&BlocklistOptions {
        max_ips,
        max_numbers,
        shards: 1,
        ..BlocklistOptions::default()
    })
}

fn drain(subscription: &mut Subscription) -> Vec<Arc<Change>> {
    let mut changes = Vec::new();
    while let Some(change) = subscription.try_recv().expect("subscribed") {
        changes.push(change);
    }
    changes
}

#[test]
fn observed_keys_are_looked_up_normalised() {
    let list = Blocklist::new(&BlocklistOptions::default());
    list.observe(&local("::ffff:192.0.2.7", "0046812118532", at(0, 0)));
    list.observe(&local("2001:db8::7", "+441234", at(1, 0)));
    list.observe(&local("192.0.2.7", "NOT_FOUND", at(2, 0)));
    let v4 = list.lookup_ip(ip("192.0.2.7")).expect("seen");
    assert_eq!(v4.local_count, 2);
    assert_eq!(list.lookup_ip(ip("::ffff:192.0.2.7")), Some(v4));
    assert!(list.lookup_ip(ip("2001:db8::7")).is_some());
    assert!(list.lookup_number("0046812118532").is_some());
    assert!(list.lookup_number("46812118532").is_none());
    assert!(list.lookup_number("+441234").is_some() && list.lookup_number("441234").is_none());
    assert!(list.lookup_number("NOT_FOUND").is_none());
    assert_eq!(list.stats().numbers, 2);
    assert_eq!(
        list.lookup(&Key::Number("+441234".into())),
        list.lookup_number("+441234")
    );
}

#[test]
fn debug_output_shows_sizes_not_keys() {
    let list = Blocklist::new(&BlocklistOptions::default());
    let mut report = local("192.0.2.77", "5550001", at(0, 0));
    list.observe(&report);
    report.origin = ObservedOrigin::Remote {
        author: "12D3KooWSecretName",
    };
    list.observe(&report);
    let text = format!("{list:?}");
    for hidden in ["192.0.2.77", "5550001", "12D3KooWSecretName"] {
        assert!(!text.contains(hidden), "{text}");
    }
    assert!(text.contains("cap_per_shard"));
}

#[test]
fn tcp_and_tls_prove_the_source_but_udp_needs_an_echo() {
    let list = Blocklist::new(&BlocklistOptions::default());
    list.observe(&local("192.0.2.1", "100", at(0, 0)));
    assert!(!list.lookup_ip(ip("192.0.2.1")).expect("seen").proven);
    let mut echoed = local("192.0.2.1", "100", at(1, 0));
    echoed.origin = ObservedOrigin::Local {
        transport: Transport::Udp,
        proven: true,
    };
    list.observe(&echoed);
    assert!(list.lookup_ip(ip("192.0.2.1")).expect("seen").proven);
    for (source, transport) in [("192.0.2.2", Transport::Tcp), ("192.0.2.3", Transport::Tls)] {
        let mut stream = local(source, "100", at(2, 0));
        stream.origin = ObservedOrigin::Local {
            transport,
            proven: false,
        };
        list.observe(&stream);
        let view = list.lookup_ip(ip(source)).expect("seen");
        assert!(view.proven && view.seen_on(transport) && !view.seen_on(Transport::Udp));
    }
    // Proof is about a source; the number it dialled is never "proven".
    assert!(!list.lookup_number("100").expect("seen").proven);
}

#[test]
fn remote_reports_record_their_authors() {
    let list = Blocklist::new(&BlocklistOptions::default());
    for author in ["12D3KooWAlice", "12D3KooWBob", "12D3KooWAlice"] {
        let mut report = local("198.51.100.9", "5551234", at(0, 0));
        report.origin = ObservedOrigin::Remote { author };
        list.observe(&report);
    }
    let view = list.lookup_ip(ip("198.51.100.9")).expect("seen");
    assert_eq!((view.local_count, view.remote_count), (0, 3));
    let names: Vec<_> = view
        .authors
        .ids()
        .filter_map(|id| list.author_name(id))
        .collect();
    assert_eq!(
        names,
        [Arc::from("12D3KooWAlice"), Arc::from("12D3KooWBob")]
    );
    assert_eq!(list.stats().authors, 2);
}

#[test]
fn changes_are_numbered_in_order_and_only_for_verdict_relevant_facts() {
    let list = Blocklist::new(&BlocklistOptions {
        count_thresholds: vec![3],
        ..BlocklistOptions::default()
    });
    let mut subscription = list.subscribe();
    list.observe(&local("192.0.2.1", "NOT_FOUND", at(0, 0)));
    list.observe(&local("192.0.2.1", "NOT_FOUND", at(1, 0)));
    list.observe(&local("192.0.2.1", "NOT_FOUND", at(2, 0)));
    let mut invite = local("192.0.2.1", "NOT_FOUND", at(3, 0));
    invite.attack_type = AttackType::CallAttempt;
    list.observe(&invite);
    list.observe(&invite);
    let changes = drain(&mut subscription);
    let kinds: Vec<_> = changes.iter().map(|c| (c.kind, c.reasons)).collect();
    assert_eq!(
        kinds,
        [
            (ChangeKind::New, Reasons::NONE),
            (ChangeKind::Updated, Reasons::COUNT_THRESHOLD),
            (ChangeKind::Updated, Reasons::ATTACK_TYPE),
        ]
    );
    for pair in changes.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    assert_eq!(changes[1].entry.local_count, 3);
    assert_eq!(changes[0].key, Key::Ip(ip("192.0.2.1")));
    assert_eq!(list.stats().next_seq, changes[2].seq + 1);
    assert!(
        changes[0].seq > 1_600_000_000_000_000,
        "numbered from the start time"
    );
}

#[test]
fn resume_replays_exactly_the_changes_after_the_last_id() {
    let list = Blocklist::new(&BlocklistOptions {
        replay_window: 4,
        ..BlocklistOptions::default()
    });
    let mut all = list.subscribe();
    for n in 0..6 {
        list.observe(&local(&format!("192.0.2.{n}"), "NOT_FOUND", at(n, 0)));
    }
    let seqs: Vec<u64> = drain(&mut all).iter().map(|c| c.seq).collect();
    let (missed, mut rest) = list.resume(seqs[3]).expect("within the window");
    assert_eq!(missed.iter().map(|c| c.seq).collect::<Vec<_>>(), &seqs[4..]);
    list.observe(&local("192.0.2.99", "NOT_FOUND", at(9, 0)));
    let next = drain(&mut rest);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].seq, seqs[5] + 1);
    assert!(list.resume(seqs[5] + 1).expect("up to date").0.is_empty());
    assert_eq!(
        list.resume(seqs[0]).err(),
        Some(ReplayError::TooOld {
            last_seen: seqs[0],
            oldest_kept: seqs[3]
        })
    );
    assert!(matches!(
        list.resume(seqs[5] + 2),
        Err(ReplayError::Unknown { .. })
    ));
}

#[test]
fn a_slow_subscriber_is_dropped_and_counted_and_never_waited_for() {
    let list = Blocklist::new(&BlocklistOptions {
        subscriber_lag: 8,
        ..BlocklistOptions::default()
    });
    let mut slow = list.subscribe();
    let mut fast = list.subscribe();
    for n in 0..100u8 {
        list.observe(&local(&format!("192.0.2.{n}"), "NOT_FOUND", at(0, 0)));
        assert!(fast.try_recv().expect("keeps up").is_some());
    }
    assert!(matches!(
        slow.try_recv(),
        Err(SubscriptionEnded::TooSlow { missed: 92 })
    ));
    assert!(slow.try_recv().is_err(), "stays ended");
    let stats = list.stats();
    assert_eq!((stats.subscribers_dropped, stats.subscribers), (1, 1));
}

#[tokio::test]
async fn subscribers_receive_changes_asynchronously() {
    let list = Arc::new(Blocklist::new(&BlocklistOptions::default()));
    let mut subscription = list.subscribe();
    let writer = Arc::clone(&list);
    let task = tokio::spawn(async move {
        writer.observe(&local("192.0.2.1", "100", at(0, 0)));
    });
    let first = subscription.recv().await.expect("a change");
    let second = subscription.recv().await.expect("a change");
    task.await.expect("observer");
    assert_eq!(first.key, Key::Ip(ip("192.0.2.1")));
    assert_eq!(second.key, Key::Number("100".into()));
}

#[test]
fn the_cap_evicts_the_least_recently_seen_counted_and_published() {
    let list = small(64, 64);
    let mut subscription = list.subscribe();
    for n in 0..64u8 {
        list.observe(&local(
            &format!("192.0.2.{n}"),
            "NOT_FOUND",
            at(i64::from(n), 0),
        ));
    }
    // 192.0.2.0 is seen again: now the newest; 192.0.2.1 is the least recently seen.
    list.observe(&local("192.0.2.0", "NOT_FOUND", at(100, 0)));
    drain(&mut subscription);
    list.observe(&local("198.51.100.1", "NOT_FOUND", at(101, 0)));
    assert!(list.lookup_ip(ip("192.0.2.1")).is_none());
    assert!(list.lookup_ip(ip("192.0.2.0")).is_some());
    assert!(list.lookup_ip(ip("198.51.100.1")).is_some());
    let stats = list.stats();
    assert_eq!((stats.ips, stats.evicted_ips), (64, 1));
    let changes = drain(&mut subscription);
    assert_eq!(changes[0].kind, ChangeKind::Evicted);
    assert_eq!(changes[0].key, Key::Ip(ip("192.0.2.1")));
    assert_eq!(changes[1].kind, ChangeKind::New);
}

#[test]
fn a_large_full_shard_evicts_a_sixty_fourth_at_once() {
    let list = small(640, 16);
    for n in 0..641u32 {
        let source = std::net::Ipv4Addr::from(0x0a00_0000 + n).to_string();
        list.observe(&local(&source, "NOT_FOUND", at(i64::from(n), 0)));
    }
    let stats = list.stats();
    assert_eq!((stats.evicted_ips, stats.ips), (10, 631));
    for n in 0..10u32 {
        let evicted = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
        assert!(list.lookup_ip(evicted).is_none());
    }
}

#[test]
fn expiry_removes_keys_older_than_retention_and_publishes_them() {
    let list = Blocklist::new(&BlocklistOptions {
        retention: Some(Duration::from_secs(3600)),
        ..BlocklistOptions::default()
    });
    list.observe(&local("192.0.2.1", "111", at(0, 0)));
    list.observe(&local("192.0.2.2", "222", at(3000, 0)));
    let mut subscription = list.subscribe();
    let removed = list.expire(at(3601, 0));
    let keys: Vec<_> = removed.iter().map(|c| c.key.clone()).collect();
    assert_eq!(keys, [Key::Ip(ip("192.0.2.1")), Key::Number("111".into())]);
    assert!(removed.iter().all(|c| c.kind == ChangeKind::Expired));
    assert_eq!(drain(&mut subscription), removed);
    assert!(list.lookup_ip(ip("192.0.2.1")).is_none());
    assert!(list.lookup_ip(ip("192.0.2.2")).is_some());
    assert_eq!(list.stats().expired, 2);
    let keep_forever = Blocklist::new(&BlocklistOptions {
        retention: None,
        ..BlocklistOptions::default()
    });
    keep_forever.observe(&local("192.0.2.1", "111", at(0, 0)));
    assert!(keep_forever.expire(at(1 << 30, 0)).is_empty());
}

#[test]
fn a_flush_keeps_what_eviction_and_expiry_removed() {
    let list = small(1, 1);
    list.observe(&local("192.0.2.1", "111", at(0, 0)));
    list.observe(&local("192.0.2.2", "222", at(1, 0)));
    assert_eq!(list.stats().evicted_ips, 1);
    list.expire(at(1 << 30, 0));
    let flush = list.take_changed();
    assert_eq!(flush.ips.len(), 2);
    assert_eq!(flush.numbers.len(), 2);
    assert!(list.take_changed().is_empty());
}

#[test]
fn loading_fills_the_table_without_changes_or_pending_tallies() {
    let list = small(2, 8);
    let mut subscription = list.subscribe();
    fn row<K>(key: K, local_count: u64, remote_count: u64) -> AggregateRow<K> {
        AggregateRow {
            key,
            seen_count: local_count + remote_count,
            first_seen: at(0, 0),
            last_seen: at(10, 0),
            local_count,
            local_last_seen: (local_count > 0).then(|| at(10, 0)),
            remote_count,
            remote_last_seen: (remote_count > 0).then(|| at(5, 0)),
            attack_types: AttackType::Scan.bit(),
            transports: 0,
            proven: false,
            authors: ["peerA", "peerB", "peerA"].map(Arc::from).to_vec(),
        }
    }
    let report = list.load_numbers([row("111", 3, 2), row("NOT_FOUND", 1, 0), row("222", 0, 0)]);
    assert_eq!(
        report,
        LoadReport {
            loaded: 1,
            skipped: 2,
            evicted: 0
        }
    );
    let view = list.lookup_number("111").expect("loaded");
    assert_eq!((view.local_count, view.remote_count), (3, 2));
    assert_eq!(view.authors.distinct_at_least(), 2);
    assert_eq!(view.last_seen, at(10, 0));
    assert_eq!(view.remote_last_seen, Some(at(5, 0)));
    let ips = (0..3).map(|n| row(ip(&format!("::ffff:192.0.2.{n}")), 1, 0));
    assert_eq!(list.load_ips(ips).evicted, 1);
    assert!(list.lookup_ip(ip("192.0.2.2")).is_some());
    assert!(drain(&mut subscription).is_empty());
    assert!(list.take_changed().is_empty());
}

/// One generated event: source index, number index, local or remote author, seconds, nanos.
fn event() -> impl Strategy<Value = (u8, u8, Option<u8>, i64, i32)> {
    (
        0..8u8,
        0..8u8,
        proptest::option::of(0..3u8),
        0..1000i64,
        0..1_000_000_000i32,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn flushes_add_up_to_exactly_the_observations(
        events in proptest::collection::vec(event(), 1..200),
        flush_every in 1..50usize,
    ) {
        let list = Blocklist::new(&BlocklistOptions::default());
        // Expected per IP: (local, remote, first, last).
        let mut expected: HashMap<IpAddr, (u64, u64, Timestamp, Timestamp)> = HashMap::new();
        let mut flushed: HashMap<IpAddr, (u64, u64, Timestamp, Timestamp)> = HashMap::new();
        let mut numbers_counted = 0;
        for (n, (source, number, author, seconds, nanos)) in events.iter().enumerate() {
            let source = ip(&format!("192.0.2.{source}"));
            let number = format!("+{number}");
            let author = author.map(|a| format!("peer{a}"));
            let when = at(*seconds, *nanos);
            let origin = match &author {
                Some(author) => ObservedOrigin::Remote { author },
                None => ObservedOrigin::Local { transport: Transport::Udp, proven: false },
            };
            list.observe(&Observation {
                at: when,
                source: Some(source),
                called_number: Some(&number),
                attack_type: AttackType::Scan,
                origin,
            });
            let slot = expected.entry(source).or_insert((0, 0, when, when));
            if author.is_some() { slot.1 += 1 } else { slot.0 += 1 }
            slot.2 = slot.2.min(when);
            slot.3 = slot.3.max(when);
            if n % flush_every == 0 {
                let flush = list.take_changed();
                numbers_counted += flush.numbers.iter().map(|row| row.seen_count).sum::<u64>();
                for row in flush.ips {
                    prop_assert_eq!(row.seen_count, row.local_count + row.remote_count);
                    let slot = flushed.entry(row.key).or_insert((0, 0, row.first_seen, row.last_seen));
                    slot.0 += row.local_count;
                    slot.1 += row.remote_count;
                    slot.2 = slot.2.min(row.first_seen);
                    slot.3 = slot.3.max(row.last_seen);
                }
            }
        }
        let flush = list.take_changed();
        numbers_counted += flush.numbers.iter().map(|row| row.seen_count).sum::<u64>();
        for row in flush.ips {
            let slot = flushed.entry(row.key).or_insert((0, 0, row.first_seen, row.last_seen));
            slot.0 += row.local_count;
            slot.1 += row.remote_count;
            slot.2 = slot.2.min(row.first_seen);
            slot.3 = slot.3.max(row.last_seen);
        }
        prop_assert_eq!(&flushed, &expected);
        prop_assert_eq!(numbers_counted, events.len() as u64);
        for (source, (local, remote, _, _)) in expected {
            let view = list.lookup_ip(source).expect("held");
            prop_assert_eq!((u64::from(view.local_count), u64::from(view.remote_count)), (local, remote));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_cap_holds_and_every_key_is_held_or_evicted(
        events in proptest::collection::vec((0..200u8, 0..1000i64), 1..400),
        cap in 1..80usize,
    ) {
        let list = small(cap, 8);
        let mut subscription = list.subscribe();
        for (source, seconds) in &events {
            let source = format!("10.0.{}.{}", source / 100, source % 100);
            list.observe(&local(&source, "NOT_FOUND", at(*seconds, 0)));
            prop_assert!(list.stats().ips <= cap);
        }
        let changes = drain(&mut subscription);
        let count = |kind| changes.iter().filter(|c| c.kind == kind).count();
        let stats = list.stats();
        prop_assert_eq!(count(ChangeKind::New), stats.ips + count(ChangeKind::Evicted));
        prop_assert_eq!(count(ChangeKind::Evicted) as u64, stats.evicted_ips);
        // Each event is flushed once, or counted as lost when more than twice the cap of
        // distinct keys came between two flushes.
        let in_flush: u64 = list.take_changed().ips.iter().map(|row| row.seen_count).sum();
        prop_assert_eq!(in_flush + list.stats().flush_overflow, events.len() as u64);
        let distinct: std::collections::HashSet<_> = events.iter().map(|(source, _)| source).collect();
        if distinct.len() <= 2 * cap {
            prop_assert_eq!(list.stats().flush_overflow, 0);
        }
    }

    #[test]
    fn expiry_removes_exactly_the_keys_older_than_the_window(
        seen in proptest::collection::vec(0..10_000i64, 1..100),
        now in 0..20_000i64,
    ) {
        let retention = 5_000;
        let list = Blocklist::new(&BlocklistOptions {
            retention: Some(Duration::from_secs(retention)),
            ..BlocklistOptions::default()
        });
        for (n, seconds) in seen.iter().enumerate() {
            list.observe(&local(&format!("10.1.{}.{}", n / 100, n % 100), "NOT_FOUND", at(*seconds, 0)));
        }
        let cutoff = now - i64::try_from(retention).expect("small");
        let removed = list.expire(at(now, 0));
        let expected = seen.iter().filter(|seconds| **seconds < cutoff).count();
        prop_assert_eq!(removed.len(), expected);
        for change in &removed {
            prop_assert!(change.entry.last_seen < at(cutoff, 0));
        }
        list.for_each_ip(|_, view| {
            assert!(view.last_seen >= at(cutoff, 0));
            ControlFlow::Continue(())
        });
        prop_assert_eq!(list.stats().ips, seen.len() - expected);
    }
}
