//! The overview page (`/ui/`): totals for all time and the last hour, day and week; events per
//! minute over the last 24 hours; attack types; the top source IPs, called numbers, user agents,
//! destination addresses and source countries; a world map of source countries. Every figure is read in one snapshot of the database with the same
//! query functions the API's `/api/v1/stats` uses, so both show the same numbers.

mod chart;
mod places;
mod world_map;

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};
use rusqlite::Connection;

use super::layout::{self, Nav, count_table, ip_link, number, number_link};
use super::{GuiError, GuiState};
use crate::countries::Countries;
use crate::event::format_timestamp;
use crate::store::StoreError;
use crate::store::query::{self, Stats};

/// Entries in each top list.
const TOP: usize = 10;
/// Source IPs whose countries are counted (those with the most events, so the ones left out
/// weigh least); bounds the page's time when millions of IPs are stored.
const COUNTRY_SAMPLE_IPS: usize = 100_000;

/// The windows the totals are shown for, after "all time".
const WINDOWS: [(&str, SignedDuration); 3] = [
    ("Last hour", SignedDuration::from_hours(1)),
    ("Last 24 h", SignedDuration::from_hours(24)),
    ("Last 7 days", SignedDuration::from_hours(24 * 7)),
];

pub(super) fn routes() -> Router<Arc<GuiState>> {
    Router::new().route("/ui/", get(overview))
}

/// Totals of one window.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    events: u64,
    ip_addresses: u64,
    called_numbers: u64,
}

/// A row of the totals table: its id, label and figure.
type TotalsRow = (&'static str, &'static str, fn(&Window) -> u64);

/// Everything the page shows.
#[derive(Debug)]
struct Overview {
    stats: Stats,
    windows: Vec<Window>,
    per_minute: Vec<(Timestamp, u64)>,
    /// Events per source country (`""`: no country), over the IPs with the most events.
    countries: HashMap<String, u64>,
    day_start: Timestamp,
}

/// Events per source country (`""`: no country) of the [`COUNTRY_SAMPLE_IPS`] source IPs with
/// the most events: the overview's country figures (`bench/stats_latency.rs` times this read).
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn events_by_country(
    conn: &Connection,
    countries: &Countries,
) -> Result<HashMap<String, u64>, StoreError> {
    let mut by_country: HashMap<&str, u64> = HashMap::new();
    query::each_ip_by_events(conn, COUNTRY_SAMPLE_IPS, |ip, events| {
        let country = (ip.parse::<IpAddr>().ok())
            .and_then(|ip| countries.code(ip))
            .unwrap_or_default();
        *by_country.entry(country).or_default() += events;
        ControlFlow::Continue(())
    })?;
    Ok((by_country.into_iter())
        .map(|(code, events)| (code.to_owned(), events))
        .collect())
}

async fn overview(State(state): State<Arc<GuiState>>) -> Result<Response, GuiError> {
    let now = Timestamp::now();
    let reader = Arc::clone(&state);
    let overview = state
        .pool
        .run(move |conn| {
            let snapshot = query::begin_read(conn)?;
            let mut windows = Vec::with_capacity(WINDOWS.len());
            for (_, length) in WINDOWS {
                let since = format_timestamp(now - length);
                let totals = query::totals(&snapshot, Some(&since))?;
                windows.push(Window {
                    events: totals.events,
                    ip_addresses: totals.ip_addresses,
                    called_numbers: totals.called_numbers,
                });
            }
            let day_start = now - SignedDuration::from_hours(24);
            let per_minute = query::events_per_minute(&snapshot, &format_timestamp(day_start))?;
            let by_country = events_by_country(&snapshot, &reader.countries)?;
            let stats = query::stats(&snapshot, None, TOP)?;
            Ok(Overview {
                stats,
                windows,
                per_minute,
                countries: by_country,
                day_start,
            })
        })
        .await?;
    Ok(layout::page("Overview", Nav::Overview, render(&overview)))
}

fn render(overview: &Overview) -> Markup {
    let stats = &overview.stats;
    let mut top_countries: Vec<(&str, u64)> = (overview.countries.iter())
        .map(|(code, count)| (code.as_str(), *count))
        .collect();
    top_countries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    top_countries.truncate(TOP);
    html! {
        h1 { "Overview" }
        (totals(overview))
        section.card #per-minute {
            h2 { "Events per minute, last 24 hours (UTC)" }
            (chart::per_minute(&overview.per_minute, overview.day_start))
        }
        div.grid {
            (count_table("attack-types", "Attack types", stats.by_attack_type.iter().map(|row| (row.value.as_str(), row.count)), None))
            (count_table("top-ips", "Top source IPs", stats.top_ip_addresses.iter().map(|row| (row.key.as_str(), row.seen_count)), Some(ip_link)))
            (count_table("top-numbers", "Top called numbers", stats.top_called_numbers.iter().map(|row| (row.key.as_str(), row.seen_count)), Some(number_link)))
            (count_table("top-user-agents", "Top user agents", stats.by_user_agent.iter().map(|row| (row.value.as_str(), row.count)), None))
            (count_table("top-destinations", "Top destination addresses (this honeypot's, ip:port)", stats.by_destination.iter().map(|row| (row.value.as_str(), row.count)), None))
            (count_table("top-countries", "Top source countries (events)", top_countries, None))
            (count_table("methods", "SIP methods", stats.by_method.iter().map(|row| (row.value.as_str(), row.count)), None))
        }
        section.card #world-map {
            h2 { "Source countries (events)" }
            (world_map::world_map(&overview.countries))
        }
    }
}

/// The totals table: all time, then each window.
fn totals(overview: &Overview) -> Markup {
    let all = Window {
        events: overview.stats.totals.events,
        ip_addresses: overview.stats.totals.ip_addresses,
        called_numbers: overview.stats.totals.called_numbers,
    };
    let columns: Vec<(&str, &str, Window)> = std::iter::once(("all", "All time", all))
        .chain(
            ["hour", "day", "week"]
                .into_iter()
                .zip(WINDOWS)
                .zip(&overview.windows)
                .map(|((id, (label, _)), window)| (id, label, *window)),
        )
        .collect();
    let rows: [TotalsRow; 3] = [
        ("events", "Events", |w| w.events),
        ("ip-addresses", "Source IPs", |w| w.ip_addresses),
        ("called-numbers", "Called numbers", |w| w.called_numbers),
    ];
    html! {
        section.card #totals {
            table.totals {
                thead { tr { th {} @for (_, label, _) in &columns { th scope="col" { (label) } } } }
                tbody {
                    @for (row_id, row_label, value) in rows {
                        tr {
                            th scope="row" { (row_label) }
                            @for (column_id, _, window) in &columns {
                                td id={ (row_id) "-" (column_id) } data-count=(value(window)) {
                                    (number(value(window)))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
