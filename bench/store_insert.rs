//! Micro-benchmark: the store writer's insert rate (not a test), into a fresh temp-file database
//! each run; prints each run and the median.
//!
//! ```text
//! cargo run --release --example store_insert
//! MODE=writer BATCH=10000 cargo run --release --example store_insert
//! EVENTS=200000 BATCH=500 RUNS=5 cargo run --release --example store_insert
//! ```
//!
//! Two modes:
//!
//! - `MODE=direct` (default): the events go through `store::writer::insert_events`, a batch per
//!   call, on this thread: raw rows, rollups and each batch's own aggregate rows (the writer
//!   without an aggregate source). CPU is this thread's.
//! - `MODE=writer`: the daemon's path. The events are first observed by a live blocklist
//!   (untimed: capture pays that), then queued, and the writer (`store::run_writer`, with its
//!   checkpoint thread) stores them in batches of up to `BATCH`, pulling the blocklist's
//!   aggregate rows every second and at the end. CPU is the whole process's (writer and
//!   checkpoint threads).
//!
//! Defaults: 100,000 INVITEs with realistic repetition (5,000 source IPs, 50,000 called
//! numbers), batches of 1,000, 3 runs. The environment variables `EVENTS`, `BATCH`, `IPS`,
//! `NUMBERS`, `INVITE_PERCENT` (the rest are OPTIONS-like calls to `100`, as `bench/loadgen`'s mix
//! sends), `PADDING` (bytes added to each message), `PRESEED` (events stored first, untimed, so
//! the tables start that big), `CACHE_KIB` (the writer's page cache, direct mode),
//! `AUTOCHECKPOINT` (WAL pages, direct mode) and `RUNS` change the shape.

#[path = "support/events.rs"]
mod events;
#[allow(dead_code, reason = "only the median is used here")]
#[path = "loadgen/report.rs"]
mod report;
#[path = "support/settings.rs"]
mod settings;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use sentrypeer::blocklist::{Blocklist, BlocklistOptions, Observation};
use sentrypeer::event::BadActor;
use sentrypeer::store::{self, AggregateSource, StoreStats, WriterOptions};
use settings::setting;

/// CPU seconds this thread has used (user + system), from `/proc/thread-self/stat`; each run
/// reports events per CPU second too, which a busy machine disturbs less.
fn thread_cpu_seconds() -> f64 {
    cpu_seconds("/proc/thread-self/stat")
}

/// CPU seconds the whole process has used (every thread).
fn process_cpu_seconds() -> f64 {
    cpu_seconds("/proc/self/stat")
}

/// User + system CPU seconds from a `stat` file.
fn cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
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
    let padding = "v".repeat(usize::try_from(setting("PADDING", 0)).unwrap_or(0));
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
            let message = format!(
                "INVITE sip:{number}@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{n}\r\nFrom: <sip:100@10.0.0.1>;tag=1\r\nTo: <sip:{number}@192.0.2.10>\r\nCall-ID: {n}@10.0.0.1\r\nCSeq: 1 INVITE\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n{padding}"
            );
            Arc::new(events::invite(
                start.checked_add(offset).expect("in range"),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), 5060),
                &number,
                message,
            ))
        })
        .collect()
}

/// One run of the writer's thread over `events`, queued beforehand, with a blocklist that has
/// observed them as its aggregate source: events per second (wall clock) and per CPU second of
/// the whole process.
fn run_writer_once(
    conn: rusqlite::Connection,
    events: Vec<Arc<BadActor>>,
    batch: u64,
) -> anyhow::Result<(f64, f64)> {
    let count = events.len() as f64;
    let blocklist = Arc::new(Blocklist::new(&BlocklistOptions::default()));
    let (sender, receiver) = std::sync::mpsc::channel();
    for event in events {
        blocklist.observe(&Observation::from_event(&event, false));
        sender.send(event).context("queue")?;
    }
    drop(sender);
    let options = WriterOptions {
        batch_max: usize::try_from(batch)?,
        retention_days: 0,
        aggregate_source: Some(blocklist as Arc<dyn AggregateSource>),
        ..WriterOptions::default()
    };
    let stats = StoreStats::default();
    let started = Instant::now();
    let cpu = process_cpu_seconds();
    store::run_writer(conn, &receiver, &options, &stats).context("writer")?;
    let took = started.elapsed();
    let cpu = process_cpu_seconds() - cpu;
    Ok((count / took.as_secs_f64(), count / cpu.max(0.01)))
}

/// One run into a fresh database: events per second (wall clock) and per CPU second.
fn run_once() -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let mut conn = store::open(&dir.path().join("sentrypeer.db")).context("open")?;
    let (count, batch, preseed) = (
        setting("EVENTS", 100_000),
        setting("BATCH", 1000),
        setting("PRESEED", 0),
    );
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for chunk in events(0, preseed, &mut state).chunks(10_000) {
        store::writer::insert_events(&mut conn, chunk).context("preseed")?;
    }
    if let Ok(pages) = std::env::var("AUTOCHECKPOINT") {
        conn.execute_batch(&format!("PRAGMA wal_autocheckpoint = {pages}"))?;
    }
    if let Ok(kib) = std::env::var("CACHE_KIB") {
        conn.execute_batch(&format!("PRAGMA cache_size = -{kib}"))?;
    }
    let events = events(preseed, count, &mut state);
    if std::env::var("MODE").as_deref() == Ok("writer") {
        let rates = run_writer_once(conn, events, batch)?;
        let conn = store::open_read_only(&dir.path().join("sentrypeer.db")).context("reopen")?;
        anyhow::ensure!(
            store::count_events(&conn)? == preseed + count,
            "every event stored"
        );
        return Ok(rates);
    }
    let started = Instant::now();
    let cpu = thread_cpu_seconds();
    for chunk in events.chunks(usize::try_from(batch)?) {
        store::writer::insert_events(&mut conn, chunk).context("insert")?;
    }
    let took = started.elapsed();
    let cpu = thread_cpu_seconds() - cpu;
    anyhow::ensure!(
        store::count_events(&conn)? == preseed + count,
        "every event stored"
    );
    Ok((
        count as f64 / took.as_secs_f64(),
        count as f64 / cpu.max(0.01),
    ))
}

fn main() -> anyhow::Result<()> {
    let runs = settings::runs();
    let (mut rates, mut per_cpu) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let (rate, cpu_rate) = run_once()?;
        println!("run {run}: {rate:.0} events/s, {cpu_rate:.0} events per CPU second");
        rates.push(rate);
        per_cpu.push(cpu_rate);
    }
    println!(
        "store_insert ({} mode): {} events (batch {}), median of {runs}: {:.0} events/s, {:.0} events per CPU second",
        std::env::var("MODE").unwrap_or_else(|_| "direct".to_owned()),
        setting("EVENTS", 100_000),
        setting("BATCH", 1000),
        report::median(rates),
        report::median(per_cpu)
    );
    Ok(())
}
