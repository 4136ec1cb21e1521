//! `loadgen stream`: how long a new attacker takes to reach a `curl -N /api/v1/stream` client
//! while the honeypot takes a paced flood (the flood's sources and numbers are known after a
//! warm-up, so the stream carries their threshold changes, and each new attacker is one `new`
//! decision). Latency is from the attacker's `send` to the line `curl` prints, both seen by
//! this process's monotonic clock; an attacker whose decision never arrives counts as lost,
//! and as an infinite latency in the percentiles (a run that lost more than 1% has p99 `inf`).
//!
//! ```text
//! loadgen stream --binary target/release/sentrypeer [--rate 50000] [--attackers 200]
//!                [--interval-ms 25] [--kind decision] [--runs 3]
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::honeypot::Honeypot;
use crate::parse_sources;
use crate::probes::{DEFAULT_NUMBERS, Mix, ProbeWriter};
use crate::report::{Table, median, thousands};
use crate::send::{self, Limit, SendOptions};

/// How long after the flood the last attackers' decisions may still arrive.
const TAIL: Duration = Duration::from_secs(2);

/// When each new attacker's `new` decision reached the client.
type Arrivals = Arc<Mutex<HashMap<IpAddr, Instant>>>;

/// `loadgen stream` options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StreamOptions {
    /// The honeypot binary (release build).
    #[arg(long)]
    binary: PathBuf,
    /// Runs (the median of each figure is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Flood probes per second.
    #[arg(long, default_value_t = 50_000)]
    rate: u64,
    /// Flood source addresses (`FIRST-LAST`).
    #[arg(long, default_value = "127.0.0.2-127.0.0.33")]
    sources: String,
    /// New attackers per run (each from its own address in 127.1.0.0/16).
    #[arg(long, default_value_t = 200)]
    attackers: u32,
    /// Milliseconds between two new attackers.
    #[arg(long, default_value_t = 25)]
    interval_ms: u64,
    /// Seconds of flood before the first attacker.
    #[arg(long, default_value_t = 3.0)]
    warmup_seconds: f64,
    /// The stream's `kind` parameter (`decision`, `event`, `event,decision`).
    #[arg(long, default_value = "decision")]
    kind: String,
    /// Scratch directory (a temporary one when absent).
    #[arg(long)]
    work: Option<PathBuf>,
}

/// One run's figures.
#[derive(Debug, Clone, Copy, Default)]
struct RunFigures {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    lost: u64,
    flood_rate: f64,
    kernel_dropped: u64,
    clients_dropped: u64,
}

/// Runs the measurement `options.runs` times and prints each run and the medians.
pub(crate) fn run(options: &StreamOptions) -> anyhow::Result<()> {
    if options.attackers == 0 || options.attackers > 65_536 {
        bail!("--attackers must be 1 to 65536");
    }
    let mut options = options.clone();
    // The honeypot runs in a directory of its own.
    options.binary = std::fs::canonicalize(&options.binary)
        .with_context(|| options.binary.display().to_string())?;
    let options = &options;
    let scratch = tempfile::tempdir()?;
    let work = options
        .work
        .clone()
        .unwrap_or_else(|| scratch.path().into());
    let mut runs = Vec::new();
    for index in 0..options.runs.max(1) {
        let figures = one_run(options, &work.join(format!("stream-{index}")))?;
        println!(
            "run {}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, lost {}, flood {}/s, kernel drops {}, \
             stream clients dropped {}",
            index + 1,
            figures.p50_ms,
            figures.p99_ms,
            figures.max_ms,
            figures.lost,
            thousands(figures.flood_rate),
            figures.kernel_dropped,
            figures.clients_dropped
        );
        runs.push(figures);
    }
    let mut table = Table::new(
        &format!(
            "New attacker to a `curl -N /api/v1/stream?kind={}` client during a {}/s flood \
             ({} attackers per run, medians of {} runs)",
            options.kind,
            thousands(options.rate as f64),
            options.attackers,
            runs.len()
        ),
        &[
            "p50 ms",
            "p99 ms",
            "max ms",
            "lost",
            "flood/s",
            "clients dropped",
        ],
    );
    let figure = |get: fn(&RunFigures) -> f64| median(runs.iter().map(get));
    table.row(vec![
        format!("{:.1}", figure(|r| r.p50_ms)),
        format!("{:.1}", figure(|r| r.p99_ms)),
        format!("{:.1}", figure(|r| r.max_ms)),
        format!("{}", figure(|r| r.lost as f64)),
        thousands(figure(|r| r.flood_rate)),
        format!("{}", figure(|r| r.clients_dropped as f64)),
    ]);
    println!("{}", table.render());
    Ok(())
}

