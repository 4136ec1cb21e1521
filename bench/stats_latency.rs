//! Benchmark (not a test): how long `/api/v1/stats`'s query and the per-value counts take on a
//! database (fill one with `cargo run --release --example seed -- DB EVENTS IPS NUMBERS`), on a
//! read-only connection as the API's read pool opens them; median of `RUNS` (default 5) after
//! one warm-up call each. Then the dashboard overview's reads one by one (`bench/gui.sh` runs
//! this during its flood, `OVERVIEW_ONLY=1`): the three windows' totals, events per minute over
//! 24 h, the countries of the 100,000 IPs with the most events (and, for comparison, the walk
//! it replaced: the 100,000 most recently seen IPs through the `last_seen` index and their table
//! rows), and `stats`.
//!
//! ```text
//! cargo run --release --example seed -- /tmp/10m.db 10000000 100000 1000000
//! cargo run --release --example stats_latency -- /tmp/10m.db
//! ```

#[allow(dead_code, reason = "only the median is used here")]
#[path = "loadgen/report.rs"]
mod report;
#[allow(
    dead_code,
    reason = "runs() defaults to 3; this benchmark's RUNS defaults to 5"
)]
#[path = "support/settings.rs"]
mod settings;

#[path = "stats_latency/overview.rs"]
mod overview;

use std::time::Instant;

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use sentrypeer::event::format_timestamp;
use sentrypeer::store::{self, query};

/// Milliseconds `call` takes, median of `runs` after one warm-up call.
fn time(runs: usize, mut call: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    call()?;
    let mut took = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        call()?;
        took.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(report::median(took))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db] = args.as_slice() else {
        bail!("usage: stats_latency DB_FILE");
    };
    let conn = store::open_read_only(db.as_ref()).context("open")?;
    let runs = usize::try_from(settings::setting("RUNS", 5))
        .unwrap_or(5)
        .max(1);
    if settings::setting("OVERVIEW_ONLY", 0) != 0 {
        return overview::report(&conn, runs);
    }
    let started = Instant::now();
    let events = store::count_events(&conn)?;
    let all = query::stats(&conn, None, 10)?;
    println!(
        "database: {events} events (COUNT(*) took {:.0} ms), {} IPs, {} numbers",
        started.elapsed().as_secs_f64() * 1000.0,
        all.totals.ip_addresses,
        all.totals.called_numbers
    );
    let now = Timestamp::now();
    for (label, since) in [
        ("all", None),
        ("7d", Some(SignedDuration::from_hours(7 * 24))),
        ("1d", Some(SignedDuration::from_hours(24))),
        ("1h", Some(SignedDuration::from_hours(1))),
    ] {
        let since = since.map(|window| format_timestamp(now - window));
        let stats_ms = time(runs, || {
            query::stats(&conn, since.as_deref(), 10)?;
            Ok(())
        })?;
        let top_ms = time(runs, || {
            query::stats(&conn, since.as_deref(), 1000)?;
            Ok(())
        })?;
        let agents_ms = time(runs, || {
            query::counts_of(
                &conn,
                query::CountedColumn::UserAgent,
                since.as_deref(),
                100,
            )?;
            Ok(())
        })?;
        let stats = query::stats(&conn, since.as_deref(), 10)?;
        println!(
            "since {label}: stats {stats_ms:.2} ms (top 1000: {top_ms:.2} ms), user agents {agents_ms:.2} ms; {} events, {} IPs, {} numbers",
            stats.totals.events, stats.totals.ip_addresses, stats.totals.called_numbers
        );
    }
    overview::report(&conn, runs)
}
