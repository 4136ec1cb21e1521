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

use super::body::{JSON, fixed_json, json, json_string};
use super::params::Params;
use super::reader::write_records;
use super::{ApiError, ApiState, feeds};
use crate::event::canonical_ip;
use crate::store::query::{self, ListFilter, SeenRecord};

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
    let mut params = Params::new(query)?;
    let origin = params.origin()?;
    params.finish()?;
    let ip = parse_ip(&ip)?;
    let found = state
        .reader
        .run(move |conn| query::ip_seen(conn, &ip, origin))
        .await?;
    Ok(match found {
        Some(record) => json(StatusCode::OK, &json!({ "bad_actor_found": record.key })),
        None => fixed_json(
            StatusCode::NOT_FOUND,
            r#"{"message": "No bad actor found"}"#,
        ),
    })
}

/// `{ "ip_addresses_total": N, "ip_addresses": [ {ip_address, seen_last, seen_count}, … ] }`
/// streamed in the original's formatting.
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
        .run(move |conn| query::count_ips(conn, &counted))
        .await?;
    if total == 0 {
        return Ok(fixed_json(
            StatusCode::NOT_FOUND,
            r#"{"message": "No bad actors found"}"#,
        ));
    }
    Ok(state.reader.stream(JSON, move |conn, out| {
        out.write(&format!(
            "{{\n  \"ip_addresses_total\": {total},\n  \"ip_addresses\": ["
        ))?;
        let written = write_records(
            out,
            |visit| query::each_ip(conn, &filter, None, None, visit),
            |record, index| seen_item("ip_address", record, index),
        )?;
        out.write(if written == 0 { "]\n}" } else { "\n  ]\n}" })
    }))
}

/// One element of the original's `/ip-addresses` or `/numbers` array, jansson-formatted;
/// `seen_count` is a string, as the original's.
pub(crate) fn seen_item(key_name: &str, record: &SeenRecord, index: usize) -> String {
    let separator = if index == 0 { "\n" } else { ",\n" };
    format!(
        "{separator}    {{\n      \"{key_name}\": {},\n      \"seen_last\": {},\n      \"seen_count\": {}\n    }}",
        json_string(&record.key),
        json_string(&record.seen_last),
        json_string(&record.seen_count.to_string()),
    )
}
