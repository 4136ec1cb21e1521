//! `/api/v1/ip-addresses` and `/api/v1/numbers`: paginated (`limit`, `cursor`), filtered
//! (`since`, `origin`, `min_seen_count`, and `method`, `user_agent`, `transport`, which count
//! only the matching events) listings with numeric counts, and point lookups. IP items also list
//! the attack types the IP sent (`attack_types`), and the IP listing takes `attack_type`: IPs
//! that sent at least one such event (with `method`, `user_agent` or `transport`, only events
//! of that type are counted).

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use super::body::json;
use super::ip_addresses::parse_ip;
use super::params::{Params, encode_cursor};
use super::{ApiError, ApiState};
use crate::sip::AttackType;
use crate::store::is_phone_number;
use crate::store::query::{self, Cursor, SeenRecord};

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/ip-addresses", get(list_ips))
        .route("/api/v1/ip-addresses/{ip}", get(one_ip))
        .route("/api/v1/numbers", get(list_numbers))
        .route("/api/v1/numbers/{number}", get(one_number))
}

/// A page and where the next one starts (`null` on the last page).
#[derive(Debug, Serialize)]
struct Page {
    items: Vec<serde_json::Value>,
    next_cursor: Option<String>,
}

/// Which aggregate a listing reads.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Ips,
    Numbers,
}

impl Kind {
    /// Name of the key field in items.
    fn key_name(self) -> &'static str {
        match self {
            Self::Ips => "ip_address",
            Self::Numbers => "called_number",
        }
    }

    /// One record as an item: `{ "<key_name>": …, "seen_last": …, "seen_count": <integer> }`,
    /// and for IPs `"attack_types": ["scan", …]` (in `AttackType::ALL` order).
    fn item(self, record: SeenRecord) -> serde_json::Value {
        let mut item = serde_json::Map::new();
        item.insert(self.key_name().to_owned(), record.key.into());
        item.insert("seen_last".to_owned(), record.seen_last.into());
        item.insert("seen_count".to_owned(), record.seen_count.into());
        if let Self::Ips = self {
            let names: Vec<&str> = AttackType::in_bits(record.attack_types)
                .map(AttackType::as_str)
                .collect();
            item.insert("attack_types".to_owned(), names.into());
        }
        serde_json::Value::Object(item)
    }
}

async fn list_ips(
    state: State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    list(state, query, Kind::Ips).await
}

async fn list_numbers(
    state: State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    list(state, query, Kind::Numbers).await
}

async fn list(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    kind: Kind,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let mut filter = params.list_filter()?;
    if let Kind::Ips = kind {
        filter.attack_type = params.attack_type()?;
    }
    let matching = params.event_match()?;
    let limit = params.limit()?;
    let after = params.list_cursor()?;
    params.finish()?;
    let page = state
        .reader
        .run_expensive(move |conn| {
            let mut items = Vec::with_capacity(limit.min(64));
            // One extra row tells whether another page follows.
            let visit = |record: SeenRecord| {
                items.push(record);
                ControlFlow::Continue(())
            };
            let (after, fetch) = (after.as_ref(), Some(limit + 1));
            match (kind, matching.is_empty()) {
                (Kind::Ips, true) => query::each_ip(conn, &filter, after, fetch, visit)?,
                (Kind::Numbers, true) => query::each_number(conn, &filter, after, fetch, visit)?,
                (Kind::Ips, false) => {
                    query::each_ip_matching(conn, &filter, &matching, after, fetch, visit)?
                }
                (Kind::Numbers, false) => {
                    query::each_number_matching(conn, &filter, &matching, after, fetch, visit)?
                }
            }
            Ok(items)
        })
        .await?;
    Ok(json(StatusCode::OK, &paginate(page, limit, kind)))
}

fn paginate(mut records: Vec<SeenRecord>, limit: usize, kind: Kind) -> Page {
    let more = records.len() > limit;
    records.truncate(limit);
    let next_cursor = more.then(|| records.last()).flatten().map(|last| {
        encode_cursor(&Cursor {
            seen_last: last.seen_last.clone(),
            key: last.key.clone(),
        })
    });
    Page {
        items: records
            .into_iter()
            .map(|record| kind.item(record))
            .collect(),
        next_cursor,
    }
}

async fn one_ip(
    State(state): State<Arc<ApiState>>,
    Path(ip): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let origin = Params::origin_only(query)?;
    let ip = parse_ip(&ip).map_err(|_| super::params::bad("ip", "not an IPv4 or IPv6 address"))?;
    let found = state
        .reader
        .run_key_lookup(origin, move |conn| query::ip_seen(conn, &ip, origin))
        .await?;
    found
        .map(|record| json(StatusCode::OK, &Kind::Ips.item(record)))
        .ok_or(ApiError::NotFound)
}

async fn one_number(
    State(state): State<Arc<ApiState>>,
    Path(number): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let origin = Params::origin_only(query)?;
    if !is_phone_number(&number) {
        return Err(super::params::bad(
            "number",
            "expected digits with an optional leading +",
        ));
    }
    let found = state
        .reader
        .run_key_lookup(origin, move |conn| {
            query::number_seen(conn, &number, origin)
        })
        .await?;
    found
        .map(|record| json(StatusCode::OK, &Kind::Numbers.item(record)))
        .ok_or(ApiError::NotFound)
}
