//! Bearer-token check for every route but `/health-check`: the `--api-token` (compared in
//! constant time) or a token `POST /oauth/token` issued to an `--api-client` (a constant-time
//! MAC check). With the dashboard on, its session cookie is accepted as the `--api-token`
//! ([`super::SessionCheck`]). With no token configured the API is open.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use jiff::Timestamp;
use subtle::ConstantTimeEq;

use super::oauth::TokenCheck;
use super::{ApiError, ApiState};

/// What a request's bearer token is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bearer {
    /// No token is required.
    Open,
    /// The configured token, or an issued one that has not expired.
    Valid,
    /// No `Authorization: Bearer` header.
    Missing,
    /// An issued token that has expired.
    Expired,
    /// Anything else.
    Invalid,
}

/// Lets the request through when its bearer token is valid, none is required, or the
/// dashboard's session cookie matches the `--api-token`.
pub(crate) async fn require_bearer_token(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let by_cookie = state.token.as_ref().is_some_and(|token| {
        state
            .session_check
            .is_some_and(|signed_in| signed_in(request.headers(), token))
    });
    if by_cookie {
        return Ok(next.run(request).await);
    }
    match check_bearer(&state, request.headers()) {
        Bearer::Open | Bearer::Valid => Ok(next.run(request).await),
        Bearer::Missing | Bearer::Expired | Bearer::Invalid => Err(ApiError::Unauthorized),
    }
}

/// The bearer token of `headers`, judged against the configured token and issued ones.
pub(crate) fn check_bearer(state: &ApiState, headers: &HeaderMap) -> Bearer {
    if state.token.is_none() && state.oauth.is_empty() {
        return Bearer::Open;
    }
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
    else {
        return Bearer::Missing;
    };
    if state
        .token
        .as_ref()
        .is_some_and(|token| secrets_match(presented, token.expose()))
    {
        return Bearer::Valid;
    }
    match state.oauth.check(presented, Timestamp::now()) {
        TokenCheck::Valid => Bearer::Valid,
        TokenCheck::Expired => Bearer::Expired,
        TokenCheck::Invalid => Bearer::Invalid,
    }
}

/// The token of a `Bearer` credentials value; the scheme is matched ignoring case (RFC 7235
/// §2.1), and one or more spaces may follow it.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then(|| token.trim_start_matches(' '))
}

/// Compares a presented secret with the expected one in constant time.
pub(crate) fn secrets_match(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_matched_ignoring_case() {
        for value in ["Bearer t0ken", "bearer t0ken", "BEARER  t0ken"] {
            assert_eq!(bearer_token(value), Some("t0ken"), "{value}");
        }
        for value in ["Basic t0ken", "Bearert0ken", "t0ken", ""] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }
}
