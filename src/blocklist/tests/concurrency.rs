//! Several threads observing while another looks up and a subscriber reads the stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use super::*;

const THREADS: usize = 4;
const EVENTS_PER_THREAD: usize = 5_000;
const SOURCES: usize = 300;

fn source(n: usize) -> IpAddr {
    IpAddr::from(std::net::Ipv4Addr::from(
        0x0a00_0000 + u32::try_from(n).expect("small"),
    ))
}

#[test]
fn concurrent_observers_lose_nothing_and_publish_each_key_in_order() {
    let list = Blocklist::new(&BlocklistOptions {
        count_thresholds: vec![2, 10, 100, 1000],
        subscriber_lag: 1 << 20,
        shards: 8,
        ..BlocklistOptions::default()
    });
    let mut subscription = list.subscribe();
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let lookups = scope.spawn(|| {
            let mut seen: HashMap<usize, u64> = HashMap::new();
            let mut lookups = 0u64;
            while !done.load(Ordering::Relaxed) {
                for n in (0..SOURCES).step_by(7) {
                    lookups += 1;
                    if let Some(view) = list.lookup_ip(source(n)) {
                        let previous = seen.insert(n, view.count()).unwrap_or(0);
                        assert!(view.count() >= previous, "counts never go back");
                    }
                }
            }
            lookups
        });
        let observers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let list = &list;
                scope.spawn(move || {
                    for n in 0..EVENTS_PER_THREAD {
                        let key = (n * 31 + thread * 17) % SOURCES;
                        let number = format!("{}", 1000 + key % 50);
                        let mut observation = local(
                            &source(key).to_string(),
                            &number,
                            at(i64::try_from(n).expect("small"), 0),
                        );
                        if n % 3 == 0 {
                            observation.attack_type = AttackType::CallAttempt;
                        }
                        list.observe(&observation);
                    }
                })
            })
            .collect();
        for observer in observers {
            observer.join().expect("observer");
        }
        done.store(true, Ordering::Relaxed);
        assert!(lookups.join().expect("lookups") > 0);
    });

    let total = THREADS * EVENTS_PER_THREAD;
    let mut counted = 0;
    list.for_each_ip(|_, view| {
        counted += view.count();
        ControlFlow::Continue(())
    });
    assert_eq!(counted, total as u64);
    assert_eq!(list.stats().ips, SOURCES);

    let changes = drain(&mut subscription);
    for pair in changes.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "no gaps, no reordering");
    }
    let mut last_count: HashMap<Key, u64> = HashMap::new();
    let mut new_keys = 0;
    for change in &changes {
        if change.kind == ChangeKind::New {
            new_keys += 1;
            assert!(!last_count.contains_key(&change.key), "one New per key");
        }
        let previous = last_count.insert(change.key.clone(), change.entry.count());
        assert!(
            change.entry.count() >= previous.unwrap_or(0),
            "a key's changes in order"
        );
    }
    assert_eq!(new_keys, SOURCES + 50);

    let flush = list.take_changed();
    let flushed: u64 = flush.ips.iter().map(|row| row.seen_count).sum();
    assert_eq!(flushed, total as u64);
    let numbers: u64 = flush.numbers.iter().map(|row| row.seen_count).sum();
    assert_eq!(numbers, total as u64);
}
