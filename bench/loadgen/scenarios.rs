//! The benchmark itself: every scenario, run `--runs` times (median reported), against fresh
//! honeypot processes in a scratch directory, then the results table.
//!
//! 1. `capture`: UDP as fast as one sender can go, run by run into a bare sink, an echo sink
//!    (answers each datagram), a passive honeypot (records only) and an answering one (`-r`);
//!    each received rate as a ratio of the bare sink's (the machine's ceiling in that run).
//! 2. `tcp`: the same flood over TCP connections (no sink: TCP has no bare ceiling here).
//! 3. `huge`: maximal (65,507-byte) datagrams as fast as possible: peak RSS must stay bounded.
//! 4. `persist`: a paced UDP flood (`--persist-rate`, `--persist-seconds`) into a database
//!    seeded with `--seed-events` events, with point lookups (`/ip-addresses/{ip}`,
//!    `/numbers/{number}`) at a fixed rate meanwhile, latency measured from each request's
//!    scheduled time (so a stalled server cannot hide its queue).
//! 5. `spread`: INVITEs from `--spread-sources` (65,536) addresses to 250,000 numbers, paced.
//! 6. `numbers`: `/numbers` with `--seed-numbers` numbers: first byte, whole body, RSS growth.
//! 7. `idle`: RSS of an idle honeypot, and the binary's size.
//! 8. `dips`: an answering honeypot with its SIP agent on, under a paced flood, with and
//!    without SIP dips at its agent meanwhile (`dips.rs`).
//!
//! Every flood checks the accounting: sent = stored rows + store drops + kernel drops; and that
//! every distinct IP and number that reached the honeypot is in its database and API with
//! `seen_count`s summing to the probes received (`lossless`, one table at the end).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::dips::{DipPlan, DipRun};
use crate::honeypot::{Counters, Honeypot, count_rows};
use crate::lossless::{self, Found};
use crate::probes::{DEFAULT_NUMBERS, Mix, ProbeWriter};
use crate::report::{Table, median, mib, thousands};
use crate::send::{self, Limit, SendOptions, SendReport};
use crate::sink::Sink;

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    Capture,
    Tcp,
    Huge,
    Persist,
    Spread,
    Numbers,
    Idle,
    Dips,
}

/// `loadgen bench` options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchOptions {
    /// The honeypot binary (release build).
    #[arg(long)]
    binary: PathBuf,
    /// The `seed` example binary (fills a database through the store's writer).
    #[arg(long)]
    seed: PathBuf,
    /// Runs per scenario (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// Seconds of each as-fast-as-possible flood.
    #[arg(long, default_value_t = 10.0)]
    flood_seconds: f64,
    /// Seconds of each maximal-datagram flood.
    #[arg(long, default_value_t = 5.0)]
    huge_seconds: f64,
    /// Seconds of each paced persistence flood.
    #[arg(long, default_value_t = 60.0)]
    persist_seconds: f64,
    /// Probes per second of the persistence flood.
    #[arg(long, default_value_t = 50_000)]
    persist_rate: u64,
    /// Source addresses (`FIRST-LAST`).
    #[arg(long, default_value = "127.0.0.2-127.0.0.33")]
    sources: String,
    /// Events in the seeded database.
    #[arg(long, default_value_t = 300_000)]
    seed_events: u64,
    /// Distinct source IPs in the seeded database.
    #[arg(long, default_value_t = 50_000)]
    seed_ips: u64,
    /// Distinct numbers in the seeded database.
    #[arg(long, default_value_t = 250_000)]
    seed_numbers: u64,
    /// Seconds of point lookups per route during the persistence flood.
    #[arg(long, default_value_t = 10)]
    lookup_seconds: u64,
    /// Point lookups per second during the persistence flood.
    #[arg(long, default_value_t = 500)]
    lookup_rate: u64,
    /// Source addresses of the spread flood (from 127.1.0.0 on).
    #[arg(long, default_value_t = 65_536)]
    spread_sources: u32,
    /// Probes (INVITEs, each to a new number until 250,000 are called) per source of the
    /// spread flood.
    #[arg(long, default_value_t = 4)]
    spread_per_source: u64,
    /// Probes per second of the spread flood.
    #[arg(long, default_value_t = 50_000)]
    spread_rate: u64,
    /// SIP dips per second at the honeypot's SIP agent in the `dips` scenario.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) dips_rate: u64,
    /// Probes per second of the `dips` scenario's flood (0: as fast as possible).
    #[arg(long, default_value_t = 50_000)]
    pub(crate) dips_flood_rate: u64,
    /// Seconds of each `dips` flood.
    #[arg(long, default_value_t = 20)]
    pub(crate) dips_seconds: u64,
    /// Scenarios to run (all when absent), comma-separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,
    /// Scratch directory (a temporary one when absent; removed at the end either way).
    #[arg(long)]
    work: Option<PathBuf>,
}

