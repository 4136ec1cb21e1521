//! The live page (`/ui/live`): the newest events, rendered on the server (readable with
//! JavaScript off), then blocklist decisions as they happen, pushed by Server-Sent Events from
//! `/ui/live/changes` and added by `live.js` without a reload. Under a flood the script keeps
//! counting every message but shows only the newest rows, so the tab stays responsive.
//!
//! `/ui/live/changes` streams the live blocklist's change stream in the `decision` message
//! form of the API's live stream; a client that falls behind the broadcast is told (`missed`)
//! and disconnected, and its browser reconnects.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::layout::{self, Nav};
use super::{GuiError, GuiState};
use crate::blocklist::{Change, Key, SubscriptionEnded};
use crate::store::query::{self, EventFilter};

/// Events shown when the page loads.
const EVENTS_ON_LOAD: usize = 50;
/// Messages waiting for one browser before it is disconnected.
const MESSAGES_IN_FLIGHT: usize = 256;
/// Comment lines keep idle connections open through proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(super) fn routes() -> Router<Arc<GuiState>> {
    Router::new()
        .route("/ui/live", get(live))
        .route("/ui/live/changes", get(changes))
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
        section.card #live-status data-stream="/ui/live/changes" {
            p {
                span #connection { "Live updates need JavaScript; the tables below are as of this page's load." }
            }
            p.counters {
                "Decisions received: " strong #decision-count { "0" }
                " · missed: " strong #missed-count { "0" }
            }
        }
        section.card {
            h2 { "Blocklist decisions as they happen" }
            table #decisions {
                thead { tr { th { "Time (UTC)" } th { "Change" } th { "Type" } th { "Key" } th { "Events" } th { "Attack types" } } }
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

/// The change stream, as Server-Sent Events.
async fn changes(State(state): State<Arc<GuiState>>) -> Response {
    let (sender, receiver) = mpsc::channel::<Result<Event, Infallible>>(MESSAGES_IN_FLIGHT);
    let mut subscription = state.blocklist.subscribe();
    let stop = state.stop.clone();
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => break,
                () = sender.closed() => break,
                change = subscription.recv() => match change {
                    Ok(change) => decision(&change),
                    Err(SubscriptionEnded::TooSlow { missed }) => {
                        let _ = sender.try_send(Ok(Event::default().event("missed").data(json!({ "decisions": missed }).to_string())));
                        break;
                    }
                    Err(_) => break,
                },
            };
            if sender.try_send(Ok(message)).is_err() {
                break;
            }
        }
    });
    Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

/// A change as a `decision` message.
fn decision(change: &Change) -> Event {
    let entry = &change.entry;
    let key_type = match change.key {
        Key::Ip(_) => "ip",
        Key::Number(_) => "number",
    };
    let data = json!({
        "seq": change.seq,
        "change": change.kind.as_str(),
        "removed": change.kind.is_removal(),
        "key_type": key_type,
        "key": change.key.to_string(),
        "first_seen": entry.first_seen.to_string(),
        "last_seen": entry.last_seen.to_string(),
        "count": entry.count(),
        "local_count": entry.local_count,
        "remote_count": entry.remote_count,
        "attack_types": entry.attack_types().map(|kind| kind.as_str()).collect::<Vec<_>>(),
    });
    Event::default()
        .id(change.seq.to_string())
        .event("decision")
        .data(data.to_string())
}
