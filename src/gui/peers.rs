//! The peers page (`/ui/peers`): this node's PeerId and connected peers, records received,
//! accepted and refused by reason, and what each peer contributed over the last 7 days (from
//! the database), all read from the same telemetry registry `/api/v1/health` renders. With
//! peer-to-peer sharing off the page says so.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use maud::html;
use serde_json::Value;

use super::layout::{self, Nav, count_table, number};
use super::{GuiError, GuiState};
use crate::event::format_timestamp;
use crate::store::query;
use crate::telemetry::Readings;

/// How far back contributions are counted.
const CONTRIBUTIONS_OVER: SignedDuration = SignedDuration::from_hours(24 * 7);

/// The p2p counters shown as refusals, with what each means.
const REFUSALS: [(&str, &str); 7] = [
    ("rejected_signature", "bad signature"),
    (
        "rejected_malformed",
        "malformed, wrong version or too large fields",
    ),
    (
        "rejected_window",
        "outside the retention window or in the future",
    ),
    ("rejected_network", "another network"),
    ("rejected_denied", "denied peer"),
    ("rate_limited", "over the per-author rate"),
    ("records_too_large", "too large"),
];

pub(super) fn routes() -> Router<Arc<GuiState>> {
    Router::new().route("/ui/peers", get(peers))
}

async fn peers(State(state): State<Arc<GuiState>>) -> Result<Response, GuiError> {
    let p2p = Readings::of(&state.telemetry)
        .health_details()
        .remove("p2p")
        .unwrap_or(Value::Null);
    let since = format_timestamp(Timestamp::now() - CONTRIBUTIONS_OVER);
    let mut contributions = state
        .pool
        .run(move |conn| query::contributions_since(conn, &since))
        .await?;
    contributions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let counter = |name: &str| p2p.get(name).and_then(Value::as_u64).unwrap_or(0);
    let body = html! {
        h1 { "Peers" }
        @if p2p.is_null() {
            section.card #p2p-off {
                p { "Peer-to-peer sharing is off (" code { "-p" } " turns it on)." }
            }
        } @else {
            section.card #this-node {
                dl {
                    dt { "This node's PeerId" }
                    dd #peer-id { (p2p.get("peer_id").and_then(Value::as_str).unwrap_or("starting")) }
                    dt { "Connected peers" } dd #connected-peers { (number(counter("connected_peers"))) }
                    dt { "Records published" } dd { (number(counter("published_records"))) }
                    dt { "Records received" } dd { (number(counter("received_records"))) }
                    dt { "Accepted" } dd #accepted { (number(counter("accepted_records"))) }
                    dt { "Duplicates" } dd { (number(counter("duplicate_records"))) }
                }
            }
            div.grid {
                (count_table("refused", "Records refused, by reason",
                    REFUSALS.iter().map(|(name, label)| (*label, counter(name))), None))
                (count_table("contributions", "Records stored per peer, last 7 days",
                    contributions.iter().map(|(peer, count)| (peer.as_str(), *count)), None))
                (count_table("dropped-by-peer", "Our messages a peer dropped",
                    p2p.get("dropped_by_peer").and_then(Value::as_object).into_iter().flatten()
                        .map(|(peer, count)| (peer.as_str(), count.as_u64().unwrap_or(0))), None))
            }
        }
    };
    Ok(layout::page("Peers", Nav::Peers, body))
}