impl BenchOptions {
    fn wants(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }
}

/// Flags of every honeypot under flood: no per-source reply limit (so with `-r`, added unless
/// the plan is passive, every probe is answered), API on for its counters, no TLS, keep every
/// event (seeded events are days old).
const FLOOD_ARGS: [&str; 7] = [
    "--sip-reply-rate-limit",
    "0",
    "-a",
    "--api-listen-address",
    "127.0.0.1:0",
    "--retention-days",
    "0",
];

/// One flood against one honeypot.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FloodRun {
    send: SendReport,
    /// Counters when the last probe was sent.
    at_end: Counters,
    /// Counters once the honeypot caught up.
    settled: Counters,
    /// Rows the flood added to the database (counted after a clean stop).
    pub(crate) stored_rows: u64,
    /// CPU of the honeypot while sending, as a percentage of one core.
    cpu_percent: f64,
    /// Peak RSS of the honeypot, KiB.
    peak_rss_kib: f64,
    /// SIP dips at the honeypot's agent meanwhile, when the plan asked for them.
    pub(crate) dips: Option<DipRun>,
}

impl FloodRun {
    fn seconds(&self) -> f64 {
        self.send.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn received_at_end(&self) -> u64 {
        self.at_end.received_udp + self.at_end.received_tcp
    }

    /// Probes not stored, not counted as dropped by the store queue nor by the kernel.
    fn unaccounted(&self) -> i64 {
        let accounted = self.stored_rows + self.settled.store_dropped + self.settled.kernel_dropped;
        i64::try_from(self.send.sent).unwrap_or(i64::MAX)
            - i64::try_from(accounted).unwrap_or(i64::MAX)
    }
}

/// Latencies of one route's point lookups.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LookupResult {
    requests: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    failures: u64,
}

/// Runs the benchmark and prints the tables.
pub(crate) async fn run(options: &BenchOptions) -> anyhow::Result<()> {
    // Honeypots run in directories of their own: every path given must be absolute.
    let mut options = options.clone();
    for path in [&mut options.binary, &mut options.seed] {
        *path = std::fs::canonicalize(&*path).with_context(|| path.display().to_string())?;
    }
    let options = &options;
    let scratch = match &options.work {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            tempfile::Builder::new().prefix("bench-").tempdir_in(dir)?
        }
        None => tempfile::Builder::new()
            .prefix("sentrypeer-bench-")
            .tempdir()?,
    };
    let work = scratch.path();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let sources = crate::parse_sources(&options.sources)?;
    let mut tables = Vec::new();
    eprintln!(
        "benchmark: {} runs, scratch {}, machine: {}",
        options.runs,
        work.display(),
        machine()
    );

    if options.wants(Scenario::Capture) {
        tables.push(capture(options, &client, &sources, work).await?);
    }
    if options.wants(Scenario::Tcp) {
        tables.push(tcp(options, &client, &sources, work).await?);
    }
    if options.wants(Scenario::Huge) {
        tables.push(huge(options, &client, &sources, work).await?);
    }
    if options.wants(Scenario::Persist) || options.wants(Scenario::Numbers) {
        let seeded = seed(options, work)?;
        if options.wants(Scenario::Numbers) {
            tables.push(numbers(options, &client, work, &seeded).await?);
        }
        if options.wants(Scenario::Persist) {
            tables.extend(persist(options, &client, &sources, work, &seeded).await?);
        }
    }
    if options.wants(Scenario::Spread) {
        tables.push(spread(options, client.clone(), work).await?);
    }
    if options.wants(Scenario::Idle) {
        tables.push(idle(options, work)?);
    }
    if options.wants(Scenario::Dips) {
        tables.extend(crate::dips::scenario(options, &client, &sources, work).await?);
    }
    tables.extend(lossless::table());
    println!("\nSentryPeer benchmark, {}, {}", date(), machine());
    for table in &tables {
        print!("{}", table.render());
    }
    Ok(())
}

