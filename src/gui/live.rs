//! The live page (`/ui/live`): the newest events, rendered on the server (readable with
//! JavaScript off), then new events and blocklist decisions as they happen, followed by
//! `live.js` from the API's own stream, `/api/v1/stream` (Server-Sent Events; its client cap,
//! stall handling and token check apply, the session cookie standing for the token). Under a
//! flood the script counts every message but keeps only a sample of the newest rows, so the
//! tab stays responsive and its memory bounded.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use maud::html;

use super::layout::{self, Nav};
use super::{GuiError, GuiState};
use crate::store::query::{self, EventFilter};

/// Events shown when the page loads (the script keeps the same number of rows).
const EVENTS_ON_LOAD: usize = 50;
/// What the page follows: every event and decision of the API's live stream.
const STREAM: &str = "/api/v1/stream";

pub(super) fn routes() -> Router<Arc<GuiState>> {
    Router::new().route("/ui/live", get(live))
}

async fn live(State(state): State<Arc<GuiState>>) -> Result<Response, GuiError> {
    let events = state
        .pool
        .run(|conn| {
            query::recent_events(
                conn,
                &EventFilter {
                    limit: EVENTS_ON_LOAD,
                    ..EventFilter::default()
                },
            )
        })
        .await?;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let body = html! {
        h1 { "Live" }
        section.card #live-status data-stream=(STREAM) data-rows=(EVENTS_ON_LOAD) {
            p {
                span #connection { "Live updates need JavaScript; the tables below are as of this page's load." }
            }
            p.counters {
                "Events received: " strong #event-count { "0" }
                " (" strong #event-rate { "0" } " per second)"
                " · decisions received: " strong #decision-count { "0" }
                " · missed: " strong #missed-count { "0" }
            }
            p.caption {
                "Each table keeps the newest " (EVENTS_ON_LOAD) " rows; under a flood the counters "
                "count every message and the tables show a sample."
            }
        }
        section.card {
            h2 { "Blocklist decisions as they happen" }
            table #decisions {
                thead { tr { th { "Last seen (UTC)" } th { "Change" } th { "Type" } th { "Key" } th { "Events" } th { "Attack types" } } }
                tbody {}
            }
        }
        section.card {
            h2 { "Newest events" }
            table #recent-events {
                thead { tr { th { "Time (UTC)" } th { "From" } th { "Method" } th { "Number" } th { "User agent" } th { "Attack" } } }
                tbody {
                    @for event in &events {
                        tr {
                            td { (text(&event.event_timestamp)) }
                            td { (text(&event.source_ip)) }
                            td { (text(&event.method)) }
                            td { (text(&event.called_number)) }
                            td.user-agent { (text(&event.user_agent)) }
                            td { (text(&event.attack_type)) }
                        }
                    }
                }
            }
        }
        script src="/ui/assets/live.js" defer {}
    };
    Ok(layout::page("Live", Nav::Live, body))
}
