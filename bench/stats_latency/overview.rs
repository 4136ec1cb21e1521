//! The dashboard overview's reads (`src/gui/overview.rs`), each timed on its own with the same
//! query functions and arguments, so a slow page can be traced to its query.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;
use sentrypeer::countries::Countries;
use sentrypeer::event::format_timestamp;
use sentrypeer::gui;
use sentrypeer::store::query::{self, ListFilter};

use super::time;

/// IPs the walk the overview replaced read (its `COUNTRY_SAMPLE_IPS`).
const COUNTRY_IPS: usize = 100_000;

/// Prints the median milliseconds of each of the overview's reads.
pub(crate) fn report(conn: &Connection, runs: usize) -> anyhow::Result<()> {
    let countries = Countries::BuiltIn;
    let now = Timestamp::now();
    let windows_ms = time(runs, || {
        for hours in [1, 24, 24 * 7] {
            let since = format_timestamp(now - SignedDuration::from_hours(hours));
            query::totals(conn, Some(&since))?;
        }
        Ok(())
    })?;
    let day = format_timestamp(now - SignedDuration::from_hours(24));
    let per_minute_ms = time(runs, || {
        query::events_per_minute(conn, &day)?;
        Ok(())
    })?;
    let mut countries_found = 0;
    let countries_ms = time(runs, || {
        countries_found = gui::events_by_country(conn, &countries)?.len();
        Ok(())
    })?;
    let mut former: HashMap<String, u64> = HashMap::new();
    let former_ms = time(runs, || {
        former.clear();
        query::each_ip(
            conn,
            &ListFilter::default(),
            None,
            Some(COUNTRY_IPS),
            |record| {
                let code = (record.key.parse::<IpAddr>().ok())
                    .and_then(|ip| countries.code(ip))
                    .map(str::to_owned);
                *former.entry(code.unwrap_or_default()).or_default() += record.seen_count;
                ControlFlow::Continue(())
            },
        )?;
        Ok(())
    })?;
    let stats_ms = time(runs, || {
        query::stats(conn, None, 10)?;
        Ok(())
    })?;
    println!(
        "overview reads, ms: windows {windows_ms:.2}, per minute {per_minute_ms:.2}, countries \
         {countries_ms:.2} ({} countries; the former newest-first walk {former_ms:.2}), stats \
         {stats_ms:.2}",
        countries_found
    );
    Ok(())
}
