//! `/health-check` (open; the original's JSON or HTML), `/` and `/api/v1/health` (details:
//! counters of everything received, stored, dropped and sent to the webhook).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::body::{JSON, fixed_json, json, with_type};
use super::{ApiError, ApiState};
use crate::event::{APP_VERSION, Transport};
use crate::store::query;

/// Routes that need no token.
pub(crate) fn open_routes() -> Router<Arc<ApiState>> {
    Router::new().route("/health-check", get(health_check))
}

/// Routes behind the token.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route(
            "/",
            get(|| async { fixed_json(StatusCode::OK, r#"{"status": "OK"}"#) }),
        )
        .route("/api/v1/health", get(health_details))
}

/// The original: JSON when the request's `Content-Type` starts with `application/json`
/// (case-insensitive), the HTML page otherwise.
async fn health_check(headers: HeaderMap) -> Response {
    let wants_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().starts_with(JSON));
    if wants_json {
        json(
            StatusCode::OK,
            &json!({ "status": "OK", "message": "Hello from SentryPeer!", "version": APP_VERSION }),
        )
    } else {
        with_type(
            StatusCode::OK,
            "text/html",
            "<html><body><h1>Hello from SentryPeer!</h1><h2>All is well!</h2></body></html>",
        )
    }
}

async fn health_details(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let latest = state.reader.run(query::latest_event_timestamp).await?;
    Ok(json(StatusCode::OK, &details(&state, latest)))
}

/// The details object (also used by `/api/v1/stats`).
pub(crate) fn details(state: &ApiState, latest_event: Option<String>) -> serde_json::Value {
    let telemetry = &state.telemetry;
    let per_transport = |values: [u64; 3]| {
        let mut map = serde_json::Map::new();
        for transport in Transport::ALL {
            map.insert(
                transport.as_str().to_owned(),
                json!(values[transport.index()]),
            );
        }
        serde_json::Value::Object(map)
    };
    let pipeline = telemetry.pipeline.as_ref().map(|monitor| monitor.stats());
    let store = telemetry.store.snapshot();
    let replies = telemetry
        .transport
        .as_ref()
        .map(|counters| counters.snapshot());
    let connections = telemetry
        .connections
        .as_ref()
        .map(|counters| counters.snapshot());
    json!({
        "status": "OK",
        "version": APP_VERSION,
        "node_id": state.node_id.hyphenated().to_string(),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "latest_event": latest_event,
        "events": {
            "received": pipeline.as_ref().map(|p| per_transport(p.received)),
            "stored": store.events_stored,
            "store_failed": store.events_failed,
            "dropped": pipeline.as_ref().map(|p| p.dropped()),
            "kernel_dropped": telemetry.udp_drops.as_ref().and_then(|drops| drops.dropped()),
            "dropped_by_consumer": pipeline.as_ref().map(|p| {
                p.consumers.iter().map(|c| (c.name.to_owned(), json!(c.dropped))).collect::<serde_json::Map<_, _>>()
            }),
        },
        "p2p": telemetry.p2p.as_ref().map(|stats| {
            let mut details: serde_json::Map<String, serde_json::Value> = stats
                .snapshot()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), json!(value)))
                .collect();
            details.insert("peer_id".to_owned(), json!(stats.peer_id.get()));
            details.insert("dropped_by_peer".to_owned(), json!(stats.dropped_by_peer()));
            details.insert(
                "received_from_peers".to_owned(),
                json!(pipeline.as_ref().map(|p| p.received_from_peers)),
            );
            details
        }),
        "webhook": telemetry.webhook.as_ref().map(|stats| {
            let w = stats.snapshot();
            json!({
                "delivered": w.delivered,
                "failed": w.failed,
                "retries": w.retries,
                "skipped": w.skipped,
                "token_requests": w.token_requests,
            })
        }),
        "replies": replies.map(|r| json!({
            "sent": per_transport(r.replies_sent),
            "rate_limited": per_transport(r.replies_rate_limited),
            "failed": per_transport(r.replies_failed),
            "delayed_skipped": per_transport(r.delayed_skipped),
            "by_status_class": {
                "1xx": r.replies_by_status_class[0],
                "2xx": r.replies_by_status_class[1],
                "3xx": r.replies_by_status_class[2],
                "4xx": r.replies_by_status_class[3],
                "5xx": r.replies_by_status_class[4],
                "6xx": r.replies_by_status_class[5],
            },
            "requests_sent": r.requests_sent,
        })),
        "connections": connections.map(|c| json!({
            "open": per_transport(c.open),
            "accepted": per_transport(c.accepted),
            "over_source_cap": per_transport(c.over_source_cap),
            "message_timeouts": per_transport(c.message_timeouts),
            "idle_timeouts": per_transport(c.idle_timeouts),
            "handshake_timeouts": per_transport(c.handshake_timeouts),
        })),
    })
}
