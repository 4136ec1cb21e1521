//! The webhook task: takes events from its queue in order, posts them (one object, or arrays of
//! up to `batch`), retries within the budget, counts every outcome, and stops at the shutdown
//! deadline.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Url};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::oauth::TokenSource;
use super::{
    RetryPolicy, WebhookError, WebhookOptions, WebhookStats, describe, loggable_body, read_capped,
};
use crate::event::BadActor;
use crate::pipeline::AsyncEventReceiver;
use crate::telemetry::Count;

/// Largest response body read from the webhook (the rest is left unread).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why an attempt failed, and what to do about it.
#[derive(Debug)]
enum Failure {
    /// Try again, after the server's wait when it gave one.
    Retry {
        error: WebhookError,
        wait: Option<Duration>,
    },
    /// 401 or 403: fetch a new token once, then as [`Failure::Retry`].
    Unauthorized(WebhookError),
    /// Give up on these events (4xx other than 401, 403, 408 and 429; 3xx).
    Reject(WebhookError),
}

/// How a POST ended.
enum Posted {
    /// Delivered or given up (counted either way).
    Done,
    /// The shutdown deadline passed first; the events are not counted yet.
    Cut,
}

/// The shutdown deadline: unset until `drain` is cancelled, then `grace` from then.
struct Deadline {
    drain: CancellationToken,
    grace: Duration,
    at: Option<Instant>,
}

impl Deadline {
    /// Runs `work` to its end, or `None` when the deadline passes first.
    async fn bounded<F: Future>(&mut self, work: F) -> Option<F::Output> {
        let mut work = std::pin::pin!(work);
        loop {
            match self.at {
                None => {
                    tokio::select! {
                        biased;
                        output = &mut work => return Some(output),
                        () = self.drain.cancelled() => {}
                    }
                    self.at = Some(Instant::now() + self.grace);
                }
                Some(at) => {
                    return tokio::select! {
                        biased;
                        output = &mut work => Some(output),
                        () = tokio::time::sleep_until(at) => None,
                    };
                }
            }
        }
    }
}

/// Sends one request (fetching a token first when OAuth2 is on).
struct Sender {
    client: Client,
    url: Url,
    tokens: Option<TokenSource>,
}

impl Sender {
    async fn attempt(&mut self, body: Bytes, policy: &RetryPolicy) -> Result<u16, Failure> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(tokens) = &mut self.tokens {
            let token = tokens
                .token(&self.client)
                .await
                .map_err(|error| Failure::Retry { error, wait: None })?;
            request = request.bearer_auth(token.expose());
        }
        let response = request.send().await.map_err(|error| Failure::Retry {
            error: WebhookError::Send {
                reason: describe(&error.without_url()),
            },
            wait: None,
        })?;
        let status = response.status();
        if status.is_success() {
            // Read the (small) body so the connection can be reused; its content does not matter.
            let _ = read_capped(response, MAX_RESPONSE_BYTES).await;
            return Ok(status.as_u16());
        }
        let wait = policy.server_wait(response.headers(), jiff::Timestamp::now());
        let body = read_capped(response, MAX_RESPONSE_BYTES)
            .await
            .unwrap_or_default();
        let secrets = self.tokens.as_ref().map(TokenSource::secrets);
        let error = WebhookError::Status {
            status: status.as_u16(),
            body: loggable_body(&body, secrets.as_deref().unwrap_or_default()),
        };
        Err(match status.as_u16() {
            401 | 403 => Failure::Unauthorized(error),
            408 | 429 => Failure::Retry { error, wait },
            _ if status.is_server_error() => Failure::Retry { error, wait },
            _ => Failure::Reject(error),
        })
    }
}

/// The state of the webhook task.
pub(super) struct Run {
    sender: Sender,
    batch: usize,
    skip_empty: bool,
    policy: RetryPolicy,
    stats: Arc<WebhookStats>,
    deadline: Deadline,
    /// No request before this (the server asked for a wait).
    not_before: Option<Instant>,
}

impl Run {
    pub(super) fn new(
        client: Client,
        options: WebhookOptions,
        stats: Arc<WebhookStats>,
        drain: CancellationToken,
    ) -> Self {
        let tokens = options
            .oauth2
            .map(|oauth2| TokenSource::new(oauth2, Arc::clone(&stats)));
        Self {
            sender: Sender {
                client,
                url: options.url,
                tokens,
            },
            batch: options.batch.max(1),
            skip_empty: options.skip_empty,
            policy: options.retry,
            stats,
            deadline: Deadline {
                drain,
                grace: options.shutdown_grace,
                at: None,
            },
            not_before: None,
        }
    }

    /// Delivers until the queue is closed and empty, or the shutdown deadline passes.
    pub(super) async fn run(mut self, mut events: AsyncEventReceiver) {
        let mut batch: Vec<Arc<BadActor>> = Vec::with_capacity(self.batch);
        loop {
            let Some(received) = self.deadline.bounded(events.recv()).await else {
                self.give_up(&mut events, 0);
                break;
            };
            let Some(first) = received else {
                break;
            };
            self.take(first, &mut batch);
            while batch.len() < self.batch {
                let Ok(event) = events.try_recv() else {
                    break;
                };
                self.take(event, &mut batch);
            }
            if batch.is_empty() {
                continue;
            }
            let count = batch.len() as u64;
            let body = self.body(&batch);
            batch.clear();
            let body = match body {
                Ok(body) => body,
                Err(error) => {
                    count_add(&self.stats.failed, count);
                    tracing::error!(%error, events = count, "cannot serialise events for the webhook");
                    continue;
                }
            };
            if let Posted::Cut = self.post(body, count).await {
                self.give_up(&mut events, count);
                break;
            }
        }
        let stats = &self.stats;
        tracing::info!(
            delivered = stats.delivered.count(),
            failed = stats.failed.count(),
            retries = stats.retries.count(),
            skipped = stats.skipped.count(),
            "webhook stopped"
        );
    }

