//! Benchmark (not a test): the aggregate tables at the live blocklist's default caps, written by
//! the store writer from aggregate flushes, then read back at "start-up" into a blocklist: time,
//! rows per second and RSS.
//!
//! ```text
//! cargo run --release --example aggregate_load -- DB_FILE            # 1,048,576 IPs, 5,242,880 numbers
//! cargo run --release --example aggregate_load -- DB_FILE IPS NUMBERS
//! ```
//!
//! When `DB_FILE` does not exist it is built first: the writer (`store::run_writer`, no events)
//! pulls flushes of 100,000 new keys each from a synthetic source until every key is written
//! (IP `n` is `10.0.0.0 + n`, number `n` is `00` followed by `4600000000 + n`, last seen within
//! the past day, one key in a hundred reported by a peer). Then `RUNS` (default 3) fresh
//! processes each load every row into a blocklist with the default caps
//! (`Blocklist::load_from_store`, chunk by chunk, as the daemon does at start) and report the
//! time and their RSS before and after; the median is printed last.

#[allow(dead_code, reason = "only the median is used here")]
#[path = "loadgen/report.rs"]
mod report;
#[path = "support/settings.rs"]
mod settings;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use sentrypeer::blocklist::{Blocklist, BlocklistOptions};
use sentrypeer::store::{
    self, AggregateFlush, AggregateRow, AggregateSource, StoreStats, WriterOptions,
};

/// Keys per synthetic flush.
const FLUSH_KEYS: u64 = 100_000;

/// Hands out rows for keys not written yet, `FLUSH_KEYS` at a time: IPs first, then numbers.
struct Keys {
    next: Mutex<(u64, u64)>,
    ips: u64,
    numbers: u64,
    now: Timestamp,
}

impl Keys {
    fn row<K>(&self, key: K, n: u64) -> AggregateRow<K> {
        let last = self.now - SignedDuration::from_secs(i64::try_from(n % 86_400).unwrap_or(0));
        let remote = n.is_multiple_of(100);
        AggregateRow {
            key,
            seen_count: 1 + n % 7,
            first_seen: last - SignedDuration::from_mins(5),
            last_seen: last,
            local_count: if remote { 0 } else { 1 + n % 7 },
            local_last_seen: (!remote).then_some(last),
            remote_count: if remote { 1 + n % 7 } else { 0 },
            remote_last_seen: remote.then_some(last),
            attack_types: 1 << (n % 6),
            transports: if remote { 0 } else { 1 },
            proven: false,
            authors: if remote {
                vec![Arc::from("12D3KooWBenchPeer")]
            } else {
                Vec::new()
            },
            more_authors: false,
        }
    }
}

impl AggregateSource for Keys {
    fn take(&self) -> AggregateFlush {
        let mut next = self.next.lock().expect("lock");
        let mut flush = AggregateFlush::default();
        let (ip, number) = &mut *next;
        while flush.ips.len() < FLUSH_KEYS as usize && *ip < self.ips {
            let address = IpAddr::V4(Ipv4Addr::from(
                0x0a00_0000 + u32::try_from(*ip).unwrap_or(0),
            ));
            flush.ips.push(self.row(address, *ip));
            *ip += 1;
        }
        while flush.len() < FLUSH_KEYS as usize && *number < self.numbers {
            let key: Box<str> = format!("00{}", 4_600_000_000 + *number).into();
            flush.numbers.push(self.row(key, *number));
            *number += 1;
        }
        flush
    }
}

impl Keys {
    fn done(&self) -> bool {
        let next = self.next.lock().expect("lock");
        next.0 >= self.ips && next.1 >= self.numbers
    }
}

/// Writes every key through the writer, pulling every 10 ms.
fn build(path: &Path, ips: u64, numbers: u64) -> anyhow::Result<()> {
    let keys = Arc::new(Keys {
        next: Mutex::new((0, 0)),
        ips,
        numbers,
        now: Timestamp::now(),
    });
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let options = WriterOptions {
        retention_days: 0,
        aggregate_source: Some(Arc::clone(&keys) as Arc<dyn AggregateSource>),
        aggregate_flush_interval: Duration::from_millis(10),
        ..WriterOptions::default()
    };
    let stats = Arc::new(StoreStats::default());
    let started = Instant::now();
    let writer = store::spawn_writer(
        store::open(path).context("create")?,
        receiver,
        options,
        Arc::clone(&stats),
    )?;
    while !keys.done() {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(sender);
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    let rows = stats
        .aggregate_rows
        .load(std::sync::atomic::Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "built: {rows} aggregate rows in {seconds:.1} s ({:.0} rows/s through the writer)",
        rows as f64 / seconds
    );
    Ok(())
}

/// Resident set size of this process, in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0)
        * 1024
}

/// One load into a fresh blocklist; prints `seconds rss_before rss_after keys`.
fn load_once(path: &Path) -> anyhow::Result<()> {
    let conn = store::open_read_only(path).context("open")?;
    let blocklist = Blocklist::new(&BlocklistOptions::default());
    let before = rss_bytes();
    let started = Instant::now();
    let keys = blocklist.load_from_store(&conn, None)?.loaded;
    let seconds = started.elapsed().as_secs_f64();
    println!("{seconds} {before} {} {keys}", rss_bytes());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (db, ips, numbers) = match args.as_slice() {
        [db] => (db, 1 << 20, 5 << 20),
        [db, ips, numbers] => (db, ips.parse()?, numbers.parse()?),
        _ => bail!("usage: aggregate_load DB_FILE [IPS NUMBERS]"),
    };
    let path = Path::new(db);
    if std::env::var_os("LOAD_CHILD").is_some() {
        return load_once(path);
    }
    if !path.exists() {
        build(path, ips, numbers)?;
    }
    let (mut times, mut grown, mut per_key) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=settings::runs() {
        let output = Command::new(std::env::current_exe()?)
            .args(&args)
            .env("LOAD_CHILD", "1")
            .output()?;
        let line = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [seconds, before, after, keys] = fields[..] else {
            bail!("load failed: {}", String::from_utf8_lossy(&output.stderr));
        };
        let mib = (after - before) / 1_048_576.0;
        println!(
            "run {run}: {keys:.0} keys in {seconds:.2} s ({:.0} keys/s), RSS {:.0} -> {:.0} MiB (+{mib:.0} MiB, {:.0} bytes per key)",
            keys / seconds,
            before / 1_048_576.0,
            after / 1_048_576.0,
            (after - before) / keys
        );
        times.push(seconds);
        grown.push(mib);
        per_key.push((after - before) / keys);
    }
    println!(
        "aggregate_load: median {:.2} s, RSS +{:.0} MiB, {:.0} bytes per key",
        report::median(times),
        report::median(grown),
        report::median(per_key)
    );
    Ok(())
}
