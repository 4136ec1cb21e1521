//! The original's `/ip-addresses` (streamed), `/ip-addresses/{ip}` and the ipset feed at
//! `/ip-addresses/ipset` (unreachable in the original). IPs are matched without ports, IPv4 and
//! IPv6 alike.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::body::{fixed_json, json};
use super::original_list::IP_ADDRESSES;
use super::params::Params;
use super::{ApiError, ApiState, feeds};
use crate::event::canonical_ip;
use crate::store::query;

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/ip-addresses", get(list))
        .route("/ip-addresses/ipset", get(feeds::ipset))
        .route("/ip-addresses/{ip}", get(lookup))
}

/// Parses an IP as the API accepts it: IPv4 or IPv6, no port; IPv4-mapped IPv6 as IPv4.
pub(crate) fn parse_ip(text: &str) -> Result<String, ApiError> {
    text.parse::<IpAddr>()
        .map(|ip| canonical_ip(ip).to_string())
        .map_err(|_| ApiError::InvalidIp)
}

async fn lookup(
    State(state): State<Arc<ApiState>>,
    Path(ip): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let origin = Params::origin_only(query)?;
    let ip = parse_ip(&ip)?;
    let found = state
        .reader
        .run_key_lookup(origin, move |conn| query::ip_seen(conn, &ip, origin))
        .await?;
    Ok(match found {
        Some(record) => json(StatusCode::OK, &json!({ "bad_actor_found": record.key })),
        None => fixed_json(
            StatusCode::NOT_FOUND,
            r#"{"message": "No bad actor found"}"#,
        ),
    })
}

/// The original's list, streamed.
async fn list(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    IP_ADDRESSES.respond(state, Params::new(query)?).await
}
