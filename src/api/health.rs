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
use crate::event::APP_VERSION;
use crate::store::query;
use crate::telemetry::Readings;

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

/// The details object (also used by `/api/v1/stats`): who and since when, then every counter
/// of the telemetry registry.
pub(crate) fn details(state: &ApiState, latest_event: Option<String>) -> serde_json::Value {
    let mut details = json!({
        "status": "OK",
        "version": APP_VERSION,
        "node_id": state.node_id.hyphenated().to_string(),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "latest_event": latest_event,
    });
    if let Some(details) = details.as_object_mut() {
        details.extend(Readings::of(&state.telemetry).health_details());
    }
    details
}
