//! The health page (`/ui/health`): the same counters and drops as `/api/v1/health` (read from
//! the one telemetry registry), the running configuration with secrets masked, where countries
//! come from, and links to every feed.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use serde_json::Value;

use super::layout::{self, Nav};
use super::{GuiError, GuiState};
use crate::event::APP_VERSION;
use crate::store::query;
use crate::telemetry::Readings;

/// The API's feeds and machine-readable routes, linked from the page.
const FEEDS: [(&str, &str); 8] = [
    ("/api/v1/health", "Health (JSON)"),
    ("/api/v1/stats", "Statistics (JSON)"),
    ("/api/v1/feeds/ips.txt", "Blocklist: IPs, one a line"),
    ("/api/v1/feeds/ipset", "Blocklist: ipset restore file"),
    ("/api/v1/feeds/nftables", "Blocklist: nftables set"),
    (
        "/api/v1/feeds/numbers.txt",
        "Blocklist: numbers, one a line",
    ),
    (
        "/v1/decisions/stream",
        "CrowdSec decision stream (bouncer key)",
    ),
    ("/metrics", "Prometheus metrics"),
];

pub(super) fn routes() -> Router<Arc<GuiState>> {
    Router::new().route("/ui/health", get(health))
}

async fn health(State(state): State<Arc<GuiState>>) -> Result<Response, GuiError> {
    let latest = state.pool.run(query::latest_event_timestamp).await?;
    let counters = Value::Object(Readings::of(&state.telemetry).health_details());
    let body = html! {
        h1 { "Health" }
        section.card #about {
            dl {
                dt { "Version" } dd { (APP_VERSION) }
                dt { "Node id" } dd #node-id { (state.node_id.hyphenated()) }
                dt { "Up for" } dd { (state.started.elapsed().as_secs()) " s" }
                dt { "Newest event" } dd { (latest.unwrap_or_else(|| "none yet".to_owned())) }
                dt { "Countries from" } dd { (state.countries.source_name()) }
            }
        }
        div.grid {
            section.card #counters {
                h2 { "Counters and drops" }
                (tree(&counters))
            }
            section.card #configuration {
                h2 { "Running configuration (secrets masked)" }
                (tree(&state.configuration))
            }
            section.card #feeds {
                h2 { "Feeds" }
                ul { @for (href, label) in FEEDS { li { a href=(href) { (label) } " " code { (href) } } } }
            }
        }
    };
    Ok(layout::page("Health", Nav::Health, body))
}

/// A JSON value as nested definition lists (scalars as text).
fn tree(value: &Value) -> Markup {
    html! {
        @match value {
            Value::Object(map) => {
                dl.tree {
                    @for (key, value) in map {
                        dt { (key) }
                        dd { (tree(value)) }
                    }
                }
            },
            Value::Array(items) if items.is_empty() => { em { "none" } },
            Value::Array(items) => {
                ul { @for item in items { li { (tree(item)) } } }
            },
            Value::Null => { em { "off" } },
            Value::String(text) => { (text) },
            other => { (other.to_string()) },
        }
    }
}
