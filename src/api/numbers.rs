//! The original's `/numbers` (streamed; numbers with leading zeros included, unlike the
//! original) and `/numbers/{number}` (optional leading `+`).

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::body::{fixed_json, json};
use super::original_list::NUMBERS;
use super::params::Params;
use super::{ApiError, ApiState};
use crate::store::is_phone_number;
use crate::store::query;

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/numbers", get(list))
        .route("/numbers/{number}", get(lookup))
}

async fn lookup(
    State(state): State<Arc<ApiState>>,
    Path(number): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    // The original's route only matches `\+?[0-9]+`; anything else is its catch-all 404.
    if !is_phone_number(&number) {
        return Err(ApiError::NotFound);
    }
    let origin = Params::origin_only(query)?;
    let found = state
        .reader
        .run_key_lookup(origin, move |conn| {
            query::number_seen(conn, &number, origin)
        })
        .await?;
    Ok(match found {
        Some(record) => json(StatusCode::OK, &json!({ "phone_number_found": record.key })),
        None => fixed_json(
            StatusCode::NOT_FOUND,
            r#"{"message": "No phone number found"}"#,
        ),
    })
}

/// The original's list, streamed; numbers with leading zeros included.
async fn list(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    NUMBERS.respond(state, Params::new(query)?).await
}
