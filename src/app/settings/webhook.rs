//! Settings of the webhook: URLs (absolute `http(s)://` with a host), OAuth2 client credentials
//! (id and secret together, neither empty), batch size, timeout and attempts in range. Error
//! messages never repeat a URL (it may carry credentials) or a secret.

use std::time::Duration;

use super::{http_url, in_range};
use crate::config::{Config, ConfigError, Secret};
use crate::pipeline::PeerRecords;
use crate::sinks::webhook::{self, OAuth2Options, RetryPolicy, WebhookOptions};

/// The webhook.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// URL, OAuth2, batching, retries.
    pub options: WebhookOptions,
    /// Whether events received from peers are posted too.
    pub peer_records: PeerRecords,
}

/// Most events one webhook POST may carry.
pub(crate) const MAX_BATCH: u64 = 1_000;
/// Most attempts one POST may be given.
const MAX_ATTEMPTS: u64 = 100;
/// Longest request timeout accepted, in seconds.
const MAX_TIMEOUT_SECS: u64 = 3_600;

/// The webhook's settings; `None` when no URL is set (the other options are still checked).
pub(super) fn settings(config: &Config) -> Result<Option<WebhookSettings>, ConfigError> {
    let url = config
        .webhook_url
        .as_deref()
        .map(|url| http_url("webhook_url", url))
        .transpose()?;
    let token_url = http_url("oauth2_token_url", &config.oauth2_token_url)?;
    let oauth2 = credentials(config)?.map(|(client_id, client_secret)| OAuth2Options {
        token_url,
        audience: config.oauth2_audience.clone(),
        client_id: client_id.to_owned(),
        client_secret: client_secret.clone(),
    });
    in_range("webhook_batch", config.webhook_batch as u64, 1, MAX_BATCH)?;
    in_range(
        "webhook_timeout_secs",
        config.webhook_timeout_secs,
        1,
        MAX_TIMEOUT_SECS,
    )?;
    in_range(
        "webhook_max_attempts",
        u64::from(config.webhook_max_attempts),
        1,
        MAX_ATTEMPTS,
    )?;
    if url.is_none() && oauth2.is_some() {
        tracing::warn!("OAuth2 client credentials (-i, -c) without a webhook URL (-w); ignored");
    }
    Ok(url.map(|url| WebhookSettings {
        options: WebhookOptions {
            url,
            oauth2,
            batch: config.webhook_batch,
            skip_empty: config.webhook_skip_empty,
            request_timeout: Duration::from_secs(config.webhook_timeout_secs),
            retry: RetryPolicy {
                max_attempts: config.webhook_max_attempts,
                ..RetryPolicy::default()
            },
            shutdown_grace: webhook::SHUTDOWN_GRACE,
        },
        peer_records: PeerRecords::taken_if(config.webhook_include_peer_data),
    }))
}

/// The client id and secret, which come together and are not empty.
fn credentials(config: &Config) -> Result<Option<(&str, &Secret)>, ConfigError> {
    let id = config.oauth2_client_id.as_deref();
    let secret = config.oauth2_client_secret.as_ref();
    match (id, secret.map(Secret::expose)) {
        (Some(""), _) => Err(ConfigError::invalid("oauth2_client_id", "empty client id")),
        (_, Some("")) => Err(ConfigError::invalid(
            "oauth2_client_secret",
            "empty client secret",
        )),
        (None, Some(_)) => Err(ConfigError::invalid(
            "oauth2_client_id",
            "a client secret needs a client id (-i)",
        )),
        (Some(_), None) => Err(ConfigError::invalid(
            "oauth2_client_secret",
            "a client id needs a client secret (-c)",
        )),
        (None, None) => Ok(None),
        (Some(id), Some(_)) => Ok(secret.map(|secret| (id, secret))),
    }
}
