//! `/api/v1/events`: recent raw events, newest first, filtered by `since`, `method`,
//! `user_agent`, `transport`, `origin`, `attack_type`, paginated with `limit` and `cursor`.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::body::json;
use super::params::{Params, bad};
use super::{ApiError, ApiState};
use crate::store::query::{self, EventFilter, EventRow};

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/events", get(list))
}

async fn list(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let limit = params.limit()?;
    let transport = params.transport()?;
    let before_id = params
        .take("cursor")
        .map(|text| {
            text.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| bad("cursor", "not a cursor this API returned"))
        })
        .transpose()?;
    let filter = EventFilter {
        since: params.since()?,
        method: params.take("method"),
        user_agent: params.take("user_agent"),
        transport,
        origin: params.origin()?,
        attack_type: params
            .attack_type()?
            .map(|attack_type| attack_type.as_str().to_owned()),
        before_id,
        limit: limit + 1,
    };
    params.finish()?;
    let mut rows = state
        .reader
        .run_expensive(move |conn| query::recent_events(conn, &filter))
        .await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more
        .then(|| rows.last().map(|row| row.id.to_string()))
        .flatten();
    let events: Vec<serde_json::Value> = rows.into_iter().map(event_json).collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "events": events, "next_cursor": next_cursor }),
    ))
}

/// One stored event: the 13 fields of the original, with ports apart, plus what we add
/// (`null` where a column is NULL: credentials and identity the message did not carry).
fn event_json(row: EventRow) -> serde_json::Value {
    json!({
        "id": row.id,
        "event_timestamp": row.event_timestamp,
        "event_uuid": row.event_uuid,
        "created_by_node_id": row.created_by_node_id,
        "collected_method": row.collected_method,
        "transport_type": row.transport_type,
        "source_ip": row.source_ip,
        "source_port": row.source_port,
        "destination_ip": row.destination_ip,
        "destination_port": row.destination_port,
        "called_number": row.called_number,
        "request_uri_user": row.request_uri_user,
        "sip_method": row.method,
        "sip_user_agent": row.user_agent,
        "sip_message": row.sip_message,
        "origin": row.origin,
        "message_kind": row.message_kind,
        "attack_type": row.attack_type,
        "auth_scheme": row.auth_scheme,
        "auth_username": row.auth_username,
        "auth_realm": row.auth_realm,
        "auth_nonce": row.auth_nonce,
        "auth_uri": row.auth_uri,
        "auth_response": row.auth_response,
        "auth_algorithm": row.auth_algorithm,
        "auth_qop": row.auth_qop,
        "auth_cnonce": row.auth_cnonce,
        "auth_nc": row.auth_nc,
        "from_user": row.from_user,
        "contact": row.contact,
        "p_asserted_identity": row.p_asserted_identity,
    })
}
