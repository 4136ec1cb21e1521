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

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Keys on the list (the issue's target).
const LISTED_IPS: u32 = 1_000_000;
const LISTED_NUMBERS: u64 = 5_000_000;
/// Listed IP `i` is `11.0.0.0 + i` (11.0.0.0/8 is no special-purpose block); listed number `j`
/// is `0046` followed by `j` on 9 digits, clean ones `0047…`.
const FIRST_IP: u32 = 0x0B00_0000;

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
        let mut runs: Vec<Run> = (0..args.runs)
            .map(|_| measure(address, rate, args.seconds))
            .collect::<anyhow::Result<_>>()?;
        let median = |key: fn(&Run) -> u64, runs: &mut Vec<Run>| {
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

fn listed_ip(index: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(FIRST_IP + index))
}

fn number(prefix: &str, index: u64) -> String {
    format!("{prefix}{index:09}")
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

/// One run's latencies (nanoseconds) and the share of dips answered (per mille).
struct Run {
    p50: u64,
    p99: u64,
    max: u64,
    answered_per_mille: u64,
}

/// The INVITE (or its ACK) of dip `sequence`: which key it asks about follows from it.
fn message(method: &str, sequence: u64, agent: SocketAddr, client: SocketAddr) -> String {
    let mut random = sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    random ^= random >> 29;
    let (called, caller) = match sequence % 3 {
        0 => (number("0046", random % LISTED_NUMBERS), String::new()),
        1 => (number("0047", random % LISTED_NUMBERS), String::new()),
        _ => {
            let index = u32::try_from(random % u64::from(LISTED_IPS)).unwrap_or(0);
            (
                number("0047", random % LISTED_NUMBERS),
                format!("X-Source-IP: {}\r\n", listed_ip(index)),
            )
        }
    };
    format!(
        "{method} sip:{called}@{agent} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {client};branch=z9hG4bK-b{sequence}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bench@{client}>;tag=t{sequence}\r\n\
         To: <sip:{called}@{agent}>\r\n\
         Call-ID: d{sequence}@bench\r\n\
         CSeq: 1 {method}\r\n\
         {caller}Content-Length: 0\r\n\r\n"
    )
}

/// The dip number in an answer's `Call-ID: d<N>@bench`.
fn answered_sequence(reply: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(reply).ok()?;
    let rest = text.split("Call-ID: d").nth(1)?;
    rest.split('@').next()?.parse().ok()
}

/// Sends `rate` dips a second for `seconds`, paced each millisecond, and times their answers.
fn measure(agent: SocketAddr, rate: u64, seconds: u64) -> anyhow::Result<Run> {
    let client = UdpSocket::bind("127.0.0.1:0")?;
    let socket = socket2::SockRef::from(&client);
    socket.set_recv_buffer_size(8 << 20)?;
    client.set_read_timeout(Some(Duration::from_millis(500)))?;
    let local = client.local_addr()?;
    let total = rate * seconds;
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let sending = Arc::new(AtomicBool::new(true));
    let start = Instant::now();
    let receiver = {
        let client = client.try_clone()?;
        let sent_at = Arc::clone(&sent_at);
        let sending = Arc::clone(&sending);
        thread::spawn(move || receive(&client, agent, local, start, &sent_at, &sending))
    };
    let mut sent = 0u64;
    while sent < total {
        let due = (u128::from(rate) * start.elapsed().as_micros() / 1_000_000) as u64;
        while sent < due.min(total) {
            let invite = message("INVITE", sent, agent, local);
            let at = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if let Some(slot) = sent_at.get(usize::try_from(sent)?) {
                slot.store(at, Ordering::Relaxed);
            }
            client.send_to(invite.as_bytes(), agent)?;
            sent += 1;
        }
        thread::sleep(Duration::from_micros(200));
    }
    sending.store(false, Ordering::Relaxed);
    let mut latencies = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))?;
    latencies.sort_unstable();
    let at = |share: f64| {
        let index =
            ((latencies.len() as f64 * share) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(index).copied().unwrap_or(0)
    };
    Ok(Run {
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or(0),
        answered_per_mille: latencies.len() as u64 * 1000 / total.max(1),
    })
}

/// Receives answers until the sender is done and half a second passes quietly; ACKs each and
/// records its latency (a retransmitted answer counts once).
fn receive(
    client: &UdpSocket,
    agent: SocketAddr,
    local: SocketAddr,
    start: Instant,
    sent_at: &[AtomicU64],
    sending: &AtomicBool,
) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(sent_at.len());
    let mut seen = vec![false; sent_at.len()];
    let mut buffer = [0u8; 4096];
    loop {
        let length = match client.recv(&mut buffer) {
            Ok(length) => length,
            Err(_) if sending.load(Ordering::Relaxed) => continue,
            Err(_) => break,
        };
        let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let Some(sequence) = buffer.get(..length).and_then(answered_sequence) else {
            continue;
        };
        let Ok(index) = usize::try_from(sequence) else {
            continue;
        };
        if seen.get(index).copied().unwrap_or(true) {
            continue;
        }
        seen[index] = true;
        let sent = sent_at[index].load(Ordering::Relaxed);
        latencies.push(now.saturating_sub(sent));
        let ack = message("ACK", sequence, agent, local);
        let _ = client.send_to(ack.as_bytes(), agent);
    }
    latencies
}
