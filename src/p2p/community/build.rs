//! This node's summary, built from the store (its own events only: see
//! [`query::local_activity`]): the rollups give events by attack type and method, the aggregate
//! tables the distinct source IPs (each placed in its country) and called numbers. The same
//! function serves the node's hourly publication and `--print-shared-stats`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::ControlFlow;

use jiff::Timestamp;
use rusqlite::Connection;

use super::summary::{is_country_code, is_method};
use crate::countries::Countries;
use crate::event::format_timestamp;
use crate::p2p::protocol::{
    MAX_SUMMARY_COUNT, MAX_SUMMARY_COUNTRIES, MAX_SUMMARY_METHODS, PROTOCOL_VERSION,
    SUMMARY_PERIOD, SummaryBody, UNKNOWN_COUNTRY,
};
use crate::store::StoreError;
use crate::store::query::{self, CountBy};

/// Values read per list before the invalid ones are left out: attackers' methods that are not
/// SIP tokens would otherwise push real ones out of the list.
const VALUES_READ: usize = 4 * MAX_SUMMARY_METHODS;

/// Who the summary is from.
#[derive(Debug, Clone)]
pub struct Author {
    /// The `--p2p-network`.
    pub network: String,
    /// The node's PeerId (base58).
    pub peer_id: String,
}

/// The summary of this node's own activity over the [`SUMMARY_PERIOD`] before `now`, in one
/// snapshot of the database.
///
/// # Errors
/// A failed query.
pub fn summarize(
    conn: &Connection,
    countries: &Countries,
    author: &Author,
    now: Timestamp,
) -> Result<SummaryBody, StoreError> {
    let end_second = now.as_second();
    let start_second = (end_second - SUMMARY_PERIOD.as_secs()).div_euclid(60) * 60;
    let at = |second: i64| Timestamp::from_second(second).unwrap_or(now);
    let (start, end) = (at(start_second), at(end_second));
    let snapshot = query::begin_read(conn)?;
    let mut ip_addresses = 0_u64;
    let mut by_country: BTreeMap<String, u64> = BTreeMap::new();
    let activity = query::local_activity(&snapshot, &format_timestamp(start), VALUES_READ, |ip| {
        ip_addresses += 1;
        let code = ip
            .parse::<IpAddr>()
            .ok()
            .and_then(|ip| countries.code(ip))
            .filter(|code| is_country_code(code))
            .unwrap_or(UNKNOWN_COUNTRY)
            .to_owned();
        *by_country.entry(code).or_default() += 1;
        ControlFlow::Continue(())
    })?;
    drop(snapshot);
    if by_country.len() > MAX_SUMMARY_COUNTRIES {
        by_country = within_country_limit(by_country);
    }
    let capped = |count: u64| count.min(MAX_SUMMARY_COUNT);
    Ok(SummaryBody {
        v: PROTOCOL_VERSION,
        network: author.network.clone(),
        peer_id: author.peer_id.clone(),
        period_start: start.to_string(),
        period_end: end.to_string(),
        events: capped(activity.events),
        ip_addresses: capped(ip_addresses),
        called_numbers: capped(activity.called_numbers),
        by_attack_type: listed(activity.by_attack_type, |name| {
            crate::sip::AttackType::from_name(name).is_some()
        }),
        by_method: listed(activity.by_method, is_method),
        by_country: by_country
            .into_iter()
            .map(|(code, count)| (code, capped(count)))
            .collect(),
    })
}

/// The first [`MAX_SUMMARY_METHODS`] counts (largest first) whose value passes `valid`.
fn listed(counts: Vec<CountBy>, valid: impl Fn(&str) -> bool) -> BTreeMap<String, u64> {
    counts
        .into_iter()
        .filter(|count| valid(&count.value) && count.count > 0)
        .take(MAX_SUMMARY_METHODS)
        .map(|count| (count.value, count.count.min(MAX_SUMMARY_COUNT)))
        .collect()
}

/// The largest countries, the rest under [`UNKNOWN_COUNTRY`] (a database with more codes than
/// ISO assigns).
fn within_country_limit(by_country: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut sorted: Vec<(String, u64)> = by_country.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut kept: BTreeMap<String, u64> = BTreeMap::new();
    let mut rest = 0_u64;
    for (code, count) in sorted {
        if kept.len() < MAX_SUMMARY_COUNTRIES - 1 || code == UNKNOWN_COUNTRY {
            *kept.entry(code).or_default() += count;
        } else {
            rest += count;
        }
    }
    *kept.entry(UNKNOWN_COUNTRY.to_owned()).or_default() += rest;
    kept
}
