//! Load generator and benchmark harness for SentryPeer (not a test; see the README's Benchmarks
//! section). Sends realistic SIP probe mixes over UDP or TCP from many 127.0.0.0/8 source
//! addresses, runs a bare UDP sink for the machine's ceiling, and (`bench`) drives the whole
//! benchmark against the release binary and prints the results table.
//!
//! ```text
//! loadgen send --target 127.0.0.1:5060 [--transport udp|tcp] [--mix scan] [--rate N]
//!              [--duration SECONDS | --count N] [--sources 127.0.0.2-127.0.0.33]
//! loadgen sink [--listen 127.0.0.1:5070] [--duration SECONDS] [--echo]
//! loadgen bench --binary target/release/sentrypeer --seed target/release/examples/seed
//! loadgen stream --binary target/release/sentrypeer [--rate 50000] [--attackers 200]
//! ```

mod dips;
mod honeypot;
mod lossless;
mod probes;
mod report;
mod scenarios;
mod send;
mod sink;
mod stream;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::probes::{DEFAULT_NUMBERS, Mix, ProbeWriter};
use crate::send::{Limit, SendOptions};

#[derive(Debug, Parser)]
#[command(about = "SentryPeer load generator and benchmark harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TransportArg {
    Udp,
    Tcp,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sends probes to a target and prints what was sent and answered.
    Send {
        /// Address to send to.
        #[arg(long)]
        target: SocketAddr,
        /// Transport.
        #[arg(long, value_enum, default_value = "udp")]
        transport: TransportArg,
        /// Probe mix: `scan` (OPTIONS/REGISTER/INVITE 4/3/3), `huge` (65,507-byte datagrams),
        /// or weights like `options=1,invite=2`.
        #[arg(long, default_value = "scan")]
        mix: String,
        /// Probes per second (all sources together); as fast as possible when absent.
        #[arg(long)]
        rate: Option<u64>,
        /// Seconds to send for.
        #[arg(long, conflicts_with = "count")]
        duration: Option<f64>,
        /// Probes to send.
        #[arg(long)]
        count: Option<u64>,
        /// Source addresses: `FIRST-LAST` (IPv4, inclusive) or one address.
        #[arg(long, default_value = "127.0.0.2-127.0.0.33")]
        sources: String,
        /// Distinct phone numbers INVITEs call.
        #[arg(long, default_value_t = DEFAULT_NUMBERS)]
        numbers: u64,
        /// Read and count UDP replies (by draining the sockets every 5 ms).
        #[arg(long)]
        count_replies: bool,
    },
    /// Runs a bare UDP sink and prints how many datagrams it received.
    Sink {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:5070")]
        listen: SocketAddr,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Send every datagram back to its source (the ceiling for answered probes).
        #[arg(long)]
        echo: bool,
    },
    /// Runs the whole benchmark and prints the results table.
    Bench(scenarios::BenchOptions),
    /// Measures how long a new attacker takes to reach a `curl -N /api/v1/stream` client during
    /// a paced flood.
    Stream(stream::StreamOptions),
}

/// `127.0.0.2-127.0.0.33` or `127.0.0.2`.
pub(crate) fn parse_sources(text: &str) -> anyhow::Result<Vec<IpAddr>> {
    let Some((first, last)) = text.split_once('-') else {
        return Ok(vec![text.parse().context("source address")?]);
    };
    let first: Ipv4Addr = first.parse().context("first source address")?;
    let last: Ipv4Addr = last.parse().context("last source address")?;
    let (first, last) = (u32::from(first), u32::from(last));
    if last < first || last - first > 65_535 {
        bail!("bad source range {text}");
    }
    Ok((first..=last).map(|ip| IpAddr::V4(ip.into())).collect())
}

fn limit(duration: Option<f64>, count: Option<u64>) -> Limit {
    match (duration, count) {
        (_, Some(count)) => Limit::Count(count),
        (Some(seconds), None) => Limit::Duration(Duration::from_secs_f64(seconds)),
        (None, None) => Limit::Duration(Duration::from_secs(10)),
    }
}

fn main() -> anyhow::Result<()> {
    // reqwest is built without a crypto provider of its own (ring is the package's one, see
    // deny.toml); the benchmark only speaks plain HTTP to loopback, but the client needs one.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::Send {
            target,
            transport,
            mix,
            rate,
            duration,
            count,
            sources,
            numbers,
            count_replies,
        } => {
            let options = SendOptions {
                target,
                probes: ProbeWriter::new(
                    Mix::parse(&mix).map_err(anyhow::Error::msg)?,
                    target,
                    numbers,
                ),
                rate,
                limit: limit(duration, count),
                sources: parse_sources(&sources)?,
                count_replies,
                per_source: None,
            };
            let report = match transport {
                TransportArg::Udp => send::udp(&options, || {})?,
                TransportArg::Tcp => send::tcp(&options, || {})?,
            };
            println!(
                "sent={} errors={} replies={} seconds={:.3} rate={:.0}",
                report.sent,
                report.errors,
                report.replies,
                report.elapsed.as_secs_f64(),
                report.rate()
            );
        }
        Command::Sink {
            listen,
            duration,
            echo,
        } => {
            let sink = sink::Sink::start(listen, echo)?;
            println!("listening on {}", sink.address);
            std::thread::sleep(Duration::from_secs_f64(duration));
            let report = sink.stop();
            println!(
                "received={} kernel_dropped={:?}",
                report.received, report.kernel_dropped
            );
        }
        Command::Bench(options) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(scenarios::run(&options))?;
        }
        Command::Stream(options) => stream::run(&options)?,
    }
    Ok(())
}