/// Floods `honeypot` with `options`, optionally running `during` meanwhile, and collects the
/// counters; the caller stops the honeypot and counts rows.
async fn flood(
    honeypot: &Honeypot,
    client: &reqwest::Client,
    options: SendOptions,
    tcp: bool,
    during: Option<LookupPlan>,
    dips: Option<DipPlan>,
) -> anyhow::Result<(FloodRun, Vec<LookupResult>)> {
    let before = honeypot.usage()?;
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
    let sender = tokio::task::spawn_blocking(move || {
        let on_sent = move || {
            let _ = sent_tx.send(());
        };
        if tcp {
            send::tcp(&options, on_sent)
        } else {
            send::udp(&options, on_sent)
        }
    });
    let dipping = dips.map(|plan| {
        tokio::task::spawn_blocking(move || {
            crate::dips::measure(plan.agent, plan.rate, plan.seconds)
        })
    });
    let mut lookups = Vec::new();
    if let Some(plan) = during {
        tokio::time::sleep(plan.warm_up).await;
        for kind in ["ip", "number"] {
            lookups.push(point_lookups(&plan, kind).await?);
        }
    }
    // Both at once: the sender may have failed before it could signal.
    let _ = sent_rx.await;
    let usage = honeypot.usage()?;
    let at_end = honeypot.counters(client).await?;
    let send = sender.await.context("sender task")??;
    let dips = match dipping {
        Some(task) => Some(task.await.context("dip task")??),
        None => None,
    };
    let settled = honeypot
        .settle(
            client,
            if tcp { 0 } else { send.sent },
            if tcp { send.sent } else { 0 },
        )
        .await?;
    let peak = honeypot.usage()?.peak_rss_kib;
    let run = FloodRun {
        send,
        at_end,
        settled,
        stored_rows: 0,
        cpu_percent: 100.0 * (usage.cpu_seconds - before.cpu_seconds)
            / send.elapsed.as_secs_f64().max(1e-9),
        peak_rss_kib: peak as f64,
        dips,
    };
    Ok((run, lookups))
}

/// Starts a honeypot in `dir`, floods it, stops it, counts what it stored beyond `seeded_rows`.
pub(crate) async fn honeypot_flood(
    options: &BenchOptions,
    client: &reqwest::Client,
    dir: &Path,
    extra_args: &[&str],
    plan: FloodPlan<'_>,
) -> anyhow::Result<(FloodRun, Vec<LookupResult>)> {
    let mut args: Vec<&str> = FLOOD_ARGS.to_vec();
    if !plan.passive {
        args.push("-r");
    }
    args.extend_from_slice(extra_args);
    let db = args
        .iter()
        .position(|arg| *arg == "-f")
        .and_then(|index| args.get(index + 1))
        .map_or_else(|| dir.join("sentrypeer.db"), PathBuf::from);
    let seeded = if plan.seeded_rows > 0 {
        lossless::check_db(&db, Found::default())?
    } else {
        Found::default()
    };
    let honeypot = Honeypot::start(&options.binary, dir, &args)?;
    let target = if plan.tcp { honeypot.tcp } else { honeypot.udp }.context("honeypot address")?;
    let probes = ProbeWriter::new(plan.mix.clone(), target, DEFAULT_NUMBERS);
    let send_options = SendOptions {
        target,
        probes: probes.clone(),
        rate: plan.rate,
        limit: plan.count.map_or_else(
            || Limit::Duration(Duration::from_secs_f64(plan.seconds)),
            Limit::Count,
        ),
        sources: plan.sources.to_vec(),
        // The honeypot counts its replies; reading them here would only take CPU from it.
        count_replies: false,
        per_source: plan.per_source,
    };
    let during = plan.lookups.map(|lookups| LookupPlan {
        api: honeypot.api.map(|api| api.to_string()).unwrap_or_default(),
        ..lookups
    });
    let dips = match plan.dips {
        Some(rate) => Some(DipPlan {
            agent: honeypot.agent.context("the honeypot runs no SIP agent")?,
            rate,
            seconds: plan.seconds.ceil() as u64,
        }),
        None => None,
    };
    let (mut run, lookups) = flood(&honeypot, client, send_options, plan.tcp, during, dips).await?;
    let mut expected = if plan.tcp {
        lossless::Expected {
            ips: plan.sources.to_vec(),
            ..lossless::Expected::default()
        }
    } else {
        let sources = match plan.per_source {
            // Source after source: only those whose turn came.
            Some(per_source) => {
                let used = run.send.sequences.div_ceil(per_source.max(1));
                &plan.sources[..usize::try_from(used)
                    .unwrap_or(usize::MAX)
                    .min(plan.sources.len())]
            }
            None => plan.sources,
        };
        lossless::Expected::udp(sources, run.send.sent, &probes, run.send.sequences)
    };
    if plan.seeded_rows > 0 || run.settled.kernel_dropped > 0 {
        // The seeded database holds the numbers the probes call, and which probes the kernel
        // dropped is not known: only the sums (and the database against the API) can tell.
        expected.numbers = None;
    }
    expected.received = run.settled.received_udp + run.settled.received_tcp;
    let mut completeness = lossless::Completeness::default();
    if let Some(api) = honeypot.api {
        lossless::check_api(client, api, &expected, seeded, &mut completeness).await?;
    }
    let stopped = honeypot.stop()?;
    run.stored_rows = count_rows(&db)?.saturating_sub(plan.seeded_rows);
    completeness.db = lossless::check_db(&db, seeded)?;
    lossless::record(plan.name, completeness);
    eprintln!(
        "  sent {} ({:.0}/s) received {} ({:.0}/s while sending) replied {} (client read {}) \
         stored {} store-dropped {} kernel-dropped {} unaccounted {} cpu {:.0}% peak {} | {}",
        run.send.sent,
        run.send.rate(),
        run.settled.received_udp + run.settled.received_tcp,
        run.received_at_end() as f64 / run.seconds(),
        run.settled.replied_udp + run.settled.replied_tcp,
        run.send.replies,
        run.stored_rows,
        run.settled.store_dropped,
        run.settled.kernel_dropped,
        run.unaccounted(),
        run.cpu_percent,
        mib(run.peak_rss_kib),
        stopped.trim(),
    );
    eprintln!(
        "  lossless: {} IPs sent from, {}/{} in DB/API; {} numbers called, {}/{} in DB/API; \
         received {}, seen_count sums IPs {}/{} numbers {}/{}; lookups {}/{}; complete: {}",
        completeness.expected_ips,
        completeness.db.ips,
        completeness.api.ips,
        completeness
            .expected_numbers
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        completeness.db.numbers,
        completeness.api.numbers,
        completeness.received,
        completeness.db.ip_seen,
        completeness.api.ip_seen,
        completeness.db.number_seen,
        completeness.api.number_seen,
        completeness.lookups_found,
        completeness.lookups,
        completeness.whole(),
    );
    Ok((run, lookups))
}