    /// Adds `event` to the batch unless it is filtered out.
    fn take(&self, event: Arc<BadActor>, batch: &mut Vec<Arc<BadActor>>) {
        if self.skip_empty && has_empty_field(&event) {
            count_add(&self.stats.skipped, 1);
            tracing::trace!(event_uuid = %event.event_uuid, "not sent to the webhook: empty field");
        } else {
            batch.push(event);
        }
    }

    /// One JSON object, or an array when batching is on.
    fn body(&self, batch: &[Arc<BadActor>]) -> serde_json::Result<Bytes> {
        let bytes = match batch {
            [event] if self.batch == 1 => serde_json::to_vec(&event.to_json())?,
            _ => serde_json::to_vec(&batch.iter().map(|e| e.to_json()).collect::<Vec<_>>())?,
        };
        Ok(Bytes::from(bytes))
    }

    /// Posts one body within the retry budget.
    async fn post(&mut self, body: Bytes, count: u64) -> Posted {
        let mut failures = 0u32;
        let mut refreshed = false;
        loop {
            if let Some(at) = self.not_before {
                if self
                    .deadline
                    .bounded(tokio::time::sleep_until(at))
                    .await
                    .is_none()
                {
                    return Posted::Cut;
                }
                self.not_before = None;
            }
            let attempt = self.sender.attempt(body.clone(), &self.policy);
            let Some(result) = self.deadline.bounded(attempt).await else {
                return Posted::Cut;
            };
            let (error, wait) = match result {
                Ok(status) => {
                    count_add(&self.stats.delivered, count);
                    tracing::debug!(events = count, status, "webhook delivered");
                    return Posted::Done;
                }
                Err(Failure::Reject(error)) => {
                    count_add(&self.stats.failed, count);
                    tracing::error!(events = count, %error, "webhook rejected the events; dropped");
                    return Posted::Done;
                }
                Err(Failure::Unauthorized(error)) if !refreshed && self.sender.tokens.is_some() => {
                    refreshed = true;
                    if let Some(tokens) = &mut self.sender.tokens {
                        tokens.invalidate();
                    }
                    count_add(&self.stats.retries, 1);
                    tracing::warn!(%error, "webhook refused the token; fetching a new one");
                    continue;
                }
                Err(Failure::Unauthorized(error)) => (error, None),
                Err(Failure::Retry { error, wait }) => (error, wait),
            };
            failures += 1;
            // A server's wait is honoured, but never shorter than the back-off: a `Retry-After: 0`
            // loop cannot make this a busy loop. It holds for the next POST too.
            let backoff = self.policy.backoff(failures);
            let delay = wait.map_or(backoff, |wait| wait.max(backoff));
            if wait.is_some() {
                self.not_before = Some(Instant::now() + delay);
            }
            if failures >= self.policy.max_attempts {
                count_add(&self.stats.failed, count);
                tracing::error!(
                    events = count,
                    attempts = failures,
                    %error,
                    "webhook delivery failed; events dropped"
                );
                return Posted::Done;
            }
            let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            if matches!(
                error,
                WebhookError::TokenRequest { .. }
                    | WebhookError::TokenStatus { .. }
                    | WebhookError::TokenResponse { .. }
            ) {
                tracing::error!(attempt = failures, retry_in_ms, %error, "cannot get an OAuth2 token for the webhook");
            } else {
                tracing::warn!(attempt = failures, retry_in_ms, %error, "webhook delivery failed; retrying");
            }
            count_add(&self.stats.retries, 1);
            if wait.is_none()
                && self
                    .deadline
                    .bounded(tokio::time::sleep(delay))
                    .await
                    .is_none()
            {
                return Posted::Cut;
            }
        }
    }

    /// The shutdown deadline passed: `in_flight` events and everything still queued are failed.
    fn give_up(&self, events: &mut AsyncEventReceiver, in_flight: u64) {
        events.close();
        let mut lost = in_flight;
        while events.try_recv().is_ok() {
            lost += 1;
        }
        count_add(&self.stats.failed, lost);
        if lost > 0 {
            tracing::error!(
                events = lost,
                "webhook shutdown deadline passed; events not delivered"
            );
        }
    }
}

/// Whether a field SentryPeerHQ requires is empty (it answers 422). The other fields are never
/// empty.
fn has_empty_field(event: &BadActor) -> bool {
    [
        &event.called_number,
        &event.sip_method,
        &event.sip_user_agent,
        &event.sip_message,
    ]
    .iter()
    .any(|field| field.is_empty())
}

fn count_add(counter: &AtomicU64, value: u64) {
    counter.fetch_add(value, Ordering::Relaxed);
}
