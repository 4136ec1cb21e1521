//! The peers page (`/ui/peers`): this node's PeerId, the peers connected now (what each
//! contributed, its reciprocity status and what was refused from it by reason:
//! [`super::connected`]), records received, accepted and refused by reason, and each peer's
//! reciprocity over the window ([`super::reciprocity`]: whether it shares back, what it
//! contributed, from the database, and what was refused from it), read from the same telemetry
//! registry `/api/v1/health` renders, and the community analytics other nodes share
//! ([`super::community`]). With peer-to-peer sharing off the page says so.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use jiff::Timestamp;
use maud::html;
use serde_json::Value;

use super::connected::{self, REFUSALS};
use super::layout::{self, Nav, count_table, number};
use super::{GuiError, GuiState, community, reciprocity};
use crate::event::format_timestamp;
use crate::store::query;
use crate::telemetry::Readings;

/// The p2p counters shown as catch-up refusals, with what each means.
const CATCH_UP_REFUSALS: [(&str, &str); 5] = [
    ("catch_up_refused", "contributed too little"),
    (
        "catch_up_refused_busy",
        "busy (one at a time, pages at once)",
    ),
    ("catch_up_refused_pace", "sooner than the pace allows"),
    ("catch_up_refused_window_served", "window served already"),
    (
        "catch_up_cut_off",
        "peers cut off for breaking the protocol",
    ),
];

pub(super) fn routes() -> Router<Arc<GuiState>> {
    Router::new().route("/ui/peers", get(peers))
}

async fn peers(State(state): State<Arc<GuiState>>) -> Result<Response, GuiError> {
    let p2p = Readings::of(&state.telemetry)
        .health_details()
        .remove("p2p")
        .unwrap_or(Value::Null);
    let rule = state.sharing_rule;
    let since = format_timestamp(Timestamp::now() - rule.window);
    let contributions = state
        .pool
        .run(move |conn| query::contributions_since(conn, &since))
        .await?;
    let refused_by_peer: std::collections::BTreeMap<String, u64> = (p2p.get("dropped_by_peer"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(peer, count)| (peer.clone(), count.as_u64().unwrap_or(0)))
        .collect();
    let window = format!("over {} h", rule.window.as_hours());
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
                    REFUSALS.iter().filter(|(name, _)| p2p.get(*name).is_some())
                        .map(|(name, label)| (*label, counter(name))), None))
                (count_table("catch-up-refused", "Catch-up requests refused, by reason",
                    CATCH_UP_REFUSALS.iter().map(|(name, label)| (*label, counter(name))), None))
            }
            (connected::card_of(&state))
            (reciprocity::table(&contributions, &refused_by_peer, rule.min_contribution, &window))
        }
        (community::card_of(&state))
    };
    Ok(layout::page("Peers", Nav::Peers, body))
}