fn one_run(options: &StreamOptions, dir: &Path) -> anyhow::Result<RunFigures> {
    let honeypot = Honeypot::start(
        &options.binary,
        dir,
        &[
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
            "--retention-days",
            "0",
        ],
    )?;
    let udp = honeypot.udp.context("the honeypot listens on UDP")?;
    let api = honeypot.api.context("the honeypot serves the API")?;
    let (arrivals, mut curl) = follow_stream(api, &options.kind)?;

    let interval = Duration::from_millis(options.interval_ms);
    let warmup = Duration::from_secs_f64(options.warmup_seconds);
    let flood_time = warmup + interval * options.attackers + TAIL;
    let flood = SendOptions {
        target: udp,
        probes: ProbeWriter::new(
            Mix::parse("scan").map_err(anyhow::Error::msg)?,
            udp,
            DEFAULT_NUMBERS,
        ),
        rate: Some(options.rate),
        limit: Limit::Duration(flood_time),
        sources: parse_sources(&options.sources)?,
        per_source: None,
        count_replies: false,
    };
    let flooding = thread::spawn(move || send::udp(&flood, || {}));
    thread::sleep(warmup);
    let sent_at = send_attackers(udp, options.attackers, interval)?;
    let report = flooding
        .join()
        .map_err(|_| anyhow::anyhow!("the flood thread panicked"))??;
    let deadline = Instant::now() + TAIL;
    while Instant::now() < deadline && lock(&arrivals).len() < sent_at.len() {
        thread::sleep(Duration::from_millis(20));
    }
    let health = health(api)?;
    let _ = curl.kill();
    let _ = curl.wait();
    honeypot.stop()?;

    let arrived = lock(&arrivals).clone();
    let mut latencies: Vec<f64> = sent_at
        .iter()
        .filter_map(|(ip, sent)| {
            arrived
                .get(ip)
                .map(|at| at.duration_since(*sent).as_secs_f64() * 1e3)
        })
        .collect();
    let lost = sent_at.len() - latencies.len();
    // A lost attacker never arrived: it counts in the percentiles as never.
    latencies.extend(std::iter::repeat_n(f64::INFINITY, lost));
    latencies.sort_by(f64::total_cmp);
    let number = |path: &str| {
        health
            .pointer(path)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    Ok(RunFigures {
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        lost: lost as u64,
        flood_rate: report.rate(),
        kernel_dropped: number("/events/kernel_dropped"),
        clients_dropped: number("/stream/clients_dropped"),
    })
}

/// Starts `curl -N` on the stream and a thread that notes when each IP's `new` decision line
/// arrives; returns once the stream is open.
fn follow_stream(api: SocketAddr, kind: &str) -> anyhow::Result<(Arrivals, std::process::Child)> {
    let mut curl = Command::new("curl")
        .args([
            "-N",
            "-s",
            &format!("http://{api}/api/v1/stream?kind={kind}"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .context("run curl")?;
    let stdout = curl.stdout.take().context("curl's output")?;
    let arrivals = Arc::new(Mutex::new(HashMap::new()));
    let noted = Arc::clone(&arrivals);
    let (opened, open) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let at = Instant::now();
            if line == "event: open" {
                let _ = opened.send(());
            }
            let Some(data) = line.strip_prefix("data: ") else {
                continue;
            };
            if !(data.contains("\"change\":\"new\"") && data.contains("\"key_type\":\"ip\"")) {
                continue;
            }
            let key = serde_json::from_str::<serde_json::Value>(data)
                .ok()
                .and_then(|json| json["key"].as_str().and_then(|key| key.parse().ok()));
            if let Some(ip) = key {
                lock(&noted).entry(ip).or_insert(at);
            }
        }
    });
    open.recv_timeout(Duration::from_secs(10))
        .context("the stream did not open")?;
    Ok((arrivals, curl))
}

/// Sends one OPTIONS from each of `count` new addresses (127.1.0.0 and up), `interval` apart;
/// when each was sent.
fn send_attackers(
    target: SocketAddr,
    count: u32,
    interval: Duration,
) -> anyhow::Result<HashMap<IpAddr, Instant>> {
    let mut sent_at = HashMap::new();
    let start = Instant::now();
    for index in 0..count {
        let ip = IpAddr::V4(Ipv4Addr::from(
            u32::from(Ipv4Addr::new(127, 1, 0, 0)) + index,
        ));
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let probe = format!(
            "OPTIONS sip:100@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:5060;branch=z9hG4bK-a{index}\r\n\
             From: <sip:new@{ip}>;tag=a{index}\r\nTo: <sip:100@{target}>\r\nCall-ID: a{index}@{ip}\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        let now = Instant::now();
        socket.send_to(probe.as_bytes(), target)?;
        sent_at.insert(ip, now);
        // Paced from the start, so a slow send does not stretch the run.
        let due = start + interval * (index + 1);
        thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    Ok(sent_at)
}

/// `/api/v1/health`, read with curl.
fn health(api: SocketAddr) -> anyhow::Result<serde_json::Value> {
    let output = Command::new("curl")
        .args(["-s", &format!("http://{api}/api/v1/health")])
        .output()
        .context("run curl")?;
    serde_json::from_slice(&output.stdout).context("health JSON")
}

/// The `q` quantile of sorted `values` (nearest rank); 0 for none.
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
