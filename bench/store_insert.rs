//! A quick insert-rate measurement, not a test: events through the writer's insert, a batch per
//! transaction, into a temp file database. Defaults: 100,000 INVITEs with realistic repetition
//! (5,000 source IPs, 50,000 called numbers), batches of 1,000. Run with
//! `cargo test --release --lib -- --ignored --nocapture insert_rate`; the environment variables
//! `EVENTS`, `BATCH`, `IPS`, `NUMBERS`, `INVITE_PERCENT` (the rest are OPTIONS to `100`, as
//! `bench/loadgen`'s mix sends), `PADDING` (bytes added to each message), `PRESEED` (events
//! stored first, untimed, so the tables start that big) and `CACHE_KIB` (the writer's page
//! cache) change the shape.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::{temp_db, udp_invite};
use crate::event::BadActor;
use crate::store;

/// A parameter from the environment, or its default.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds this thread has used (user + system), from `/proc/thread-self/stat`; the
/// measurement reports events per CPU second too, which a busy machine disturbs less.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // utime and stime: the 14th and 15th fields, 11th and 12th numeric ones after the name.
    (fields.get(10).unwrap_or(&0.0) + fields.get(11).unwrap_or(&0.0)) / 100.0
}

/// xorshift64*: deterministic and good enough to spread keys.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// `count` events from `first` on, one millisecond apart.
fn events(first: u64, count: u64, state: &mut u64) -> Vec<Arc<BadActor>> {
    let (ips, numbers) = (setting("IPS", 5000), setting("NUMBERS", 50_000));
    let invite_percent = setting("INVITE_PERCENT", 100);
    let padding = usize::try_from(setting("PADDING", 0)).unwrap_or(0);
    let start: Timestamp = "2024-06-01T00:00:00Z".parse().expect("timestamp");
    (first..first + count)
        .map(|n| {
            let ip = u32::try_from(next(state) % ips).expect("small") + 0x0a00_0000;
            let number = if next(state) % 100 < invite_percent {
                format!("00{}", 44_700_000_000 + next(state) % numbers)
            } else {
                "100".to_owned()
            };
            let offset = SignedDuration::from_millis(i64::try_from(n).expect("small"));
            Arc::new(BadActor {
                event_timestamp: start.checked_add(offset).expect("in range"),
                event_uuid: Uuid::now_v7(),
                source: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), 5060),
                sip_message: format!(
                    "INVITE sip:{number}@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{n}\r\nFrom: <sip:100@10.0.0.1>;tag=1\r\nTo: <sip:{number}@192.0.2.10>\r\nCall-ID: {n}@10.0.0.1\r\nCSeq: 1 INVITE\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n{}",
                    "v".repeat(padding)
                ),
                called_number: number,
                ..udp_invite("2024-06-01T00:00:00Z")
            })
        })
        .collect()
}

#[test]
#[ignore = "measurement, run in release with --ignored --nocapture"]
fn insert_rate() {
    let (_dir, path) = temp_db();
    let mut conn = store::open(&path).expect("open");
    let (count, batch, preseed) = (
        setting("EVENTS", 100_000),
        setting("BATCH", 1000),
        setting("PRESEED", 0),
    );
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for chunk in events(0, preseed, &mut state).chunks(10_000) {
        store::writer::insert_events(&mut conn, chunk).expect("preseed");
    }
    if let Ok(pages) = std::env::var("AUTOCHECKPOINT") {
        conn.execute_batch(&format!("PRAGMA wal_autocheckpoint = {pages}"))
            .expect("autocheckpoint");
    }
    if let Ok(kib) = std::env::var("CACHE_KIB") {
        conn.execute_batch(&format!("PRAGMA cache_size = -{kib}"))
            .expect("cache size");
    }
    let events = events(preseed, count, &mut state);
    let started = Instant::now();
    let cpu = thread_cpu_seconds();
    for chunk in events.chunks(usize::try_from(batch).expect("batch")) {
        store::writer::insert_events(&mut conn, chunk).expect("insert");
    }
    let took = started.elapsed();
    let cpu = thread_cpu_seconds() - cpu;
    let rate = count as f64 / took.as_secs_f64();
    println!(
        "insert_rate: {count} events (batch {batch}) in {took:?} = {rate:.0} events/s, {:.0} events per CPU second",
        count as f64 / cpu.max(0.01)
    );
    assert_eq!(store::count_events(&conn).expect("count"), preseed + count);
}
