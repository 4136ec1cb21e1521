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

use super::body::{JSON, fixed_json, json};
use super::ip_addresses::seen_item;
use super::params::Params;
use super::reader::write_records;
use super::{ApiError, ApiState};
use crate::store::is_phone_number;
use crate::store::query::{self, ListFilter};

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
    let mut params = Params::new(query)?;
    let origin = params.origin()?;
    params.finish()?;
    let found = state
        .reader
        .run(move |conn| query::number_seen(conn, &number, origin))
        .await?;
    Ok(match found {
        Some(record) => json(StatusCode::OK, &json!({ "phone_number_found": record.key })),
        None => fixed_json(
            StatusCode::NOT_FOUND,
            r#"{"message": "No phone number found"}"#,
        ),
    })
}

/// `{ "called_numbers_total": N, "called_numbers": [ {called_number, seen_last, seen_count}, … ] }`
async fn list(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let filter = ListFilter {
        origin: params.origin()?,
        ..ListFilter::default()
    };
    params.finish()?;
    let counted = filter.clone();
    let total = state
        .reader
        .run(move |conn| query::count_numbers(conn, &counted))
        .await?;
    if total == 0 {
        return Ok(fixed_json(
            StatusCode::NOT_FOUND,
            r#"{"message": "No phone numbers found"}"#,
        ));
    }
    Ok(state.reader.stream(JSON, move |conn, out| {
        out.write(&format!(
            "{{\n  \"called_numbers_total\": {total},\n  \"called_numbers\": ["
        ))?;
        let written = write_records(
            out,
            |visit| query::each_number(conn, &filter, None, None, visit),
            |record, index| seen_item("called_number", record, index),
        )?;
        out.write(if written == 0 { "]\n}" } else { "\n  ]\n}" })
    }))
}
