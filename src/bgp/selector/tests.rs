use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::bgp::stats::SpeakerStatus;
use crate::blocklist::{
    BlocklistOptions, ConsumerOptions, NeverList, Observation, ObservedOrigin, VerdictOptions,
};
use crate::event::Transport;
use crate::sip::AttackType;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("valid")
}

fn probe(list: &Blocklist, source: &str, transport: Transport, seconds: i64) {
    list.observe(&Observation {
        at: at(seconds),
        source: Some(ip(source)),
        called_number: None,
        attack_type: AttackType::Scan,
        origin: ObservedOrigin::Local {
            transport,
            proven: false,
        },
    });
}

/// A selector over a fresh blocklist: documentation addresses count, `never` is never
/// announced, `max_age` as given, a table of `cap` routes.
fn selector(cap: usize, max_age: Option<Duration>, never: &[&str]) -> Selector {
    let blocklist = Arc::new(Blocklist::new(&BlocklistOptions::default()));
    let node = VerdictOptions {
        include_special_addresses: true,
        ..VerdictOptions::default()
    };
    let mut consumer = ConsumerOptions::bgp();
    consumer.max_age = max_age;
    consumer.never = NeverList {
        networks: never
            .iter()
            .map(|net| net.parse().expect("network"))
            .collect(),
        numbers: Vec::new(),
    };
    let table = Arc::new(RouteTable::new(cap));
    Selector {
        policy: Policy::new(&node, &consumer, &blocklist),
        blocklist,
        counters: Arc::new(SpeakerStatus {
            options: crate::bgp::BgpOptions {
                local_as: 64512,
                router_id: std::net::Ipv4Addr::new(192, 0, 2, 10),
                next_hop_v4: std::net::Ipv4Addr::new(192, 0, 2, 1),
                next_hop_v6: "100::1".parse().expect("address"),
                communities: Vec::new(),
                large_communities: Vec::new(),
                max_routes: cap,
                peers: Vec::new(),
            },
            table: Arc::clone(&table),
            counters: SpeakerCounters::default(),
            peers: Vec::new(),
        }),
        table,
    }
}

fn drain(selector: &Selector, changes: &mut crate::blocklist::Subscription, now: Timestamp) {
    while let Some(change) = changes.try_recv().expect("subscribed") {
        selector.apply(&change, now);
    }
}

fn sorted(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    ips.sort();
    ips
}

#[test]
fn proven_sources_are_announced_from_the_change_stream_and_udp_only_ones_are_not() {
    let selector = selector(10, None, &["198.51.100.0/24"]);
    let mut changes = selector.blocklist.subscribe();
    probe(&selector.blocklist, "192.0.2.7", Transport::Tcp, 0);
    probe(&selector.blocklist, "2001:db8::7", Transport::Tls, 0);
    probe(&selector.blocklist, "192.0.2.8", Transport::Udp, 0);
    probe(&selector.blocklist, "198.51.100.9", Transport::Tcp, 0);
    drain(&selector, &mut changes, at(1));
    assert_eq!(
        sorted(selector.table.ips()),
        vec![ip("192.0.2.7"), ip("2001:db8::7")],
        "UDP-only and never-listed sources stay out"
    );
    // The UDP source then speaks TCP: proven, announced.
    probe(&selector.blocklist, "192.0.2.8", Transport::Tcp, 2);
    drain(&selector, &mut changes, at(3));
    assert!(selector.table.ips().contains(&ip("192.0.2.8")));
}

#[test]
fn expiry_withdraws_and_the_sweep_withdraws_what_max_age_left_behind() {
    let selector = selector(10, Some(Duration::from_secs(60)), &[]);
    let mut changes = selector.blocklist.subscribe();
    probe(&selector.blocklist, "192.0.2.7", Transport::Tcp, 0);
    probe(&selector.blocklist, "192.0.2.8", Transport::Tcp, 50);
    drain(&selector, &mut changes, at(55));
    assert_eq!(selector.table.len(), 2);
    // No change is published when max_age runs out: the sweep finds it.
    selector.sweep(at(100));
    assert_eq!(selector.table.ips(), vec![ip("192.0.2.8")]);
    assert_eq!(selector.counters().withdrawn.load(Ordering::Relaxed), 1);
}

#[test]
fn a_full_read_replaces_the_table_and_counts_what_the_cap_turned_away() {
    let selector = selector(2, None, &[]);
    for (n, seconds) in [(1, 10), (2, 30), (3, 20)] {
        probe(
            &selector.blocklist,
            &format!("192.0.2.{n}"),
            Transport::Tcp,
            seconds,
        );
    }
    selector.table.announce(ip("203.0.113.99"), 0);
    selector.refill(at(40));
    assert_eq!(
        sorted(selector.table.ips()),
        vec![ip("192.0.2.2"), ip("192.0.2.3")]
    );
    assert_eq!(selector.counters().capped.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn the_running_selector_fills_the_table_then_follows_changes() {
    let selector = selector(10, None, &[]);
    probe(&selector.blocklist, "192.0.2.1", Transport::Tcp, 0);
    let stop = CancellationToken::new();
    let task = tokio::spawn(selector.clone().run(stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while selector.table.len() < 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    probe(&selector.blocklist, "192.0.2.2", Transport::Tcp, 1);
    while selector.table.len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        sorted(selector.table.ips()),
        vec![ip("192.0.2.1"), ip("192.0.2.2")]
    );
    stop.cancel();
    task.await.expect("selector ends");
}
