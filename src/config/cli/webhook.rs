//! Flags of the webhook and its OAuth2 client credentials, and how they merge over the file.

use clap::Args;

use super::merge::set_if_some;
use crate::config::{Config, Secret};

/// The webhook and its OAuth2 client credentials.
#[derive(Debug, Args)]
pub struct WebhookFlags {
    /// Set WebHook URL for bad actor json POSTs or use SENTRYPEER_WEBHOOK_URL env
    #[arg(short = 'w', long = "webhook-url", env = "SENTRYPEER_WEBHOOK_URL")]
    pub webhook_url: Option<String>,

    /// Set OAuth 2 client ID or use SENTRYPEER_OAUTH2_CLIENT_ID env to get a Bearer token for WebHook
    #[arg(
        short = 'i',
        long = "client-id",
        visible_alias = "oauth2-client-id",
        env = "SENTRYPEER_OAUTH2_CLIENT_ID"
    )]
    pub client_id: Option<String>,

    /// Set OAuth 2 client secret or use SENTRYPEER_OAUTH2_CLIENT_SECRET env to get a Bearer token for WebHook
    #[arg(
        short = 'c',
        long = "client-secret",
        visible_alias = "oauth2-client-secret",
        env = "SENTRYPEER_OAUTH2_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,

    /// Set the OAuth 2 token URL for the WebHook's Bearer token (default 'https://authz.sentrypeer.com/oauth/token') or use SENTRYPEER_OAUTH2_TOKEN_URL env
    #[arg(
        long = "oauth2-token-url",
        env = "SENTRYPEER_OAUTH2_TOKEN_URL",
        value_name = "URL"
    )]
    pub oauth2_token_url: Option<String>,

    /// Set the OAuth 2 audience asked for (default 'https://sentrypeer.com/api') or use SENTRYPEER_OAUTH2_AUDIENCE env
    #[arg(
        long = "oauth2-audience",
        env = "SENTRYPEER_OAUTH2_AUDIENCE",
        value_name = "AUDIENCE"
    )]
    pub oauth2_audience: Option<String>,

    /// Events per WebHook POST: 1 posts a JSON object (default), N>1 posts JSON arrays of up to N, or use SENTRYPEER_WEBHOOK_BATCH env
    #[arg(
        long = "webhook-batch",
        env = "SENTRYPEER_WEBHOOK_BATCH",
        value_name = "N"
    )]
    pub webhook_batch: Option<usize>,

    /// Do not POST events with an empty field (SentryPeerHQ rejects them) or use SENTRYPEER_WEBHOOK_SKIP_EMPTY env
    #[arg(long = "webhook-skip-empty")]
    pub webhook_skip_empty: bool,

    /// Also POST events received from peers or use SENTRYPEER_WEBHOOK_INCLUDE_PEER_DATA env
    #[arg(long = "webhook-include-peer-data")]
    pub webhook_include_peer_data: bool,

    /// Seconds one WebHook or token request may take (default 10) or use SENTRYPEER_WEBHOOK_TIMEOUT env
    #[arg(
        long = "webhook-timeout",
        env = "SENTRYPEER_WEBHOOK_TIMEOUT",
        value_name = "SECS"
    )]
    pub webhook_timeout: Option<u64>,

    /// Attempts per WebHook POST before its events are dropped (default 6) or use SENTRYPEER_WEBHOOK_MAX_ATTEMPTS env
    #[arg(
        long = "webhook-max-attempts",
        env = "SENTRYPEER_WEBHOOK_MAX_ATTEMPTS",
        value_name = "N"
    )]
    pub webhook_max_attempts: Option<u32>,
}

impl WebhookFlags {
    /// Merges these flags and their boolean variables (`env_is_set`) over `config`.
    pub(super) fn merge_into(self, config: &mut Config, env_is_set: &impl Fn(&str) -> bool) {
        config.webhook_skip_empty |=
            self.webhook_skip_empty || env_is_set("SENTRYPEER_WEBHOOK_SKIP_EMPTY");
        config.webhook_include_peer_data |=
            self.webhook_include_peer_data || env_is_set("SENTRYPEER_WEBHOOK_INCLUDE_PEER_DATA");
        if self.webhook_url.is_some() {
            config.webhook_url = self.webhook_url;
        }
        if self.client_id.is_some() {
            config.oauth2_client_id = self.client_id;
        }
        if let Some(secret) = self.client_secret {
            config.oauth2_client_secret = Some(Secret::new(secret));
        }
        set_if_some(&mut config.oauth2_token_url, self.oauth2_token_url);
        set_if_some(&mut config.oauth2_audience, self.oauth2_audience);
        set_if_some(&mut config.webhook_batch, self.webhook_batch);
        set_if_some(&mut config.webhook_timeout_secs, self.webhook_timeout);
        set_if_some(&mut config.webhook_max_attempts, self.webhook_max_attempts);
    }
}
