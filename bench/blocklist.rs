//! Benchmark of the live blocklist (`src/blocklist/`): `observe` per event on one thread and on
//! two, point lookups, and memory per key with 1 M IPs and 5 M numbers. Medians of 3 runs; each
//! memory run is a fresh process (this program started again), so freed memory of one run
//! cannot hide in the next. Times are each thread's CPU time (wall time beside it where it
//! means something), so the figures hold on a machine other work is loading.
//!
//! ```text
//! cargo run --release --example blocklist
//! ```

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::Timestamp;
use rustix::time::{ClockId, clock_gettime};
use sentrypeer::blocklist::{Blocklist, BlocklistOptions, Observation, ObservedOrigin};
use sentrypeer::event::Transport;
use sentrypeer::sip::AttackType;

/// Events per `observe` run.
const EVENTS: usize = 2_000_000;
/// Distinct sources and numbers in the `observe` runs (the issue's flood: ≥ 65,000 sources,
/// 250,000 numbers).
const FLOOD_SOURCES: usize = 65_536;
const FLOOD_NUMBERS: usize = 250_000;
/// Keys in the memory runs.
const MEMORY_IPS: usize = 1_000_000;
const MEMORY_NUMBERS: usize = 5_000_000;
/// Lookups per lookup measurement.
const LOOKUPS: usize = 2_000_000;
/// Keys the "hot" lookups cycle through (fit in the CPU caches).
const HOT_KEYS: usize = 1024;
/// Events between two flushes in the memory runs (about a second of a flood).
const FLUSH_EVERY: usize = 100_000;
/// Keys in the memory runs, as a float for per-key figures.
const KEYS: f64 = (MEMORY_IPS + MEMORY_NUMBERS) as f64;
const RUNS: usize = 3;

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--memory-run") {
        return memory_run();
    }
    let mut single = Vec::new();
    let mut double = Vec::new();
    for _ in 0..RUNS {
        single.push(observe_ns(1));
        double.push(observe_ns(2));
    }
    let column = |runs: &[Figures], index: usize| {
        median(&runs.iter().map(|run| run[index]).collect::<Vec<_>>())
    };
    println!(
        "observe, 1 thread: {:.0} ns CPU/event ({:.0} ns wall)",
        column(&single, 1),
        column(&single, 0)
    );
    println!(
        "observe, 2 threads: {:.0} ns CPU/event per thread ({:.0} ns wall per event, both together)",
        column(&double, 1),
        column(&double, 0)
    );
    let mut memory = Vec::new();
    for _ in 0..RUNS {
        let exe = std::env::current_exe().context("own path")?;
        let output = Command::new(exe).arg("--memory-run").output()?;
        if !output.status.success() {
            bail!(
                "memory run failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let line = String::from_utf8(output.stdout)?;
        let figures: Figures = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .context("memory run output")?;
        memory.push(figures);
    }
    println!(
        "1 M IPs + 5 M numbers: RSS {:.1} bytes/key ({:.0} MiB), tables {:.1} bytes/key, \
         fill {:.0} ns CPU/event (a flush every {FLUSH_EVERY} events)",
        column(&memory, 0),
        column(&memory, 0) * KEYS / 1_048_576.0,
        column(&memory, 1),
        column(&memory, 2)
    );
    println!(
        "lookup, random keys of 1 M IPs + 5 M numbers, ns CPU: IP hit {:.0}, number hit {:.0}, \
         IP miss {:.0}, number miss {:.0}; the same {HOT_KEYS} keys again and again: IP {:.0}, number {:.0}",
        column(&memory, 3),
        column(&memory, 4),
        column(&memory, 5),
        column(&memory, 6),
        column(&memory, 7),
        column(&memory, 8)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "(medians of {RUNS} runs; load average at the end: {})",
        load.trim()
    );
    Ok(())
}

/// One run's figures.
type Figures = Vec<f64>;

/// Wall and CPU time since a start.
struct Clock {
    wall: Instant,
    cpu: Duration,
}

impl Clock {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    /// (wall ns, this thread's CPU ns) per one of `ops`.
    fn per(&self, ops: usize) -> (f64, f64) {
        let ops = ops as f64;
        (
            self.wall.elapsed().as_nanos() as f64 / ops,
            (thread_cpu() - self.cpu).as_nanos() as f64 / ops,
        )
    }
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let time = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(time.tv_sec).unwrap_or(0),
        u32::try_from(time.tv_nsec).unwrap_or(0),
    )
}

/// `threads` observing the flood's events together: wall ns per event (all threads together)
/// and CPU ns per event (median thread).
fn observe_ns(threads: usize) -> Figures {
    let list = Blocklist::new(&BlocklistOptions::default());
    let numbers: Vec<String> = (0..FLOOD_NUMBERS).map(number).collect();
    let now = Timestamp::now();
    let barrier = Barrier::new(threads);
    let per_thread = EVENTS / threads;
    let wall = Instant::now();
    let cpu: Vec<f64> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (list, numbers, barrier) = (&list, &numbers, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let clock = Clock::start();
                    for n in thread * per_thread..(thread + 1) * per_thread {
                        list.observe(&flood_event(n, numbers, now));
                    }
                    clock.per(per_thread).1
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("observer"))
            .collect()
    });
    let wall = wall.elapsed().as_nanos() as f64 / (per_thread * threads) as f64;
    black_box(list.take_changed());
    vec![wall, median(&cpu)]
}

