//! Bearer-token check (`--api-token`) for every route but `/health-check`; constant-time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::{ApiError, ApiState};

/// Lets the request through when no token is configured or the `Authorization: Bearer` value
/// matches it.
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
            .and_then(bearer_token)
            .unwrap_or_default();
        if !secrets_match(presented, token.expose()) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
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
