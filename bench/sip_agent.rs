//! Benchmark of the SIP agent (`src/sip_agent/`): dips over UDP on loopback at paced rates,
//! answered by the agent's real UDP loop (on a thread of its own, as the daemon runs it) from a
//! live blocklist holding 1 M IPs and 5 M numbers. A third of the dips call a listed number
//! (603), a third a clean one (404), a third a clean number from a listed caller IP
//! (`X-Source-IP`, 603); keys are drawn at random over the whole list. The client ACKs every
//! answer, as a proxy does, so the agent keeps no retransmissions going. Latency is from the
//! INVITE's send to its answer's receipt; per rate, the median over the runs of each run's p50,
//! p99 and max. Last, the agent thread's CPU time per dip (its INVITE and ACK), which holds
//! whatever else loads the machine.
//!
//! ```text
//! cargo run --release --example sip_agent -- [--rates 10000,20000,40000] [--seconds 5] [--runs 3]
//! ```

#[path = "support/dips.rs"]
mod dips;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::Timestamp;
use rustix::time::{ClockId, clock_gettime};
use sentrypeer::blocklist::{
    Blocklist, BlocklistOptions, ConsumerOptions, Observation, ObservedOrigin, Policy,
    VerdictOptions,
};
use sentrypeer::event::Transport;
use sentrypeer::sip::AttackType;
use sentrypeer::sip_agent::{self, Agent, AgentOptions};
use tokio_util::sync::CancellationToken;

use dips::{DipRun, LISTED_IPS, LISTED_NUMBERS, listed_ip, number};

struct Args {
    rates: Vec<u64>,
    seconds: u64,
    runs: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        rates: vec![10_000, 20_000, 40_000],
        seconds: 5,
        runs: 3,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rates" => {
                args.rates = value
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .context("--rates")?;
            }
            "--seconds" => args.seconds = value.parse().context("--seconds")?,
            "--runs" => args.runs = value.parse().context("--runs")?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let started = Instant::now();
    let blocklist = Arc::new(filled_blocklist());
    let stats = blocklist.stats();
    println!(
        "blocklist: {} IPs, {} numbers, filled in {:.1} s",
        stats.ips,
        stats.numbers,
        started.elapsed().as_secs_f64()
    );
    let policy = Policy::new(
        &VerdictOptions::default(),
        &ConsumerOptions::sip_agent(),
        &blocklist,
    );
    let options = AgentOptions {
        // One client sends everything: the per-source limit would cap the rates measured.
        rate_limit: None,
        ..AgentOptions::default()
    };
    let agent = Arc::new(Agent::new(options, Arc::clone(&blocklist), policy, [7; 16]));
    let (address, stop, listener) = start_agent(Arc::clone(&agent))?;
    println!("| dips/s | answered | p50 µs | p99 µs | max µs |\n|---|---|---|---|---|");
    for &rate in &args.rates {
        let mut runs: Vec<DipRun> = (0..args.runs)
            .map(|_| dips::measure(address, rate, args.seconds))
            .collect::<anyhow::Result<_>>()?;
        let median = |key: fn(&DipRun) -> u64, runs: &mut Vec<DipRun>| {
            runs.sort_by_key(key);
            runs.get(runs.len() / 2).map_or(0, key)
        };
        let p50 = median(|run| run.p50, &mut runs);
        let p99 = median(|run| run.p99, &mut runs);
        let max = median(|run| run.max, &mut runs);
        let answered = median(|run| run.answered_per_mille, &mut runs);
        println!(
            "| {rate} | {:.1}% | {:.0} | {:.0} | {:.0} |",
            answered as f64 / 10.0,
            p50 as f64 / 1e3,
            p99 as f64 / 1e3,
            max as f64 / 1e3
        );
    }
    stop.cancel();
    let cpu = listener
        .join()
        .map_err(|_| anyhow::anyhow!("agent thread panicked"))??;
    let dips: u64 = args.rates.iter().sum::<u64>() * args.seconds * args.runs as u64;
    println!(
        "agent thread CPU: {:.2} µs per dip (INVITE and ACK), over {dips} dips",
        cpu.as_secs_f64() * 1e6 / dips.max(1) as f64
    );
    Ok(())
}

/// The live list with [`LISTED_IPS`] caller IPs and [`LISTED_NUMBERS`] numbers, seen locally
/// over TCP a minute ago.
fn filled_blocklist() -> Blocklist {
    let blocklist = Blocklist::new(&BlocklistOptions::default());
    let at = Timestamp::now() - jiff::SignedDuration::from_secs(60);
    for index in 0..LISTED_IPS {
        blocklist.observe(&observation(at, Some(listed_ip(index)), None));
    }
    for index in 0..LISTED_NUMBERS {
        let called = number("0046", index);
        blocklist.observe(&observation(at, None, Some(&called)));
    }
    blocklist
}

fn observation(
    at: Timestamp,
    source: Option<IpAddr>,
    called_number: Option<&str>,
) -> Observation<'_> {
    Observation {
        at,
        source,
        called_number,
        attack_type: AttackType::CallAttempt,
        origin: ObservedOrigin::Local {
            transport: Transport::Tcp,
            proven: true,
        },
    }
}

/// The agent's UDP loop on a thread of its own with a current-thread runtime, as the daemon
/// starts it; its address, its stop signal and the thread.
fn start_agent(
    agent: Arc<Agent>,
) -> anyhow::Result<(
    SocketAddr,
    CancellationToken,
    thread::JoinHandle<anyhow::Result<Duration>>,
)> {
    let socket = UdpSocket::bind("127.0.0.1:0").context("bind the agent")?;
    socket.set_nonblocking(true)?;
    let address = socket.local_addr()?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let listener = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let socket = tokio::net::UdpSocket::from_std(socket)?;
            sip_agent::udp::run(socket, agent, stopped).await?;
            anyhow::Ok(())
        })?;
        let cpu = clock_gettime(ClockId::ThreadCPUTime);
        Ok(Duration::new(
            u64::try_from(cpu.tv_sec).unwrap_or(0),
            u32::try_from(cpu.tv_nsec).unwrap_or(0),
        ))
    });
    Ok((address, stop, listener))
}
