//! Micro-benchmark: what parsing and attack classification cost per message (not a test):
//! nanoseconds per message for `sip::parse` alone, and for `parse` plus `sip::classify` (what
//! capture adds per message), for every message in `tests/fixtures/sip/`, 200,000 iterations
//! each, median of `RUNS` runs (default 3).
//!
//! ```text
//! cargo run --release --example classification
//! ```

#[allow(dead_code, reason = "only the median is used here")]
#[path = "loadgen/report.rs"]
mod report;
#[path = "support/settings.rs"]
mod settings;

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use sentrypeer::sip::{classify, parse};

const ITERATIONS: u32 = 200_000;

/// Nanoseconds per call of `work`, over [`ITERATIONS`] calls.
fn nanoseconds_per_call(work: &dyn Fn()) -> f64 {
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        work();
    }
    start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
}

fn main() -> anyhow::Result<()> {
    let runs = settings::runs();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sip");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| dir.display().to_string())?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    fixtures.sort();
    for path in fixtures {
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        let (mut parse_only, mut classified) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            parse_only.push(nanoseconds_per_call(&|| {
                black_box(parse(black_box(&bytes)));
            }));
            classified.push(nanoseconds_per_call(&|| {
                let probe = parse(black_box(&bytes));
                black_box(classify(&probe));
            }));
        }
        println!(
            "{}: parse {:.0} ns, parse + classify {:.0} ns (median of {runs})",
            path.file_name().unwrap_or_default().to_string_lossy(),
            report::median(parse_only),
            report::median(classified)
        );
    }
    Ok(())
}
