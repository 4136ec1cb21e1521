//! OAuth2 client-credentials tokens for the webhook (SentryPeerHQ uses Auth0): the original's
//! JSON token request, a token cached until shortly before its `expires_in`, and errors that
//! never carry the client secret or a token and never stop the daemon.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{OAuth2Options, WebhookError, WebhookStats, describe, loggable_body, read_capped};
use crate::config::Secret;

/// Largest token response read.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// A token is renewed this long before it expires (less for short-lived tokens: a tenth of
/// their lifetime).
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// The token request body, keys in the original's (serde) order.
#[derive(Serialize)]
struct TokenRequest<'a> {
    audience: &'a str,
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'static str,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Debug)]
struct CachedToken {
    value: Secret,
    /// When to fetch a new one; never, when the server gave no `expires_in` (then only a 401
    /// or 403 from the webhook replaces it).
    refresh_at: Option<Instant>,
}

/// Fetches and caches the webhook's Bearer token.
#[derive(Debug)]
pub(super) struct TokenSource {
    options: OAuth2Options,
    cached: Option<CachedToken>,
    stats: Arc<WebhookStats>,
}

impl TokenSource {
    pub(super) fn new(options: OAuth2Options, stats: Arc<WebhookStats>) -> Self {
        Self {
            options,
            cached: None,
            stats,
        }
    }

    /// The cached token while it is fresh, else a new one.
    ///
    /// # Errors
    /// The token server cannot be reached, answers other than 200, or answers garbage.
    pub(super) async fn token(&mut self, client: &reqwest::Client) -> Result<Secret, WebhookError> {
        if let Some(cached) = &self.cached
            && cached.refresh_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(cached.value.clone());
        }
        self.cached = None;
        let fetched = self.fetch(client).await?;
        let value = fetched.value.clone();
        self.cached = Some(fetched);
        Ok(value)
    }

    /// Forgets the cached token (the webhook refused it).
    pub(super) fn invalidate(&mut self) {
        self.cached = None;
    }

    /// Strings that must never appear in a log line: the client secret and the current token.
    pub(super) fn secrets(&self) -> Vec<&str> {
        let mut secrets = vec![self.options.client_secret.expose()];
        if let Some(cached) = &self.cached {
            secrets.push(cached.value.expose());
        }
        secrets
    }

    async fn fetch(&self, client: &reqwest::Client) -> Result<CachedToken, WebhookError> {
        self.stats.token_requests.fetch_add(1, Ordering::Relaxed);
        let secret = self.options.client_secret.expose();
        let request = TokenRequest {
            audience: &self.options.audience,
            client_id: &self.options.client_id,
            client_secret: secret,
            grant_type: "client_credentials",
        };
        let requested_at = Instant::now();
        let failed = |error: reqwest::Error| WebhookError::TokenRequest {
            reason: describe(&error.without_url()),
        };
        let response = client
            .post(self.options.token_url.clone())
            .json(&request)
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        let body = read_capped(response, MAX_TOKEN_RESPONSE_BYTES)
            .await
            .map_err(failed)?;
        if status != reqwest::StatusCode::OK {
            return Err(WebhookError::TokenStatus {
                status: status.as_u16(),
                body: loggable_body(&body, &[secret]),
            });
        }
        let garbage = |reason: String| WebhookError::TokenResponse {
            reason,
            bytes: body.len(),
        };
        // serde_json's messages may quote the content; only its category and position are kept.
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|error| {
            garbage(format!(
                "{:?} error at line {} column {}",
                error.classify(),
                error.line(),
                error.column()
            ))
        })?;
        if parsed.access_token.trim().is_empty() {
            return Err(garbage("empty access_token".to_owned()));
        }
        let lifetime = parsed.expires_in.as_ref().and_then(|value| {
            value
                .as_u64()
                .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
                .map(Duration::from_secs)
        });
        Ok(CachedToken {
            value: Secret::new(parsed.access_token),
            // A lifetime too long for the clock is a token that never expires.
            refresh_at: lifetime.and_then(|lifetime| {
                requested_at.checked_add(lifetime - EXPIRY_MARGIN.min(lifetime / 10))
            }),
        })
    }
}
