//! Webhook sink (`-w`): POSTs each event's JSON object (the JSON log's, 13 keys first) to the
//! operator's endpoint, e.g. SentryPeerHQ's `POST /api/events`, from its own tokio task behind a
//! bounded queue, so a slow or dead receiver never slows capture.
//!
//! - Works with or without OAuth2. With a client id and secret, a client-credentials token is
//!   fetched from the token URL, cached until shortly before `expires_in`, and fetched anew once
//!   when the receiver answers 401/403 (`oauth.rs`).
//! - Delivery is in order, one request at a time. Connect errors, timeouts, 401/403 (after the
//!   one refresh), 408, 429 and 5xx are retried with capped exponential back-off and jitter, or
//!   after the server's `Retry-After` / `ratelimit-reset` (`retry.rs`); other statuses are logged
//!   with the (truncated) response body and the events dropped. After `max_attempts` failed
//!   attempts the events are dropped, counted and logged (`deliver.rs`).
//! - `batch` > 1 posts JSON arrays of up to that many events already waiting in the queue (it
//!   never waits for a batch to fill).
//! - On shutdown, once the pipeline has closed, what is queued is delivered within
//!   `shutdown_grace`; anything left then is counted as failed.
//!
//! Secrets (client secret, access tokens, credentials in URLs) never reach logs, `Debug` output
//! or error messages.

mod deliver;
mod oauth;
mod retry;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use reqwest::Url;
use tokio_util::sync::CancellationToken;

pub use retry::RetryPolicy;

use crate::config::Secret;
use crate::pipeline::AsyncEventReceiver;
use crate::telemetry::{Readings, Report};

/// How long queued events may still be delivered once the pipeline has closed at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Response bodies are quoted in logs up to this many characters.
const MAX_LOGGED_BODY_CHARS: usize = 512;

/// Errors of the webhook sink. None of them carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot build the webhook HTTP client: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
    /// The webhook request failed before a response (connect error, timeout, TLS).
    #[error("webhook request failed: {reason}")]
    Send {
        /// Why (the URL is left out).
        reason: String,
    },
    /// The receiver answered with a status that is not a success.
    #[error("webhook answered {status}: {body:?}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The response body, truncated, secrets removed.
        body: String,
    },
    /// The token request failed before a response.
    #[error("OAuth2 token request failed: {reason}")]
    TokenRequest {
        /// Why (the URL is left out).
        reason: String,
    },
    /// The token server answered with a status other than 200.
    #[error("OAuth2 token server answered {status}: {body:?}")]
    TokenStatus {
        /// HTTP status code.
        status: u16,
        /// The response body, truncated, secrets removed.
        body: String,
    },
    /// The token server answered 200 with something that is not a token.
    #[error(
        "OAuth2 token response is not JSON with a string \"access_token\" ({reason}; {bytes} bytes)"
    )]
    TokenResponse {
        /// What is wrong with it (never its content).
        reason: String,
        /// Size of the response body.
        bytes: usize,
    },
}

/// OAuth2 client-credentials settings.
#[derive(Clone)]
pub struct OAuth2Options {
    /// Token endpoint.
    pub token_url: Url,
    /// `audience` asked for.
    pub audience: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
}

impl fmt::Debug for OAuth2Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Options")
            .field("token_url", &redact_url(&self.token_url))
            .field("audience", &self.audience)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// Everything the webhook task needs.
#[derive(Clone)]
pub struct WebhookOptions {
    /// Where events are POSTed.
    pub url: Url,
    /// Client-credentials settings, when the receiver wants a Bearer token.
    pub oauth2: Option<OAuth2Options>,
    /// Events per POST: 1 posts a JSON object, more post arrays of up to this many.
    pub batch: usize,
    /// Leave out events with an empty field.
    pub skip_empty: bool,
    /// Time one request (webhook or token) may take.
    pub request_timeout: Duration,
    /// Retry budget and back-off.
    pub retry: RetryPolicy,
    /// Time left for queued events once the pipeline has closed.
    pub shutdown_grace: Duration,
}

impl fmt::Debug for WebhookOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookOptions")
            .field("url", &redact_url(&self.url))
            .field("oauth2", &self.oauth2)
            .field("batch", &self.batch)
            .field("skip_empty", &self.skip_empty)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish()
    }
}

/// Counters of the webhook sink (events queued but dropped because the queue was full are
/// counted by the pipeline, as for every consumer).
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Events the receiver accepted (2xx).
    pub delivered: AtomicU64,
    /// Events given up: rejected (4xx), out of attempts, or still queued at the shutdown deadline.
    pub failed: AtomicU64,
    /// Requests sent again after a failed attempt.
    pub retries: AtomicU64,
    /// Events left out on purpose (peer data, empty fields).
    pub skipped: AtomicU64,
    /// OAuth2 token requests made.
    pub token_requests: AtomicU64,
}

impl Report for WebhookStats {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["webhook"]]
    }

    fn report(&self, out: &mut Readings) {
        const HELP: &str = "Webhook deliveries: events accepted, given up, requests retried, \
                            events left out on purpose, OAuth2 token requests.";
        #[rustfmt::skip]
        out.counters_in("webhook", HELP, &[
            ("sentrypeer_webhook_delivered_total", &self.delivered),
            ("sentrypeer_webhook_failed_total", &self.failed),
            ("sentrypeer_webhook_retries_total", &self.retries),
            ("sentrypeer_webhook_skipped_total", &self.skipped),
            ("sentrypeer_webhook_token_requests_total", &self.token_requests),
        ]);
    }
}

/// Builds the webhook's HTTP client and returns the task to run. The task ends when `events` is
/// closed and drained, or, once `drain` is cancelled (after the pipeline was dropped), at the
/// latest `options.shutdown_grace` later.
///
/// # Errors
/// [`WebhookError::Client`] when the HTTP client cannot be built.
pub fn start(
    options: WebhookOptions,
    events: AsyncEventReceiver,
    stats: Arc<WebhookStats>,
    drain: CancellationToken,
) -> Result<impl Future<Output = ()> + Send + 'static, WebhookError> {
    // The HTTP client takes rustls' process-wide provider: ring, the one crypto provider of the
    // program (libp2p's Noise needs it; the TLS listener uses it too). Installing twice is a no-op.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .user_agent(concat!("SentryPeer/", env!("CARGO_PKG_VERSION")))
        .timeout(options.request_timeout)
        .connect_timeout(options.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| WebhookError::Client {
            reason: describe(&error.without_url()),
        })?;
    tracing::info!(
        url = %redact_url(&options.url),
        oauth2 = options.oauth2.is_some(),
        batch = options.batch,
        "webhook on"
    );
    let run = deliver::Run::new(client, options, stats, drain);
    Ok(run.run(events))
}

/// A URL for logs: scheme, host, port and path; user, password, query and fragment left out.
pub fn redact_url(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    if url.query().is_some() {
        shown.push_str("?…");
    }
    shown
}

/// An error and its causes on one line (`a: b: c`).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A response body fit for a log line: secrets replaced by `****`, control characters by `?`,
/// cut at [`MAX_LOGGED_BODY_CHARS`].
fn loggable_body(body: &[u8], secrets: &[&str]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        text = text.replace(secret, "****");
    }
    let mut shown: String = text
        .chars()
        .take(MAX_LOGGED_BODY_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > MAX_LOGGED_BODY_CHARS {
        shown.push('…');
    }
    shown
}

/// Reads a response body up to `cap` bytes (the rest is left unread).
async fn read_capped(mut response: reqwest::Response, cap: usize) -> reqwest::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
        if body.len() >= cap {
            break;
        }
    }
    Ok(body)
}
