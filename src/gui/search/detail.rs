//! One source IP's or called number's page: the live blocklist's facts, the database's
//! counter, the other side of its calls, credentials tried and its newest raw SIP messages
//! (each rendered as text in a `<pre>`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use maud::{Markup, html};

use super::super::layout::{self, Nav, count_table, ip_link, number, number_link};
use super::super::{GuiError, GuiState};
use crate::blocklist::EntryView;
use crate::store::query::{self, EventRow, OriginFilter, SeenRecord};

/// Newest events read for a page.
const EVENTS_SHOWN: usize = 100;
/// Of those, how many show their raw SIP message.
const MESSAGES_SHOWN: usize = 20;

/// What a detail page is about.
#[derive(Debug, Clone)]
pub(super) enum Subject {
    Ip(IpAddr),
    Number(String),
}

impl Subject {
    fn text(&self) -> String {
        match self {
            Self::Ip(ip) => ip.to_string(),
            Self::Number(number) => number.clone(),
        }
    }
}

/// The other side of a subject's calls: its heading, the event field and the link to it.
type OtherSide = (
    &'static str,
    fn(&EventRow) -> Option<&str>,
    fn(&str) -> String,
);

/// What is known about a subject.
#[derive(Debug)]
struct Facts {
    entry: Option<EntryView>,
    seen: Option<SeenRecord>,
    events: Vec<EventRow>,
    country: Option<String>,
}

/// The subject's page; 404 when nothing is known of it.
pub(super) async fn page(state: Arc<GuiState>, subject: Subject) -> Result<Response, GuiError> {
    let (entry, country) = match &subject {
        Subject::Ip(ip) => (
            state.blocklist.lookup_ip(*ip),
            state.countries.code(*ip).map(str::to_owned),
        ),
        Subject::Number(number) => (state.blocklist.lookup_number(number), None),
    };
    let key = subject.text();
    let is_ip = matches!(subject, Subject::Ip(_));
    let (seen, events) = state
        .pool
        .run(move |conn| {
            let snapshot = query::begin_read(conn)?;
            if is_ip {
                Ok((
                    query::ip_seen(&snapshot, &key, OriginFilter::Any)?,
                    query::events_from_ip(&snapshot, &key, EVENTS_SHOWN)?,
                ))
            } else {
                Ok((
                    query::number_seen(&snapshot, &key, OriginFilter::Any)?,
                    query::events_to_number(&snapshot, &key, EVENTS_SHOWN)?,
                ))
            }
        })
        .await?;
    let facts = Facts {
        entry,
        seen,
        events,
        country,
    };
    if facts.entry.is_none() && facts.seen.is_none() && facts.events.is_empty() {
        return Ok(unknown(&subject.text()));
    }
    Ok(layout::page(
        &subject.text(),
        Nav::Search,
        render(&subject, &facts),
    ))
}

/// The page for something never seen (or not an IP or number at all).
pub(super) fn unknown(asked: &str) -> Response {
    let body = html! {
        h1 { "Not seen" }
        section.card {
            p { "Nothing is recorded for “" (asked) "”." }
            p { a href="/ui/search" { "Search again" } }
        }
    };
    (
        StatusCode::NOT_FOUND,
        layout::page("Not seen", Nav::Search, body),
    )
        .into_response()
}

fn render(subject: &Subject, facts: &Facts) -> Markup {
    let (heading, other): (&str, OtherSide) = match subject {
        Subject::Ip(_) => (
            "Source IP",
            (
                "Numbers it dialled",
                |e| e.called_number.as_deref(),
                number_link,
            ),
        ),
        Subject::Number(_) => (
            "Called number",
            ("IPs that dialled it", |e| e.source_ip.as_deref(), ip_link),
        ),
    };
    let (other_heading, other_of, other_link) = other;
    html! {
        h1 { (heading) " " span.subject { (subject.text()) } }
        div.grid {
            (summary(facts))
            (count_table("other-side", other_heading, tally(&facts.events, other_of), Some(other_link)))
            (count_table("credentials", "Usernames tried", tally(&facts.events, |e| e.auth_username.as_deref()), None))
            (count_table("user-agents", "User agents", tally(&facts.events, |e| e.user_agent.as_deref()), None))
        }
        (events_table(&facts.events))
        (messages(&facts.events))
    }
}

/// The facts list.
fn summary(facts: &Facts) -> Markup {
    html! {
        section.card #summary {
            h2 { "Seen" }
            dl {
                @if let Some(entry) = &facts.entry {
                    dt { "First seen" } dd #first-seen { (time(entry.first_seen)) }
                    dt { "Last seen" } dd #last-seen { (time(entry.last_seen)) }
                    dt { "Events (live list)" } dd #count { (number(entry.count())) }
                    dt { "Origins" } dd #origins {
                        (number(u64::from(entry.local_count))) " captured here, "
                        (number(u64::from(entry.remote_count))) " reported by "
                        (entry.authors.distinct_at_least()) @if entry.authors.has_more() { "+" } " peers"
                    }
                    dt { "Attack types" } dd #attack-types {
                        @for (index, kind) in entry.attack_types().enumerate() {
                            @if index > 0 { ", " } (kind.as_str())
                        }
                    }
                    dt { "Answers our replies" } dd { @if entry.proven { "yes" } @else { "not proven" } }
                } @else {
                    dt { "Live list" } dd { "not in the live blocklist (expired or evicted)" }
                }
                @if let Some(seen) = &facts.seen {
                    dt { "Events (database)" } dd #seen-count { (number(seen.seen_count)) }
                    dt { "Last stored" } dd { (seen.seen_last) }
                }
                @if let Some(country) = &facts.country {
                    dt { "Country" } dd #country { (country) }
                }
            }
        }
    }
}

/// How often each value of `field` occurs in `events`, most first.
fn tally(events: &[EventRow], field: fn(&EventRow) -> Option<&str>) -> Vec<(&str, u64)> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for value in events
        .iter()
        .filter_map(field)
        .filter(|value| !value.is_empty())
    {
        *counts.entry(value).or_default() += 1;
    }
    let mut rows: Vec<(&str, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    rows.truncate(10);
    rows
}

fn events_table(events: &[EventRow]) -> Markup {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    html! {
        section.card #events {
            h2 { "Newest events (" (events.len()) ")" }
            table.events {
                thead { tr { th { "Time (UTC)" } th { "Transport" } th { "Method" } th { "From" } th { "Number" } th { "User agent" } th { "Attack" } th { "Origin" } } }
                tbody {
                    @for event in events {
                        tr {
                            td { (text(&event.event_timestamp)) }
                            td { (text(&event.transport_type)) }
                            td { (text(&event.method)) }
                            td { (text(&event.source_ip)) }
                            td { (text(&event.called_number)) }
                            td.user-agent { (text(&event.user_agent)) }
                            td { (text(&event.attack_type)) }
                            td { (event.origin) }
                        }
                    }
                }
            }
        }
    }
}

/// The newest raw SIP messages, the newest one open.
fn messages(events: &[EventRow]) -> Markup {
    html! {
        section.card #messages {
            h2 { "Raw SIP messages" }
            @for (index, event) in events.iter().filter(|e| e.sip_message.is_some()).take(MESSAGES_SHOWN).enumerate() {
                details open[index == 0] {
                    summary {
                        (event.event_timestamp.as_deref().unwrap_or_default()) " "
                        (event.method.as_deref().unwrap_or("(no method)"))
                        " from " (event.source_ip.as_deref().unwrap_or_default())
                    }
                    pre.sip-message { (event.sip_message.as_deref().unwrap_or_default()) }
                }
            }
        }
    }
}

fn time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}
