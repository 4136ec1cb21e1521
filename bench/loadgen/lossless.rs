//! After each flood: are all the distinct source IPs and called numbers that reached the
//! honeypot in its database and served by its API, with `seen_count`s summing to the probes it
//! received (issue 15's lossless aggregates)? Each flood's result is recorded here and the
//! benchmark prints one table of them at the end.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::probes::ProbeWriter;
use crate::report::{Table, thousands};

/// How long the API may take to show every key (the writer flushes every second).
const API_DEADLINE: Duration = Duration::from_secs(30);
/// Point lookups per route on the original's `/ip-addresses/{ip}` and `/numbers/{number}`.
const SAMPLED_LOOKUPS: usize = 500;

/// What reached the honeypot.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expected {
    /// Distinct source IPs that sent.
    pub(crate) ips: Vec<IpAddr>,
    /// Distinct called numbers, when known (UDP into a fresh database, nothing dropped by the
    /// kernel: every probe's number; `None` over TCP, after kernel drops, and into a seeded
    /// database whose numbers the probes call too).
    pub(crate) numbers: Option<Vec<String>>,
    /// Probes the honeypot received (its own count).
    pub(crate) received: u64,
}

impl Expected {
    /// A UDP flood of `sequences` probes written by `probes`, sent from `ips`.
    pub(crate) fn udp(ips: &[IpAddr], sent: u64, probes: &ProbeWriter, sequences: u64) -> Self {
        let used = usize::try_from(sent).unwrap_or(usize::MAX).min(ips.len());
        let numbers: HashSet<String> = (0..sequences).map(|s| probes.called_number(s)).collect();
        Self {
            ips: ips[..used].to_vec(),
            numbers: Some(numbers.into_iter().collect()),
            received: 0,
        }
    }
}

/// Keys and the sum of their `seen_count`s, in the database or the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) ips: u64,
    pub(crate) ip_seen: u64,
    pub(crate) numbers: u64,
    pub(crate) number_seen: u64,
}

/// One flood's check.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Completeness {
    pub(crate) expected_ips: u64,
    pub(crate) expected_numbers: Option<u64>,
    pub(crate) received: u64,
    pub(crate) api: Found,
    pub(crate) db: Found,
    /// Sampled point lookups answered 200, and made.
    pub(crate) lookups_found: u64,
    pub(crate) lookups: u64,
    /// Seconds from the end of the flood until the API listed every IP.
    pub(crate) api_after_seconds: f64,
}

impl Completeness {
    /// Whether every key is in both and every count adds up.
    pub(crate) fn whole(&self) -> bool {
        let numbers_ok = |found: &Found| {
            self.expected_numbers.is_none_or(|n| found.numbers == n)
                && found.number_seen == self.received
        };
        [self.api, self.db].iter().all(|found| {
            found.ips == self.expected_ips && found.ip_seen == self.received && numbers_ok(found)
        }) && self.lookups_found == self.lookups
    }
}

