//! A CrowdSec-compatible Local API decision stream, so the stock `crowdsec-firewall-bouncer`
//! (and any other bouncer) blocks the IPs we saw in nftables, ipset or iptables unchanged.
//!
//! `GET /v1/decisions/stream?startup=true` returns every active decision as `new`; later polls
//! (`startup=false`) return the IPs seen again or first since that bouncer's previous poll as
//! `new` (with a renewed duration) and the decisions that expired since then as `deleted`. Each
//! bouncer has its own key (`--crowdsec-api-key`, repeatable, sent as `X-Api-Key`) and its own
//! position in the stream. A decision lasts `--crowdsec-ban-duration` after the IP was last seen.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::auth::secrets_match;
use super::body::json;
use super::ip_addresses::parse_ip;
use super::params::{Params, bad};
use super::{ApiError, ApiState};
use crate::config::Secret;
use crate::event::{format_timestamp, parse_timestamp};
use crate::store::query::{self, ListFilter, OriginFilter, SeenRecord};

/// How far each delta reaches back before the bouncer's previous poll, to cover the time between
/// an event's capture and its commit (a batch, normally milliseconds).
const STREAM_OVERLAP: SignedDuration = SignedDuration::from_secs(30);

/// Query parameters bouncers send that this API accepts and does not need.
const IGNORED_PARAMETERS: &[&str] = &[
    "scopes",
    "origins",
    "scenarios_containing",
    "scenarios_not_containing",
    "dedup",
    "community_pull",
    "additional_pull",
];

/// The configured bouncer keys, each with the time of its previous poll.
#[derive(Debug, Default)]
pub struct CrowdSecKeys {
    bouncers: Vec<Bouncer>,
}

#[derive(Debug)]
struct Bouncer {
    key: Secret,
    last_poll: Mutex<Option<Timestamp>>,
}

impl CrowdSecKeys {
    /// Keys as configured; none disables the CrowdSec routes.
    pub fn new(keys: Vec<Secret>) -> Self {
        Self {
            bouncers: keys
                .into_iter()
                .map(|key| Bouncer {
                    key,
                    last_poll: Mutex::new(None),
                })
                .collect(),
        }
    }

    fn find(&self, headers: &HeaderMap) -> Result<&Bouncer, ApiError> {
        let presented = headers
            .get("x-api-key")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        self.bouncers
            .iter()
            .find(|bouncer| secrets_match(presented, bouncer.key.expose()))
            .ok_or(ApiError::Forbidden)
    }
}

pub(crate) fn routes(state: Arc<ApiState>) -> Router<Arc<ApiState>> {
    if state.crowdsec.bouncers.is_empty() {
        return Router::new();
    }
    Router::new()
        .route("/v1/decisions/stream", get(stream))
        .route("/v1/decisions", get(decisions_for_ip))
}

/// One decision, as LAPI serialises it.
#[derive(Debug, Serialize)]
struct Decision {
    duration: String,
    id: i64,
    origin: &'static str,
    scenario: &'static str,
    scope: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: String,
}

#[derive(Debug, Serialize)]
struct StreamBody {
    new: Option<Vec<Decision>>,
    deleted: Option<Vec<Decision>>,
}

