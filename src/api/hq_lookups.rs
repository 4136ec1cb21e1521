//! SentryPeerHQ's lookups, served from the live blocklist: `GET /api/phone-numbers/{number}` and
//! `GET /api/ip-addresses/{ip}`, with HQ's status codes and bodies (its
//! `sentrypeer_event_controller.ex` and `auth/authorize.ex`), so CGRateS's `*sentrypeer` filter
//! and the FreePBX module work against a local node unchanged: `200 {"message":"Phone Number
//! found."}` when the SIP agent's policy blocks the key, `404 {"message":"Phone Number not
//! found."}` otherwise (anything that is not a number or an address included, as HQ), `401`
//! with HQ's error body without a valid bearer token (when tokens are configured).

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use jiff::Timestamp;

use super::ApiState;
use super::auth::{Bearer, check_bearer};
use super::body::with_type;

/// `Content-Type` of HQ's JSON (Phoenix's `json/2`).
const JSON_UTF8: &str = "application/json; charset=utf-8";

pub(crate) fn routes(state: Arc<ApiState>) -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/phone-numbers/{number}", get(phone_number))
        .route("/api/ip-addresses/{ip}", get(ip_address))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

async fn phone_number(State(state): State<Arc<ApiState>>, Path(number): Path<String>) -> Response {
    let now = Timestamp::now();
    let found = state.blocklist.lookup_number(&number).is_some_and(|entry| {
        state
            .call_policy
            .decide_number(&number, &entry, now)
            .is_ok()
    });
    if found {
        message(StatusCode::OK, r#"{"message":"Phone Number found."}"#)
    } else {
        message(
            StatusCode::NOT_FOUND,
            r#"{"message":"Phone Number not found."}"#,
        )
    }
}

async fn ip_address(State(state): State<Arc<ApiState>>, Path(ip): Path<String>) -> Response {
    let now = Timestamp::now();
    let found = ip.parse::<IpAddr>().ok().is_some_and(|ip| {
        state
            .blocklist
            .lookup_ip(ip)
            .is_some_and(|entry| state.call_policy.decide_ip(ip, &entry, now).is_ok())
    });
    if found {
        message(StatusCode::OK, r#"{"message":"IP Address found."}"#)
    } else {
        message(
            StatusCode::NOT_FOUND,
            r#"{"message":"IP Address not found."}"#,
        )
    }
}

/// HQ's `401`s: `{"error":"missing_token"}`, `{"error":"invalid_token"}`, and for an expired
/// token Joken's `{"error":"Invalid token","reason":"exp"}`.
async fn require_token(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let refusal = match check_bearer(&state, request.headers()) {
        Bearer::Open | Bearer::Valid => return next.run(request).await,
        Bearer::Missing => r#"{"error":"missing_token"}"#,
        Bearer::Expired => r#"{"error":"Invalid token","reason":"exp"}"#,
        Bearer::Invalid => r#"{"error":"invalid_token"}"#,
    };
    message(StatusCode::UNAUTHORIZED, refusal)
}

fn message(status: StatusCode, body: &'static str) -> Response {
    with_type(status, JSON_UTF8, body)
}
