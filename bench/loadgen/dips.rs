//! The `dips` scenario: does answering a switch's SIP dips cost the honeypot its capture? An
//! answering honeypot with its SIP agent on takes a paced flood (`--dips-flood-rate`, default
//! 50,000/s, for `--dips-seconds`) twice per run: once with the agent idle, once with
//! `--dips-rate` dips a second (default 10,000) at the agent meanwhile, the order swapped every
//! run. Reported: both floods' capture figures (medians over the runs), each run's ratio of
//! received and stored with dips to without (median), and the dips' latency while flooded.

#[path = "../support/dips.rs"]
mod client;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::report::{Table, median, thousands};
use crate::scenarios::{BenchOptions, FloodPlan, FloodRun, flood_row, flood_table, honeypot_flood};

pub(crate) use client::{DipRun, measure};

/// Dips to send beside a flood.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DipPlan {
    /// The SIP agent's UDP address.
    pub(crate) agent: SocketAddr,
    /// Dips per second.
    pub(crate) rate: u64,
    /// For how long.
    pub(crate) seconds: u64,
}

/// Runs the scenario; its two tables.
pub(crate) async fn scenario(
    options: &BenchOptions,
    http: &reqwest::Client,
    sources: &[IpAddr],
    work: &Path,
) -> anyhow::Result<Vec<Table>> {
    let flood_rate = (options.dips_flood_rate > 0).then_some(options.dips_flood_rate);
    eprintln!(
        "dips: UDP flood at {} for {} s, with and without {} dips/s at the SIP agent",
        flood_rate.map_or_else(|| "full speed".to_owned(), |rate| format!("{rate}/s")),
        options.dips_seconds,
        options.dips_rate
    );
    let mut without = Vec::new();
    let mut with = Vec::new();
    for run in 0..options.runs {
        let order = if run % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for dipping in order {
            let dir = work.join(format!("dips-{run}-{dipping}"));
            let plan = FloodPlan {
                rate: flood_rate,
                dips: dipping.then_some(options.dips_rate),
                name: if dipping {
                    "flood with dips"
                } else {
                    "flood, agent idle"
                },
                ..FloodPlan::as_fast_as_possible(sources, options.dips_seconds as f64)
            };
            let args = ["--sip-agent-listen-address", "127.0.0.1:0"];
            let (flood, _) = honeypot_flood(options, http, &dir, &args, plan).await?;
            if let Some(dips) = flood.dips {
                eprintln!(
                    "  dips: {:.1}% answered, p50 {} µs, p99 {} µs, max {} µs",
                    dips.answered_per_mille as f64 / 10.0,
                    dips.p50 / 1000,
                    dips.p99 / 1000,
                    dips.max / 1000
                );
            }
            if dipping { &mut with } else { &mut without }.push(flood);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let flood_name = flood_rate.map_or_else(
        || "as fast as one sender can go".to_owned(),
        |rate| format!("paced {}/s", thousands(rate as f64)),
    );
    let mut capture = flood_table(&format!(
        "Capture beside SIP dips: answering honeypot with its SIP agent on, UDP {flood_name}, {} s, median of {} runs",
        options.dips_seconds, options.runs
    ));
    capture.row(flood_row("agent idle", &without, None));
    capture.row(flood_row(
        &format!(
            "{} dips/s at the agent",
            thousands(options.dips_rate as f64)
        ),
        &with,
        None,
    ));
    Ok(vec![capture, dips_table(options, &without, &with)])
}

/// The dips' latency while flooded, and each run's capture with dips as a share of without.
fn dips_table(options: &BenchOptions, without: &[FloodRun], with: &[FloodRun]) -> Table {
    let pairs = || without.iter().zip(with);
    let share = |numerator: u64, denominator: u64| numerator as f64 / denominator.max(1) as f64;
    let received = median(
        pairs().map(|(alone, beside)| share(beside.received_at_end(), alone.received_at_end())),
    );
    let stored =
        median(pairs().map(|(alone, beside)| share(beside.stored_rows, alone.stored_rows)));
    let dips: Vec<DipRun> = with.iter().filter_map(|flood| flood.dips).collect();
    let micros = |key: fn(&DipRun) -> u64| {
        format!(
            "{:.0}",
            median(dips.iter().map(|dip| key(dip) as f64)) / 1e3
        )
    };
    let mut table = Table::new(
        &format!(
            "SIP dips beside the flood: {} dips/s over UDP (INVITE, answer, ACK), median of {} runs",
            thousands(options.dips_rate as f64),
            options.runs
        ),
        &[
            "answered",
            "p50 µs",
            "p99 µs",
            "max µs",
            "received with / without dips",
            "stored with / without dips",
        ],
    );
    table.row(vec![
        format!(
            "{:.1}%",
            median(dips.iter().map(|dip| dip.answered_per_mille as f64)) / 10.0
        ),
        micros(|dip| dip.p50),
        micros(|dip| dip.p99),
        micros(|dip| dip.max),
        format!("{received:.3}"),
        format!("{stored:.3}"),
    ]);
    table
}