/// Lists every IP and number through `/api/v1/ip-addresses` and `/api/v1/numbers` (pages of
/// 1,000), waiting until the IPs' counts add up to what was received; then samples point
/// lookups on the original's routes.
pub(crate) async fn check_api(
    client: &reqwest::Client,
    api: SocketAddr,
    expected: &Expected,
    seeded: Found,
    completeness: &mut Completeness,
) -> anyhow::Result<()> {
    completeness.expected_ips = expected.ips.len() as u64;
    completeness.expected_numbers = expected.numbers.as_ref().map(|n| n.len() as u64);
    completeness.received = expected.received;
    let started = Instant::now();
    let (ips, ip_seen) = loop {
        let (ips, seen) = list(client, api, "ip-addresses").await?;
        let listed = (
            ips.saturating_sub(seeded.ips),
            seen.saturating_sub(seeded.ip_seen),
        );
        let done = listed.0 == completeness.expected_ips && listed.1 == expected.received;
        if done || started.elapsed() > API_DEADLINE {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    completeness.api_after_seconds = started.elapsed().as_secs_f64();
    let (numbers, number_seen) = list(client, api, "numbers").await?;
    let (numbers, number_seen) = (
        numbers.saturating_sub(seeded.numbers),
        number_seen.saturating_sub(seeded.number_seen),
    );
    completeness.api = Found {
        ips,
        ip_seen,
        numbers,
        number_seen,
    };
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    let mut pick = |len: usize| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        usize::try_from(random % len.max(1) as u64).unwrap_or(0)
    };
    let mut paths = Vec::new();
    for _ in 0..SAMPLED_LOOKUPS.min(expected.ips.len()) {
        paths.push(format!(
            "/ip-addresses/{}",
            expected.ips[pick(expected.ips.len())]
        ));
    }
    if let Some(numbers) = &expected.numbers {
        for _ in 0..SAMPLED_LOOKUPS.min(numbers.len()) {
            paths.push(format!("/numbers/{}", numbers[pick(numbers.len())]));
        }
    }
    for path in paths {
        let status = client
            .get(format!("http://{api}{path}"))
            .send()
            .await?
            .status();
        completeness.lookups += 1;
        completeness.lookups_found += u64::from(status.is_success());
    }
    Ok(())
}

/// (items, sum of their `seen_count`s) of a paginated `/api/v1/{route}`.
async fn list(
    client: &reqwest::Client,
    api: SocketAddr,
    route: &str,
) -> anyhow::Result<(u64, u64)> {
    let (mut items, mut seen) = (0, 0);
    let mut cursor = String::new();
    loop {
        let page: serde_json::Value = client
            .get(format!("http://{api}/api/v1/{route}?limit=1000{cursor}"))
            .send()
            .await?
            .json()
            .await?;
        for item in page["items"].as_array().into_iter().flatten() {
            items += 1;
            seen += item["seen_count"].as_u64().unwrap_or(0);
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return Ok((items, seen)),
        }
    }
}

/// The aggregate tables of a stopped honeypot's database, less `seeded` (what the database
/// held before the flood; `Found::default()` for a fresh one).
pub(crate) fn check_db(path: &Path, seeded: Found) -> anyhow::Result<Found> {
    let conn = rusqlite::Connection::open(path)?;
    let count = |table: &str| -> anyhow::Result<(u64, u64)> {
        let (rows, seen): (i64, i64) = conn.query_row(
            &format!("SELECT COUNT(*), COALESCE(SUM(seen_count), 0) FROM {table}"),
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok((
            u64::try_from(rows).unwrap_or(0),
            u64::try_from(seen).unwrap_or(0),
        ))
    };
    let (ips, ip_seen) = count("ip_addresses")?;
    let (numbers, number_seen) = count("called_numbers")?;
    Ok(Found {
        ips: ips.saturating_sub(seeded.ips),
        ip_seen: ip_seen.saturating_sub(seeded.ip_seen),
        numbers: numbers.saturating_sub(seeded.numbers),
        number_seen: number_seen.saturating_sub(seeded.number_seen),
    })
}

/// Every flood's check, by flood name, in the order they ran.
static RESULTS: Mutex<Vec<(String, Completeness)>> = Mutex::new(Vec::new());

/// Records one flood's check.
pub(crate) fn record(name: &str, completeness: Completeness) {
    if let Ok(mut results) = RESULTS.lock() {
        results.push((name.to_owned(), completeness));
    }
}

/// The table of every recorded check (one row per run); `None` when nothing was checked.
pub(crate) fn table() -> Option<Table> {
    let results = RESULTS.lock().ok()?;
    if results.is_empty() {
        return None;
    }
    let mut table = Table::new(
        "Lossless aggregates after each flood (every run): distinct keys that reached the honeypot, in the database / served by /api/v1 listings, and seen_count sums against probes received",
        &[
            "flood",
            "IPs: sent from / DB / API",
            "numbers: called / DB / API",
            "received / IP seen_count sum DB / API",
            "number seen_count sum DB / API",
            "point lookups found",
            "API complete after",
            "all 100%",
        ],
    );
    for (name, c) in results.iter() {
        table.row(vec![
            name.clone(),
            format!(
                "{} / {} / {}",
                thousands(c.expected_ips as f64),
                thousands(c.db.ips as f64),
                thousands(c.api.ips as f64)
            ),
            format!(
                "{} / {} / {}",
                c.expected_numbers
                    .map_or_else(|| "?".to_owned(), |n| thousands(n as f64)),
                thousands(c.db.numbers as f64),
                thousands(c.api.numbers as f64)
            ),
            format!(
                "{} / {} / {}",
                thousands(c.received as f64),
                thousands(c.db.ip_seen as f64),
                thousands(c.api.ip_seen as f64)
            ),
            format!(
                "{} / {}",
                thousands(c.db.number_seen as f64),
                thousands(c.api.number_seen as f64)
            ),
            format!("{} of {}", c.lookups_found, c.lookups),
            format!("{:.1} s", c.api_after_seconds),
            if c.whole() { "yes" } else { "NO" }.into(),
        ]);
    }
    Some(table)
}
