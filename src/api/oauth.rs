//! `POST /oauth/token`: the OAuth2 client-credentials grant (RFC 6749 §4.4) as SentryPeerHQ's
//! clients use it (CGRateS's `*sentrypeer` filter, the FreePBX module), for the clients
//! configured with `--api-client ID:SECRET`. Credentials come as JSON (what those clients send:
//! `client_id`, `client_secret`, `audience`, `grant_type`), as a form, or as HTTP Basic; the
//! `audience` is accepted and not checked.
//!
//! Tokens are signed, not stored: `base64url(version, expiry, client, nonce, HMAC-SHA256)`
//! under a key drawn at start. Checking one is a constant-time MAC comparison and a clock
//! read; a restart (new key) ends every token, and clients fetch a new one on the `401`, as both
//! do. A token is accepted wherever `--api-token` is.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::Timestamp;
use ring::hmac;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::ApiState;
use super::body::with_type;
use crate::config::Secret;

/// Largest token request read (a few hundred bytes in practice).
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// First byte of every token: its format.
const TOKEN_VERSION: u8 = 1;
/// Version, expiry (seconds), client index, nonce.
const PAYLOAD_BYTES: usize = 1 + 8 + 2 + 8;
/// HMAC-SHA256 tag.
const TAG_BYTES: usize = 32;
/// `Content-Type` of token responses.
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// One configured client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: Secret,
}

/// Why a client did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an API client is ID:SECRET, both non-empty")]
pub struct ApiClientError;

impl FromStr for ApiClient {
    type Err = ApiClientError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Ok(Self {
                id: id.to_owned(),
                secret: Secret::new(secret),
            }),
            _ => Err(ApiClientError),
        }
    }
}

/// What a presented token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    /// Issued here and not expired.
    Valid,
    /// Issued here, expired.
    Expired,
    /// Anything else.
    Invalid,
}

/// The configured clients and the key their tokens are signed with.
#[derive(Debug)]
pub struct OAuthClients {
    clients: Vec<ApiClient>,
    key: hmac::Key,
    lifetime: Duration,
}

impl OAuthClients {
    /// `clients` get tokens valid for `lifetime`, signed with a fresh random key.
    ///
    /// # Errors
    /// No randomness for the key.
    pub fn new(clients: Vec<ApiClient>, lifetime: Duration) -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self {
            clients,
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            lifetime,
        })
    }

    /// No clients: `POST /oauth/token` refuses everyone and no token is ever valid.
    pub fn none() -> Self {
        Self {
            clients: Vec::new(),
            key: hmac::Key::new(hmac::HMAC_SHA256, &[0; 32]),
            lifetime: Duration::ZERO,
        }
    }

    /// Whether any client is configured (then bearer tokens are required).
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// What `token` is at `now`.
    pub(crate) fn check(&self, token: &str, now: Timestamp) -> TokenCheck {
        if self.is_empty() {
            return TokenCheck::Invalid;
        }
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return TokenCheck::Invalid;
        };
        let (Some(payload), Some(tag)) = (bytes.get(..PAYLOAD_BYTES), bytes.get(PAYLOAD_BYTES..))
        else {
            return TokenCheck::Invalid;
        };
        if tag.len() != TAG_BYTES
            || payload.first() != Some(&TOKEN_VERSION)
            || hmac::verify(&self.key, payload, tag).is_err()
        {
            return TokenCheck::Invalid;
        }
        let expires = payload
            .get(1..9)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map_or(0, i64::from_be_bytes);
        if now.as_second() < expires {
            TokenCheck::Valid
        } else {
            TokenCheck::Expired
        }
    }

    /// A token for client number `index`, and its lifetime in seconds.
    pub(super) fn issue(
        &self,
        index: usize,
        now: Timestamp,
    ) -> Result<(String, u64), getrandom::Error> {
        let lifetime = self.lifetime.as_secs();
        let expires = now
            .as_second()
            .saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce)?;
        let mut token = Vec::with_capacity(PAYLOAD_BYTES + TAG_BYTES);
        token.push(TOKEN_VERSION);
        token.extend_from_slice(&expires.to_be_bytes());
        token.extend_from_slice(&u16::try_from(index).unwrap_or(u16::MAX).to_be_bytes());
        token.extend_from_slice(&nonce);
        let tag = hmac::sign(&self.key, &token);
        token.extend_from_slice(tag.as_ref());
        Ok((URL_SAFE_NO_PAD.encode(token), lifetime))
    }

    /// The index of the client with these credentials; every client is compared, each in
    /// constant time, so the time taken says nothing about which part was wrong.
    fn authenticate(&self, id: &str, secret: &str) -> Option<usize> {
        let mut found = None;
        for (index, client) in self.clients.iter().enumerate() {
            let id_matches = client.id.as_bytes().ct_eq(id.as_bytes());
            let secret_matches = client.secret.expose().as_bytes().ct_eq(secret.as_bytes());
            if bool::from(id_matches & secret_matches) {
                found.get_or_insert(index);
            }
        }
        found
    }
}

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route(
        "/oauth/token",
        post(token).fallback(|| async { method_not_allowed() }),
    )
}

/// A token request's fields (RFC 6749 §4.4.2 and §2.3.1; Auth0's `audience`).
#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(rename = "audience")]
    _audience: Option<String>,
}

async fn token(State(state): State<Arc<ApiState>>, headers: HeaderMap, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "request too large",
        );
    };
    let Some(request) = parse_request(&headers, &bytes) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send JSON or application/x-www-form-urlencoded",
        );
    };
    let basic = basic_credentials(&headers);
    let (Some(id), Some(secret)) = (
        basic
            .as_ref()
            .map(|(id, _)| id.clone())
            .or(request.client_id),
        basic.map(|(_, secret)| secret).or(request.client_secret),
    ) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id and client_secret are required",
        );
    };
    if request.grant_type.as_deref() != Some("client_credentials") {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let Some(index) = state.oauth.authenticate(&id, &secret) else {
        tracing::info!(client_id = %id, "token refused: unknown client or wrong secret");
        return error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    };
    match state.oauth.issue(index, Timestamp::now()) {
        Ok((token, expires_in)) => {
            let body = serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": expires_in,
            });
            no_store(with_type(StatusCode::OK, JSON_UTF8, body.to_string()))
        }
        Err(error) => {
            tracing::error!(%error, "no randomness for a token");
            super::ApiError::Task(error.to_string()).into_response()
        }
    }
}

/// The request's fields, by its `Content-Type` (JSON when it names JSON or none is given).
fn parse_request(headers: &HeaderMap, body: &[u8]) -> Option<TokenRequest> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(body).ok()
    } else if body.iter().all(u8::is_ascii_whitespace) {
        Some(TokenRequest::default())
    } else {
        serde_json::from_slice(body).ok()
    }
}

/// `Authorization: Basic` client credentials (RFC 6749 §2.3.1), when sent.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// An RFC 6749 §5.2 error.
fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": code, "error_description": description });
    no_store(with_type(status, JSON_UTF8, body.to_string()))
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 §5.1 asks of token responses.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `405` with `Allow: POST` for any other method on `/oauth/token`.
fn method_not_allowed() -> Response {
    let mut response = with_type(
        StatusCode::METHOD_NOT_ALLOWED,
        JSON_UTF8,
        r#"{"error":"Method not allowed: POST a client_credentials request."}"#,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}
