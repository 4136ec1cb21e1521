//! `/api/v1/stats`: totals, counts per method, user agent, transport, message kind, attack
//! type and destination (`ip:port` the probes were sent to), source IPs per attack type, the
//! top IPs and numbers, and what the pipeline received and dropped.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::body::json;
use super::health::details;
use super::params::{Params, bad};
use super::{ApiError, ApiState};
use crate::sip::AttackType;
use crate::store::query::{self, CountBy, SeenRecord};

/// Entries in each top list by default, and at most.
const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 1000;

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/stats", get(stats))
}

async fn stats(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let since = params.since()?;
    let top = match params.unsigned("top")? {
        None => DEFAULT_TOP,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_TOP).contains(n))
            .ok_or_else(|| bad("top", &format!("must be 1 to {MAX_TOP}")))?,
    };
    params.finish()?;
    let (stats, latest) = state
        .reader
        .run_expensive(move |conn| {
            Ok((
                query::stats(conn, since.as_deref(), top)?,
                query::latest_event_timestamp(conn)?,
            ))
        })
        .await?;
    let counts = |rows: Vec<CountBy>| -> Vec<serde_json::Value> {
        rows.into_iter()
            .map(|row| json!({ "value": row.value, "count": row.count }))
            .collect()
    };
    let top_list = |rows: Vec<SeenRecord>| -> Vec<serde_json::Value> {
        rows.into_iter()
            .map(|row| json!({ "value": row.key, "seen_last": row.seen_last, "seen_count": row.seen_count }))
            .collect()
    };
    let health = details(&state, latest);
    Ok(json(
        StatusCode::OK,
        &json!({
            "totals": {
                "events": stats.totals.events,
                "ip_addresses": stats.totals.ip_addresses,
                "called_numbers": stats.totals.called_numbers,
            },
            "by_method": counts(stats.by_method),
            "by_user_agent": counts(stats.by_user_agent),
            "by_transport": counts(stats.by_transport),
            "by_message_kind": counts(stats.by_message_kind),
            "by_attack_type": counts(stats.by_attack_type),
            "by_destination": counts(stats.by_destination),
            "ip_addresses_by_attack_type": counts(stats.ip_addresses_by_attack_type),
            "top_ip_addresses": stats.top_ip_addresses.into_iter().map(|row| json!({
                "value": row.key,
                "seen_last": row.seen_last,
                "seen_count": row.seen_count,
                "attack_types": AttackType::in_bits(row.attack_types)
                    .map(AttackType::as_str)
                    .collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "top_called_numbers": top_list(stats.top_called_numbers),
            "pipeline": health["events"],
        }),
    ))
}