/// One flood's shape.
#[derive(Clone)]
pub(crate) struct FloodPlan<'a> {
    pub(crate) tcp: bool,
    pub(crate) mix: Mix,
    pub(crate) rate: Option<u64>,
    pub(crate) seconds: f64,
    pub(crate) sources: &'a [IpAddr],
    pub(crate) seeded_rows: u64,
    pub(crate) lookups: Option<LookupPlan>,
    /// SIP dips per second at the honeypot's agent meanwhile (`--sip-agent-listen-address`).
    pub(crate) dips: Option<u64>,
    /// Run the honeypot without `-r`: it records probes and answers none.
    pub(crate) passive: bool,
    /// Probes to send (instead of `seconds`).
    pub(crate) count: Option<u64>,
    /// UDP: consecutive probes per source, one source's socket at a time (see `send`).
    pub(crate) per_source: Option<u64>,
    /// The flood's name in the lossless table.
    pub(crate) name: &'a str,
}

impl<'a> FloodPlan<'a> {
    /// The default mix over UDP from `sources` as fast as possible for `seconds`, into an empty
    /// database, every probe answered, no lookups.
    pub(crate) fn as_fast_as_possible(sources: &'a [IpAddr], seconds: f64) -> Self {
        Self {
            tcp: false,
            mix: Mix::default(),
            rate: None,
            seconds,
            sources,
            seeded_rows: 0,
            lookups: None,
            dips: None,
            passive: false,
            count: None,
            per_source: None,
            name: "",
        }
    }
}

/// Point lookups during a flood.
#[derive(Clone)]
pub(crate) struct LookupPlan {
    api: String,
    warm_up: Duration,
    seconds: u64,
    rate: u64,
    ips: u64,
    numbers: u64,
}

/// Point lookups of `kind` (`ip` or `number`, keys of the seeded database, as
/// `bench/lookups.lua` picks them) at `plan.rate` per second on one keep-alive connection.
/// Each latency runs from the request's scheduled time, so time spent queued behind a slow
/// answer counts.
async fn point_lookups(plan: &LookupPlan, kind: &str) -> anyhow::Result<LookupResult> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(1)
        .build()?;
    let count = plan.rate * plan.seconds;
    let interval = Duration::from_secs_f64(1.0 / plan.rate.max(1) as f64);
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    let mut latencies = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut failures = 0;
    let started = tokio::time::Instant::now();
    for index in 0..count {
        let scheduled = started + interval * u32::try_from(index).unwrap_or(u32::MAX);
        tokio::time::sleep_until(scheduled).await;
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let path = if kind == "ip" {
            let i = random % plan.ips.max(1);
            format!(
                "/ip-addresses/198.{}.{}.{}",
                18 + i / 65_536,
                i / 256 % 256,
                i % 256
            )
        } else {
            format!(
                "/numbers/00{}",
                4_600_000_000 + random % plan.numbers.max(1)
            )
        };
        // 404 is an answer too: the seed does not give every IP of its range an event.
        let ok = match client
            .get(format!("http://{}{path}", plan.api))
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status();
                (status.is_success() || status == reqwest::StatusCode::NOT_FOUND)
                    && response.bytes().await.is_ok()
            }
            Err(_) => false,
        };
        if !ok {
            failures += 1;
        }
        latencies.push(scheduled.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let at = |quantile: f64| {
        let index = ((latencies.len() as f64 - 1.0) * quantile).round() as usize;
        latencies.get(index).copied().unwrap_or(f64::NAN)
    };
    let result = LookupResult {
        requests: count,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        failures,
    };
    eprintln!(
        "  lookups {kind}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, {} failed",
        result.requests, result.p50_ms, result.p99_ms, result.max_ms, result.failures
    );
    Ok(result)
}

