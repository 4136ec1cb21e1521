//! A quick insert-rate measurement, not a test: 100,000 events with realistic repetition (5,000
//! source IPs, 50,000 called numbers) through the writer's insert, batches of 1,000, into a temp
//! file database. Run with `cargo test --release --lib -- --ignored --nocapture insert_rate`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::{temp_db, udp_invite};
use crate::event::BadActor;
use crate::store;

const EVENTS: usize = 100_000;
const BATCH: usize = 1000;
const IPS: u64 = 5000;
const NUMBERS: u64 = 50_000;

/// xorshift64*: deterministic and good enough to spread keys.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn events() -> Vec<Arc<BadActor>> {
    let start: Timestamp = "2024-06-01T00:00:00Z".parse().expect("timestamp");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..EVENTS)
        .map(|n| {
            let ip = u32::try_from(next(&mut state) % IPS).expect("small") + 0x0a00_0000;
            let number = format!("00{}", 44_700_000_000 + next(&mut state) % NUMBERS);
            let offset = SignedDuration::from_millis(i64::try_from(n).expect("small"));
            Arc::new(BadActor {
                event_timestamp: start.checked_add(offset).expect("in range"),
                event_uuid: Uuid::now_v7(),
                source: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), 5060),
                sip_message: format!(
                    "INVITE sip:{number}@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{n}\r\nFrom: <sip:100@10.0.0.1>;tag=1\r\nTo: <sip:{number}@192.0.2.10>\r\nCall-ID: {n}@10.0.0.1\r\nCSeq: 1 INVITE\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
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
    let events = events();
    let started = Instant::now();
    for batch in events.chunks(BATCH) {
        store::writer::insert_events(&mut conn, batch).expect("insert");
    }
    let took = started.elapsed();
    let rate = EVENTS as f64 / took.as_secs_f64();
    println!("insert_rate: {EVENTS} events in {took:?} = {rate:.0} events/s");
    assert_eq!(store::count_events(&conn).expect("count"), 100_000);
}
