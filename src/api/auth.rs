//! Bearer-token check (`--api-token`) for every route but `/health-check`; constant-time. With
//! the dashboard on, its session cookie (the token, hex-encoded) is accepted as well.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::{ApiError, ApiState};

/// Lets the request through when no token is configured, or the `Authorization: Bearer` value
/// or the dashboard's session cookie matches it.
pub(crate) async fn require_bearer_token(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(token) = &state.token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        let by_cookie = state
            .session_cookie
            .is_some_and(|name| cookie_matches(request.headers(), name, token.expose()));
        if !by_cookie && !secrets_match(presented, token.expose()) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}

/// Compares a presented secret with the expected one in constant time.
pub(crate) fn secrets_match(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whether a `name` cookie of the request holds `expected`, hex-encoded (constant-time).
fn cookie_matches(headers: &HeaderMap, name: &str, expected: &str) -> bool {
    let expected = hex::encode(expected);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(cookie, _)| *cookie == name)
        .any(|(_, value)| secrets_match(value, &expected))
}
