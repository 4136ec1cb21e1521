//! A CrowdSec-compatible Local API decision stream, so the stock `crowdsec-firewall-bouncer`
//! (and any other bouncer) blocks the IPs we saw in nftables, ipset or iptables unchanged.
//!
//! Decisions come from the live blocklist through the CrowdSec verdict policy
//! (`[verdicts.crowdsec]`), never from SQLite. `GET /v1/decisions/stream?startup=true` returns
//! every active decision as `new`; later polls (`startup=false`) return the IPs seen again, or
//! that became verdicts, since that bouncer's previous poll as `new` (with a renewed duration),
//! and as `deleted` the decisions that ended since then: their duration ran out, the policy's
//! `max_age` did, or the blocklist expired or evicted the IP ([`decide`]). Each bouncer has its
//! own key (`--crowdsec-api-key`, repeatable, sent as `X-Api-Key`) and its own position in the
//! stream. A decision lasts `--crowdsec-ban-duration` after the IP's newest counted event; its
//! id is a function of the IP alone ([`decision_id`]).

mod decide;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use siphasher::sip::SipHasher13;

use super::auth::secrets_match;
use super::body::json;
use super::params::{Params, bad};
use super::{ApiError, ApiState};
use crate::config::Secret;
use decide::{Decider, Position};

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
    /// Where its previous poll left it.
    last_poll: Mutex<Option<Position>>,
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
    let previous = if startup {
        None
    } else {
        *bouncer
            .last_poll
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    // A pass over every IP of the list: on the blocking pool, off the runtime's threads.
    let task_state = Arc::clone(&state);
    let (position, changes) = tokio::task::spawn_blocking(move || {
        let decider = Decider::new(&task_state);
        let now = Timestamp::now();
        let position = decider.position(now);
        let changes = match previous {
            Some(previous) => decider.changes_since(&previous, now),
            None => decider.startup(now),
        };
        (position, changes)
    })
    .await
    .map_err(|error| ApiError::Task(error.to_string()))?;
    *bouncer
        .last_poll
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(position);
    let non_empty = |decisions: Vec<Decision>| (!decisions.is_empty()).then_some(decisions);
    Ok(json(
        StatusCode::OK,
        &StreamBody {
            new: non_empty(changes.new),
            deleted: non_empty(changes.deleted),
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
        .map(|text| {
            text.parse::<IpAddr>()
                .map_err(|_| bad("ip", "not an IPv4 or IPv6 address"))
        })
        .transpose()?;
    params.finish()?;
    let active = ip.and_then(|ip| Decider::new(&state).active(ip, Timestamp::now()));
    Ok(json(StatusCode::OK, &active.map(|decision| vec![decision])))
}

/// A ban on `ip` for `remaining`.
fn decision(ip: IpAddr, remaining: SignedDuration) -> Decision {
    Decision {
        duration: go_duration(remaining),
        id: decision_id(ip),
        origin: "sentrypeer",
        scenario: "sentrypeer/sip-probe",
        scope: "Ip",
        kind: "ban",
        value: ip.to_string(),
    }
}

/// The decision id of `ip`: a function of the address alone, so a bouncer sees one id per IP
/// across polls, restarts and versions. IPv4 `a.b.c.d` is its 32-bit value plus one; IPv6 a
/// SipHash-1-3 (fixed keys) of its octets above 2^32; always positive.
pub(crate) fn decision_id(ip: IpAddr) -> i64 {
    const V6_BASE: u64 = 1 << 32;
    match ip.to_canonical() {
        IpAddr::V4(v4) => i64::from(u32::from(v4)) + 1,
        IpAddr::V6(v6) => {
            let hash = SipHasher13::new_with_keys(0, 0).hash(&v6.octets());
            let span = i64::MAX as u64 - V6_BASE;
            i64::try_from(V6_BASE + 1 + hash % span).unwrap_or(i64::MAX)
        }
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
mod tests;