fn take_params(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Params, ApiError> {
    let mut params = Params::new(query)?;
    for name in IGNORED_PARAMETERS {
        params.take(name);
    }
    Ok(params)
}

async fn stream(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let bouncer = state.crowdsec.find(&headers)?;
    let mut params = take_params(query)?;
    let startup = match params.take("startup").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(bad("startup", "expected true or false")),
    };
    params.finish()?;
    let now = Timestamp::now();
    let ban = state.crowdsec_ban;
    let previous = bouncer.last_poll.lock().ok().and_then(|last| *last);
    let since = match (startup, previous) {
        // Events reach the database a moment after they are stamped: overlap the previous
        // poll so none falls between two polls. A decision sent twice only renews it.
        (false, Some(previous)) => previous.checked_sub(STREAM_OVERLAP).unwrap_or(previous),
        _ => now.checked_sub(ban).unwrap_or(now),
    };
    let expired_window = match (startup, previous) {
        (false, Some(previous)) => Some((
            format_timestamp(previous.checked_sub(ban).unwrap_or(previous)),
            format_timestamp(now.checked_sub(ban).unwrap_or(now)),
        )),
        _ => None,
    };
    let (new, deleted) = state
        .reader
        .run_expensive(move |conn| {
            let filter = ListFilter {
                origin: OriginFilter::Any,
                since: Some(format_timestamp(since)),
                min_seen_count: 0,
                attack_type: None,
            };
            let mut new = Vec::new();
            query::each_ip(conn, &filter, None, None, |record| {
                new.push(decision(record, now, ban));
                ControlFlow::Continue(())
            })?;
            let mut deleted = Vec::new();
            if let Some((from, to)) = expired_window {
                query::ips_last_seen_between(conn, &from, &to, |record| {
                    deleted.push(decision(record, now, ban));
                    ControlFlow::Continue(())
                })?;
            }
            Ok((new, deleted))
        })
        .await?;
    if let Ok(mut last) = bouncer.last_poll.lock() {
        *last = Some(now);
    }
    let non_empty = |decisions: Vec<Decision>| (!decisions.is_empty()).then_some(decisions);
    Ok(json(
        StatusCode::OK,
        &StreamBody {
            new: non_empty(new),
            deleted: non_empty(deleted),
        },
    ))
}

/// `GET /v1/decisions?ip=…`: the active decision for one IP as a one-element list, or `null`.
async fn decisions_for_ip(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.crowdsec.find(&headers)?;
    let mut params = take_params(query)?;
    for name in ["type", "scope", "value", "range", "contains"] {
        params.take(name);
    }
    let ip = params
        .take("ip")
        .map(|text| parse_ip(&text).map_err(|_| bad("ip", "not an IPv4 or IPv6 address")))
        .transpose()?;
    params.finish()?;
    let Some(ip) = ip else {
        return Ok(json(StatusCode::OK, &serde_json::Value::Null));
    };
    let now = Timestamp::now();
    let ban = state.crowdsec_ban;
    let found = state
        .reader
        .run(move |conn| query::ip_seen(conn, &ip, OriginFilter::Any))
        .await?;
    let active = found
        .map(|record| decision(record, now, ban))
        .filter(|decision| decision.duration != "0s");
    Ok(json(StatusCode::OK, &active.map(|decision| vec![decision])))
}

fn decision(record: SeenRecord, now: Timestamp, ban: SignedDuration) -> Decision {
    let remaining = parse_timestamp(&record.seen_last)
        .and_then(|seen| ban.checked_sub(now.duration_since(seen)))
        .unwrap_or(ban);
    Decision {
        duration: go_duration(remaining),
        id: record.id,
        origin: "sentrypeer",
        scenario: "sentrypeer/sip-probe",
        scope: "Ip",
        kind: "ban",
        value: record.key,
    }
}

/// Go's `time.Duration` text (`167h59m10s`), what bouncers parse; never negative.
fn go_duration(duration: SignedDuration) -> String {
    let seconds = duration.as_secs().max(0);
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_go_formatted() {
        assert_eq!(
            go_duration(SignedDuration::from_secs(604_799)),
            "167h59m59s"
        );
        assert_eq!(go_duration(SignedDuration::from_secs(61)), "1m1s");
        assert_eq!(go_duration(SignedDuration::from_secs(5)), "5s");
        assert_eq!(go_duration(SignedDuration::from_secs(-5)), "0s");
    }

    #[test]
    fn decision_duration_counts_down_from_the_last_sighting() {
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().expect("ts");
        let record = SeenRecord {
            id: 7,
            key: "192.0.2.7".to_owned(),
            seen_last: "2026-11-21 11:00:00.000000000".to_owned(),
            seen_count: 3,
            attack_types: 0,
        };
        let decision = decision(record, now, SignedDuration::from_hours(24));
        assert_eq!(decision.duration, "23h0m0s");
        assert_eq!((decision.id, decision.value.as_str()), (7, "192.0.2.7"));
    }
}
