//! `/api/v1/user-agents` and `/api/v1/sip-methods`: events per `User-Agent` and per SIP method,
//! largest first (ties by value), counted as `/api/v1/stats` counts them; what the original's
//! `/user-agents` and `/sip-methods` placeholders stand for. Parameters: `since`, `limit`.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::body::json;
use super::params::Params;
use super::{ApiError, ApiState};
use crate::store::query::{self, CountedColumn};

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route(
            "/api/v1/user-agents",
            get(|state, query| counts(state, query, CountedColumn::UserAgent)),
        )
        .route(
            "/api/v1/sip-methods",
            get(|state, query| counts(state, query, CountedColumn::Method)),
        )
}

/// `{"items": [{"user_agent"/"sip_method": value, "count": n}]}`; a missing header or method
/// is the value `""`.
async fn counts(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    column: CountedColumn,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let since = params.since()?;
    let limit = params.limit()?;
    params.finish()?;
    let counts = state
        .reader
        .run_expensive(move |conn| query::counts_of(conn, column, since.as_deref(), limit))
        .await?;
    let key = match column {
        CountedColumn::UserAgent => "user_agent",
        CountedColumn::Method => "sip_method",
    };
    let items: Vec<serde_json::Value> = counts
        .into_iter()
        .map(|count| json!({ key: count.value, "count": count.count }))
        .collect();
    Ok(json(StatusCode::OK, &json!({ "items": items })))
}
