//! `GET /api/v1/stream`: Server-Sent Events (`text/event-stream`) of what the honeypot sees as it
//! sees it, for dashboards, agents and feeds that want a push instead of polling.
//!
//! - `event`: each captured event and accepted peer record, in its JSON form (as the JSON log
//!   writes it). Best effort: a client behind the live broadcast misses the oldest events and is
//!   told so (`missed`, counted); no `id`.
//! - `decision`: each change of the live blocklist (new key, verdict-relevant update, expiry,
//!   eviction) with what changed and why; `id` is the change's number. Raw list changes by
//!   default; `policy=feeds|crowdsec` keeps only keys that are (for removals: were, when last
//!   seen) verdicts of that consumer's policy. Lossless within the replay window: a client
//!   that falls too far behind is disconnected, and resumes with `Last-Event-ID` (or
//!   `last_event_id`); an id that left the window (or was never issued) gets `reset`: reload the
//!   full list, then follow.
//!
//! Filters: `kind`, `origin`, `attack_type`, `policy` ([`filter`]). The API token applies. At
//! most [`MAX_CLIENTS`] clients at once (more get 503). A client that stops reading is
//! disconnected once its [`client::QUEUED_CHUNKS`] queued chunks have had no room for
//! [`client::STALL_TIMEOUT`]; capture never waits.

pub(crate) mod client;
mod filter;
mod message;

use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use tokio::sync::mpsc;

use super::body::with_type;
use super::params::{Params, bad};
use super::serve::ConnectionControl;
use super::{ApiError, ApiState};
use crate::blocklist::{Blocklist, Change, Subscription};
use client::Client;
use filter::StreamFilter;

/// Clients following the stream at once; more get 503.
pub(crate) const MAX_CLIENTS: usize = 64;

/// `Content-Type` of the stream.
const EVENT_STREAM: &str = "text/event-stream";

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/stream", get(stream))
}

type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

async fn stream(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    query: RawQuery,
    control: Option<Extension<ConnectionControl>>,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let filter = StreamFilter::take(&mut params, &state.blocklist)?;
    let from_query = params.unsigned("last_event_id")?;
    params.finish()?;
    // A reconnecting EventSource sends the header with the URL it first used: the header is
    // the newer position.
    let last_event_id = last_event_id_header(&headers)?.or(from_query);
    let slot = state
        .live_events
        .admit(MAX_CLIENTS)
        .ok_or(ApiError::TooManyClients)?;
    // Subscribe before anything is sent, so nothing falls between the opening and the stream.
    let events = filter.events.then(|| state.live_events.subscribe());
    let (opening, replay, decisions) = if filter.decisions {
        let start = Start::at(&state.blocklist, last_event_id);
        (start.opening, start.replay, Some(start.subscription))
    } else {
        let mut opening = String::new();
        message::open(&mut opening, None, 0);
        (opening, Vec::new(), None)
    };
    let (body, receiver) = mpsc::channel(client::QUEUED_CHUNKS);
    let client = Client {
        state,
        filter,
        decisions,
        events,
        body,
        control: control
            .map(|Extension(control)| control)
            .unwrap_or_default(),
        slot,
    };
    tokio::spawn(client.run(opening, replay));
    Ok(event_stream(receiver))
}

/// `Last-Event-ID`: a change number.
fn last_event_id_header(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .ok_or_else(|| bad("Last-Event-ID", "expected an id this stream sent"))
        })
        .transpose()
}

/// Where a client's decisions start: the opening message, the changes to replay, and the
/// subscription to the changes after them.
struct Start {
    opening: String,
    replay: Vec<Arc<Change>>,
    subscription: Subscription,
}

impl Start {
    /// After `last_event_id` when it can be resumed; from now otherwise (with `reset` when an
    /// id was given).
    fn at(blocklist: &Blocklist, last_event_id: Option<u64>) -> Self {
        let mut opening = String::new();
        if let Some(id) = last_event_id {
            match blocklist.resume(id) {
                Ok((replay, subscription)) => {
                    message::open(&mut opening, Some(id), replay.len());
                    return Self {
                        opening,
                        replay,
                        subscription,
                    };
                }
                Err(error) => {
                    let (position, replay, subscription) = from_now(blocklist);
                    message::reset(&mut opening, position, id, &error);
                    return Self {
                        opening,
                        replay,
                        subscription,
                    };
                }
            }
        }
        let (position, replay, subscription) = from_now(blocklist);
        message::open(&mut opening, Some(position), 0);
        Self {
            opening,
            replay,
            subscription,
        }
    }
}

/// The id of the latest change, and the changes after it with a subscription to the rest (so
/// one published meanwhile is neither lost nor sent twice).
fn from_now(blocklist: &Blocklist) -> (u64, Vec<Arc<Change>>, Subscription) {
    let position = blocklist.stats().next_seq.saturating_sub(1);
    match blocklist.resume(position) {
        Ok((replay, subscription)) => (position, replay, subscription),
        // Only if more changes than the window holds were published in between.
        Err(_) => (position, Vec::new(), blocklist.subscribe()),
    }
}

/// The streamed response: what the client's task queues, as it queues it.
fn event_stream(receiver: mpsc::Receiver<Result<axum::body::Bytes, io::Error>>) -> Response {
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let mut response = with_type(StatusCode::OK, EVENT_STREAM, Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies such as nginx buffer responses unless told not to.
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    response
}