async fn capture(
    options: &BenchOptions,
    client: &reqwest::Client,
    sources: &[IpAddr],
    work: &Path,
) -> anyhow::Result<Table> {
    eprintln!(
        "capture: UDP, as fast as possible, {} s",
        options.flood_seconds
    );
    let mut sinks = Vec::new();
    let mut echo_sinks = Vec::new();
    let mut runs = Vec::new();
    let mut passive_runs = Vec::new();
    for run in 0..options.runs {
        let ceiling = sink_flood(options, sources, false, run).await?;
        sinks.push(ceiling);
        echo_sinks.push(sink_flood(options, sources, true, run).await?);
        for passive in [true, false] {
            let dir = work.join(format!("capture-{run}"));
            let plan = FloodPlan {
                passive,
                name: if passive {
                    "capture, passive"
                } else {
                    "capture, answering (-r)"
                },
                ..FloodPlan::as_fast_as_possible(sources, options.flood_seconds)
            };
            let (result, _) = honeypot_flood(options, client, &dir, &[], plan).await?;
            if passive {
                passive_runs.push((result, ceiling.1));
            } else {
                runs.push((result, ceiling.1));
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let mut table = flood_table(&format!(
        "Capture: UDP probe mix (OPTIONS/REGISTER/INVITE 4/3/3) from {} sources, one sender as fast as it can, {} s, median of {} runs",
        sources.len(),
        options.flood_seconds,
        options.runs
    ));
    for (name, floods) in [
        ("bare UDP sink (ceiling)", &sinks),
        ("echo sink (answers each datagram)", &echo_sinks),
    ] {
        table.row(vec![
            name.into(),
            thousands(median(floods.iter().map(|(sent, _)| *sent))),
            thousands(median(floods.iter().map(|(_, received)| *received))),
            format!(
                "{:.2}",
                median(
                    floods
                        .iter()
                        .zip(&sinks)
                        .map(|((_, received), (_, ceiling))| received / ceiling)
                )
            ),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
    }
    for (name, floods) in [
        (
            "honeypot, passive (no -r: records, answers nothing)",
            &passive_runs,
        ),
        ("honeypot (-r, reply limit off)", &runs),
    ] {
        table.row(flood_row(
            name,
            &floods.iter().map(|(run, _)| *run).collect::<Vec<_>>(),
            Some(median(floods.iter().map(|(run, ceiling)| {
                run.received_at_end() as f64 / run.seconds() / ceiling
            }))),
        ));
    }
    Ok(table)
}

/// One flood into a bare sink (or an echo sink): (sent/s, received/s while sending).
async fn sink_flood(
    options: &BenchOptions,
    sources: &[IpAddr],
    echo: bool,
    run: usize,
) -> anyhow::Result<(f64, f64)> {
    let sink = Sink::start("127.0.0.1:0".parse()?, echo)?;
    let target = sink.address;
    let send_options = SendOptions {
        target,
        probes: ProbeWriter::new(Mix::default(), target, DEFAULT_NUMBERS),
        rate: None,
        limit: Limit::Duration(Duration::from_secs_f64(options.flood_seconds)),
        sources: sources.to_vec(),
        count_replies: false,
        per_source: None,
    };
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    let sender = tokio::task::spawn_blocking(move || {
        send::udp(&send_options, move || {
            let _ = sent_tx.send(());
        })
    });
    let received_at_end = tokio::task::spawn_blocking(move || {
        let _ = sent_rx.recv();
        sink.received()
    });
    let sent = sender.await??;
    let received_at_end = received_at_end.await?;
    // The sink is gone with its thread; what it received by the end is its ceiling.
    let rate = received_at_end as f64 / sent.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "  {} run {}: sent {} ({:.0}/s), received {rate:.0}/s",
        if echo { "echo sink" } else { "sink" },
        run + 1,
        sent.sent,
        sent.rate()
    );
    Ok((sent.rate(), rate))
}

async fn tcp(
    options: &BenchOptions,
    client: &reqwest::Client,
    sources: &[IpAddr],
    work: &Path,
) -> anyhow::Result<Table> {
    eprintln!("tcp: as fast as possible, {} s", options.flood_seconds);
    let mut runs = Vec::new();
    for run in 0..options.runs {
        let dir = work.join(format!("tcp-{run}"));
        let plan = FloodPlan {
            tcp: true,
            name: "TCP",
            ..FloodPlan::as_fast_as_possible(sources, options.flood_seconds)
        };
        runs.push(honeypot_flood(options, client, &dir, &[], plan).await?.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut table = flood_table(&format!(
        "Capture: TCP, one connection per source ({}), same mix, {} s, median of {} runs",
        sources.len(),
        options.flood_seconds,
        options.runs
    ));
    table.row(flood_row("honeypot over TCP", &runs, None));
    Ok(table)
}

async fn huge(
    options: &BenchOptions,
    client: &reqwest::Client,
    sources: &[IpAddr],
    work: &Path,
) -> anyhow::Result<Table> {
    eprintln!(
        "huge: 65,507-byte datagrams, as fast as possible, {} s",
        options.huge_seconds
    );
    let mut runs = Vec::new();
    for run in 0..options.runs {
        let dir = work.join(format!("huge-{run}"));
        let plan = FloodPlan {
            mix: Mix::parse("huge").map_err(anyhow::Error::msg)?,
            name: "huge datagrams",
            ..FloodPlan::as_fast_as_possible(sources, options.huge_seconds)
        };
        runs.push(honeypot_flood(options, client, &dir, &[], plan).await?.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut table = flood_table(&format!(
        "Memory: maximal UDP datagrams (65,507 bytes), as fast as possible, {} s, median of {} runs",
        options.huge_seconds, options.runs
    ));
    table.row(flood_row("honeypot, huge datagrams", &runs, None));
    Ok(table)
}

/// The seeded database and what is in it.
struct Seeded {
    db: PathBuf,
    rows: u64,
    seconds: f64,
}

fn seed(options: &BenchOptions, work: &Path) -> anyhow::Result<Seeded> {
    let db = work.join("seeded.db");
    eprintln!(
        "seeding {} events, {} IPs, {} numbers",
        options.seed_events, options.seed_ips, options.seed_numbers
    );
    let started = Instant::now();
    let status = Command::new(&options.seed)
        .arg(&db)
        .args([
            options.seed_events.to_string(),
            options.seed_ips.to_string(),
            options.seed_numbers.to_string(),
        ])
        .status()
        .context("run the seed example")?;
    if !status.success() {
        bail!("seeding failed: {status}");
    }
    Ok(Seeded {
        rows: count_rows(&db)?,
        db,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn numbers(
    options: &BenchOptions,
    client: &reqwest::Client,
    work: &Path,
    seeded: &Seeded,
) -> anyhow::Result<Table> {
    eprintln!("numbers: /numbers with {} numbers", options.seed_numbers);
    let dir = work.join("numbers");
    let db = seeded.db.display().to_string();
    let honeypot = Honeypot::start(
        &options.binary,
        &dir,
        &[
            "-R",
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
            "--retention-days",
            "0",
            "-f",
            &db,
        ],
    )?;
    let api = honeypot.api.context("API address")?;
    let before = honeypot.usage()?;
    let mut samples = Vec::new();
    for _ in 0..options.runs {
        let started = Instant::now();
        let mut response = client
            .get(format!("http://{api}/numbers"))
            .send()
            .await?
            .error_for_status()?;
        let mut bytes = 0usize;
        let mut first_byte = None;
        while let Some(chunk) = response.chunk().await? {
            first_byte.get_or_insert_with(|| started.elapsed());
            bytes += chunk.len();
        }
        let total = started.elapsed();
        let first_byte = first_byte.unwrap_or(total);
        eprintln!(
            "  /numbers: first byte {:.1} ms, whole body {:.3} s, {bytes} bytes",
            first_byte.as_secs_f64() * 1000.0,
            total.as_secs_f64()
        );
        samples.push((first_byte.as_secs_f64(), total.as_secs_f64(), bytes));
    }
    let peak = honeypot.usage()?.peak_rss_kib;
    honeypot.stop()?;
    let mut table = Table::new(
        &format!(
            "/numbers with {} numbers ({} events seeded through the writer in {:.1} s: {} events/s), median of {} requests",
            thousands(options.seed_numbers as f64),
            thousands(seeded.rows as f64),
            seeded.seconds,
            thousands(seeded.rows as f64 / seeded.seconds.max(1e-9)),
            options.runs
        ),
        &["measure", "result", "target"],
    );
    table.row(vec![
        "time to first byte".into(),
        format!("{:.1} ms", 1000.0 * median(samples.iter().map(|s| s.0))),
        "< 50 ms".into(),
    ]);
    table.row(vec![
        "whole body".into(),
        format!(
            "{:.3} s ({:.1} MB)",
            median(samples.iter().map(|s| s.1)),
            samples.first().map_or(0.0, |s| s.2 as f64 / 1e6)
        ),
        "< 1 s".into(),
    ]);
    table.row(vec![
        "RSS before -> peak".into(),
        format!(
            "{} -> {} (+{})",
            mib(before.rss_kib as f64),
            mib(peak as f64),
            mib(peak.saturating_sub(before.rss_kib) as f64)
        ),
        "growth < 50 MB".into(),
    ]);
    Ok(table)
}

async fn persist(
    options: &BenchOptions,
    client: &reqwest::Client,
    sources: &[IpAddr],
    work: &Path,
    seeded: &Seeded,
) -> anyhow::Result<Vec<Table>> {
    eprintln!(
        "persist: UDP at {}/s for {} s into a database of {} events, wrk lookups meanwhile",
        options.persist_rate, options.persist_seconds, seeded.rows
    );
    let name = format!(
        "paced {}/s into {} events",
        thousands(options.persist_rate as f64),
        thousands(seeded.rows as f64)
    );
    let mut runs = Vec::new();
    let mut lookups: Vec<Vec<LookupResult>> = Vec::new();
    for run in 0..options.runs {
        let dir = work.join(format!("persist-{run}"));
        std::fs::create_dir_all(&dir)?;
        let db = dir.join("sentrypeer.db");
        std::fs::copy(&seeded.db, &db).context("copy the seeded database")?;
        // On disk before the flood starts: the copy's writeback must not throttle the writer.
        std::fs::File::open(&db)
            .and_then(|copy| copy.sync_all())
            .context("sync the copied database")?;
        let db_text = db.display().to_string();
        let plan = FloodPlan {
            rate: Some(options.persist_rate),
            seeded_rows: seeded.rows,
            name: &name,
            lookups: Some(LookupPlan {
                api: String::new(),
                warm_up: Duration::from_secs(5),
                seconds: options.lookup_seconds,
                rate: options.lookup_rate,
                ips: options.seed_ips,
                numbers: options.seed_numbers,
            }),
            ..FloodPlan::as_fast_as_possible(sources, options.persist_seconds)
        };
        let (result, found) =
            honeypot_flood(options, client, &dir, &["-f", &db_text], plan).await?;
        runs.push(result);
        lookups.push(found);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut table = flood_table(&format!(
        "Persistence: UDP paced at {}/s for {} s into a database of {} events, lookups running, median of {} runs",
        thousands(options.persist_rate as f64),
        options.persist_seconds,
        thousands(seeded.rows as f64),
        options.runs
    ));
    table.row(flood_row("honeypot, paced flood", &runs, None));
    let mut api = Table::new(
        &format!(
            "API point lookups during the {}/s flood ({}/s on one keep-alive connection, {} s per route, random keys of the seeded database; latency from each request's scheduled time), median of {} runs",
            thousands(options.persist_rate as f64),
            options.lookup_rate,
            options.lookup_seconds,
            options.runs
        ),
        &[
            "route", "requests", "p50", "p99", "max", "failures", "target",
        ],
    );
    for (index, route) in ["/ip-addresses/{ip}", "/numbers/{number}"]
        .iter()
        .enumerate()
    {
        let results: Vec<LookupResult> = lookups
            .iter()
            .filter_map(|run| run.get(index).copied())
            .collect();
        api.row(vec![
            (*route).into(),
            thousands(median(results.iter().map(|r| r.requests as f64))),
            format!("{:.2} ms", median(results.iter().map(|r| r.p50_ms))),
            format!("{:.2} ms", median(results.iter().map(|r| r.p99_ms))),
            format!("{:.1} ms", median(results.iter().map(|r| r.max_ms))),
            format!("{}", results.iter().map(|r| r.failures).sum::<u64>()),
            "p99 < 10 ms".into(),
        ]);
    }
    Ok(vec![table, api])
}

/// INVITEs from `spread_sources` addresses (source after source, `spread_per_source` each) to
/// 250,000 distinct numbers, paced, into a passive honeypot: every key must reach the database
/// and the API.
async fn spread(
    options: &BenchOptions,
    client: reqwest::Client,
    work: &Path,
) -> anyhow::Result<Table> {
    let first = u32::from(std::net::Ipv4Addr::new(127, 1, 0, 0));
    let sources: Vec<IpAddr> = (0..options.spread_sources)
        .map(|index| IpAddr::V4(first.saturating_add(index).into()))
        .collect();
    let probes = u64::from(options.spread_sources) * options.spread_per_source;
    eprintln!(
        "spread: {probes} INVITEs from {} sources to {DEFAULT_NUMBERS} numbers at {}/s",
        sources.len(),
        options.spread_rate
    );
    let name = format!(
        "spread: {} sources -> {} numbers",
        thousands(sources.len() as f64),
        thousands(DEFAULT_NUMBERS as f64)
    );
    let mut runs = Vec::new();
    for run in 0..options.runs {
        let dir = work.join(format!("spread-{run}"));
        let plan = FloodPlan {
            mix: Mix::parse("invite").map_err(anyhow::Error::msg)?,
            rate: Some(options.spread_rate),
            count: Some(probes),
            per_source: Some(options.spread_per_source),
            passive: true,
            name: &name,
            ..FloodPlan::as_fast_as_possible(&sources, 0.0)
        };
        runs.push(honeypot_flood(options, &client, &dir, &[], plan).await?.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut table = flood_table(&format!(
        "Spread: {} INVITEs from {} sources (127.1.0.0 on, {} each) to {} numbers, paced at {}/s, passive, median of {} runs",
        thousands(probes as f64),
        thousands(sources.len() as f64),
        options.spread_per_source,
        thousands(DEFAULT_NUMBERS as f64),
        thousands(options.spread_rate as f64),
        options.runs
    ));
    table.row(flood_row("honeypot, spread flood", &runs, None));
    Ok(table)
}

fn idle(options: &BenchOptions, work: &Path) -> anyhow::Result<Table> {
    eprintln!("idle: RSS of an idle honeypot");
    let mut samples = Vec::new();
    for run in 0..options.runs {
        let dir = work.join(format!("idle-{run}"));
        let honeypot = Honeypot::start(
            &options.binary,
            &dir,
            &["-r", "-a", "--api-listen-address", "127.0.0.1:0"],
        )?;
        std::thread::sleep(Duration::from_secs(2));
        samples.push(honeypot.usage()?.rss_kib as f64);
        honeypot.stop()?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    let size = std::fs::metadata(&options.binary)?.len();
    let mut table = Table::new("Footprint", &["measure", "result", "target"]);
    table.row(vec![
        "idle RSS (-r -a, UDP+TCP+API, 2 s after start)".into(),
        mib(median(samples)),
        "< 20 MB".into(),
    ]);
    table.row(vec![
        "release binary (stripped)".into(),
        format!(
            "{:.1} MB ({} bytes)",
            size as f64 / 1e6,
            thousands(size as f64)
        ),
        "< 15 MB".into(),
    ]);
    Ok(table)
}

pub(crate) fn flood_table(title: &str) -> Table {
    Table::new(
        title,
        &[
            "run",
            "sent/s",
            "received/s",
            "ratio to ceiling",
            "replied/s",
            "stored/s while sending",
            "stored",
            "store drops",
            "kernel drops",
            "unaccounted",
            "honeypot CPU / peak RSS",
        ],
    )
}

pub(crate) fn flood_row(name: &str, runs: &[FloodRun], ratio: Option<f64>) -> Vec<String> {
    let med = |f: &dyn Fn(&FloodRun) -> f64| median(runs.iter().map(f));
    let worst_unaccounted = runs
        .iter()
        .map(FloodRun::unaccounted)
        .max_by_key(|value| value.unsigned_abs())
        .unwrap_or(0);
    vec![
        name.into(),
        thousands(med(&|run| run.send.rate())),
        thousands(med(&|run| run.received_at_end() as f64 / run.seconds())),
        ratio.map_or_else(|| "-".into(), |ratio| format!("{ratio:.2}")),
        thousands(med(&|run| {
            (run.at_end.replied_udp + run.at_end.replied_tcp) as f64 / run.seconds()
        })),
        thousands(med(&|run| run.at_end.stored as f64 / run.seconds())),
        format!(
            "{} of {} sent",
            thousands(med(&|run| run.stored_rows as f64)),
            thousands(med(&|run| run.send.sent as f64))
        ),
        thousands(med(&|run| run.settled.store_dropped as f64)),
        thousands(med(&|run| run.settled.kernel_dropped as f64)),
        format!("{worst_unaccounted} (worst run)"),
        format!(
            "{:.0}% / {}",
            med(&|run| run.cpu_percent),
            mib(med(&|run| run.peak_rss_kib))
        ),
    ]
}

/// Today's date (UTC).
fn date() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d").to_string()
}

/// CPU model and count, kernel.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_owned(), |model| model.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} x {model}, Linux {}", kernel.trim())
}