/// Event `n` of the flood: source and number spread by multiplicative hashing.
fn flood_event<'a>(n: usize, numbers: &'a [String], at: Timestamp) -> Observation<'a> {
    let source = n.wrapping_mul(2_654_435_761) % FLOOD_SOURCES;
    Observation {
        at,
        source: Some(ipv4(source)),
        called_number: Some(&numbers[n.wrapping_mul(40_503) % FLOOD_NUMBERS]),
        attack_type: AttackType::CallAttempt,
        origin: ObservedOrigin::Local {
            transport: Transport::Udp,
            proven: false,
        },
    }
}

/// Fills a blocklist with 1 M IPs and 5 M numbers, flushing every [`FLUSH_EVERY`] events as
/// the store's flusher would; prints RSS and table bytes per key, fill CPU ns per event, and
/// lookup CPU ns (random IP hit, number hit, IP miss, number miss; hot IP, hot number).
fn memory_run() -> anyhow::Result<()> {
    let numbers: Vec<String> = (0..MEMORY_NUMBERS).map(number).collect();
    let before = rss_bytes()?;
    let list = Blocklist::new(&BlocklistOptions::default());
    let now = Timestamp::now();
    let clock = Clock::start();
    for (n, number) in numbers.iter().enumerate() {
        list.observe(&Observation {
            at: now,
            source: Some(ipv4(n % MEMORY_IPS)),
            called_number: Some(number),
            attack_type: AttackType::Scan,
            origin: ObservedOrigin::Local {
                transport: Transport::Udp,
                proven: false,
            },
        });
        if n % FLUSH_EVERY == FLUSH_EVERY - 1 {
            black_box(list.take_changed());
        }
    }
    let (_, fill) = clock.per(MEMORY_NUMBERS);
    black_box(list.take_changed());
    let rss = (rss_bytes()? - before) as f64 / KEYS;
    let tables = list.allocated_bytes() as f64 / KEYS;
    let stats = list.stats();
    if stats.ips != MEMORY_IPS || stats.numbers != MEMORY_NUMBERS {
        bail!("expected every key held: {stats:?}");
    }
    // Keys are made before the clock starts, so only the lookup is timed.
    let ips: Vec<IpAddr> = (0..LOOKUPS)
        .map(|n| ipv4(scatter(n) % MEMORY_IPS))
        .collect();
    let missing: Vec<IpAddr> = (0..LOOKUPS)
        .map(|n| ipv4(MEMORY_IPS + scatter(n) % MEMORY_IPS))
        .collect();
    let dialled: Vec<&str> = (0..LOOKUPS)
        .map(|n| numbers[scatter(n) % MEMORY_NUMBERS].as_str())
        .collect();
    let undialled: Vec<&str> = dialled.iter().map(|number| &number[1..]).collect();
    let hot_ips: Vec<IpAddr> = (0..LOOKUPS).map(|n| ips[n % HOT_KEYS]).collect();
    let hot_numbers: Vec<&str> = (0..LOOKUPS).map(|n| dialled[n % HOT_KEYS]).collect();
    let by_ip = |keys: &[IpAddr]| time(keys, |ip| list.lookup_ip(*ip).is_some());
    let by_number = |keys: &[&str]| time(keys, |number| list.lookup_number(number).is_some());
    let figures = [
        rss,
        tables,
        fill,
        by_ip(&ips),
        by_number(&dialled),
        by_ip(&missing),
        by_number(&undialled),
        by_ip(&hot_ips),
        by_number(&hot_numbers),
    ];
    println!("{}", figures.map(|figure| figure.to_string()).join(" "));
    Ok(())
}

/// CPU ns per lookup of each of `keys`.
fn time<T>(keys: &[T], lookup: impl Fn(&T) -> bool) -> f64 {
    let clock = Clock::start();
    let found = keys.iter().filter(|key| lookup(key)).count();
    black_box(found);
    clock.per(keys.len()).1
}

/// Spreads `n` over the key space (multiplicative hashing).
fn scatter(n: usize) -> usize {
    n.wrapping_mul(2_654_435_761)
}

/// Number `j` as `bench/seed.rs` writes them: `00` then `4600000000 + j`.
fn number(j: usize) -> String {
    format!("00{}", 4_600_000_000 + j)
}

/// Source `i`: distinct public-looking IPv4 addresses from 11.0.0.0 on.
fn ipv4(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(
        0x0b00_0000_u32.wrapping_add(u32::try_from(i).unwrap_or(u32::MAX)),
    ))
}

/// Resident set size, from `/proc/self/statm` (pages of 4 KiB).
fn rss_bytes() -> anyhow::Result<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("read /proc/self/statm")?;
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm resident field")?
        .parse()?;
    Ok(pages * 4096)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
