//! Flags of the REST API, the CrowdSec decision stream and the web dashboard, and how they merge over the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::merge::set_if_some;
use crate::config::{Config, Secret};

/// The REST API and the CrowdSec decision stream.
#[derive(Debug, Args)]
pub struct ApiFlags {
    /// Enable RESTful API mode or use SENTRYPEER_API env
    #[arg(short = 'a', long = "api")]
    pub api: bool,

    /// Set the REST API listen address (default '0.0.0.0:8082') or use SENTRYPEER_API_LISTEN_ADDRESS env
    #[arg(
        long = "api-listen-address",
        env = "SENTRYPEER_API_LISTEN_ADDRESS",
        value_name = "ADDR"
    )]
    pub api_listen_address: Option<SocketAddr>,

    /// Bearer token the API requires on every route but /health-check or use SENTRYPEER_API_TOKEN env
    #[arg(
        long = "api-token",
        env = "SENTRYPEER_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub api_token: Option<String>,

    /// File holding the API bearer token (kept out of the command line) or use SENTRYPEER_API_TOKEN_FILE env
    #[arg(
        long = "api-token-file",
        env = "SENTRYPEER_API_TOKEN_FILE",
        value_name = "FILE"
    )]
    pub api_token_file: Option<PathBuf>,

    /// Concurrent API connections from one source IP, 0 = no cap (default 32) or use SENTRYPEER_API_MAX_CONNECTIONS_PER_SOURCE env
    #[arg(
        long = "api-max-connections-per-source",
        env = "SENTRYPEER_API_MAX_CONNECTIONS_PER_SOURCE",
        value_name = "N"
    )]
    pub api_max_connections_per_source: Option<usize>,

    /// An OAuth2 client allowed to get bearer tokens from POST /oauth/token, as ID:SECRET (repeatable) or use SENTRYPEER_API_CLIENT env
    #[arg(
        long = "api-client",
        env = "SENTRYPEER_API_CLIENT",
        hide_env_values = true,
        value_name = "ID:SECRET",
        value_delimiter = ','
    )]
    pub api_client: Vec<String>,

    /// How long a token from POST /oauth/token is valid (default 24h) or use SENTRYPEER_API_TOKEN_LIFETIME env
    #[arg(
        long = "api-token-lifetime",
        env = "SENTRYPEER_API_TOKEN_LIFETIME",
        value_name = "DURATION"
    )]
    pub api_token_lifetime: Option<String>,

    /// CrowdSec bouncer API key for /v1/decisions (repeatable, one per bouncer) or use SENTRYPEER_CROWDSEC_API_KEY env
    #[arg(
        long = "crowdsec-api-key",
        env = "SENTRYPEER_CROWDSEC_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        value_delimiter = ','
    )]
    pub crowdsec_api_key: Vec<String>,

    /// How long a CrowdSec decision lasts after the IP was last seen (default 24h) or use SENTRYPEER_CROWDSEC_BAN_DURATION env
    #[arg(
        long = "crowdsec-ban-duration",
        env = "SENTRYPEER_CROWDSEC_BAN_DURATION",
        value_name = "DURATION"
    )]
    pub crowdsec_ban_duration: Option<String>,

    /// Serve the web dashboard under /ui/ on the API listener (turns the API on) or use SENTRYPEER_WEB_GUI env
    #[arg(long = "web-gui")]
    pub web_gui: bool,

    /// MaxMind-format (GeoLite2/GeoIP2 Country or City) database for the countries of the dashboard and the community summary or use SENTRYPEER_GEOIP_DB env
    #[arg(long = "geoip-db", env = "SENTRYPEER_GEOIP_DB", value_name = "FILE")]
    pub geoip_db: Option<PathBuf>,
}

impl ApiFlags {
    /// Merges these flags and their boolean variables (`env_is_set`) over `config`.
    pub(super) fn merge_into(self, config: &mut Config, env_is_set: &impl Fn(&str) -> bool) {
        config.api |= self.api || env_is_set("SENTRYPEER_API");
        config.web_gui |= self.web_gui || env_is_set("SENTRYPEER_WEB_GUI");
        if self.geoip_db.is_some() {
            config.geoip_db = self.geoip_db;
        }
        set_if_some(&mut config.api_listen_address, self.api_listen_address);
        set_if_some(
            &mut config.api_max_connections_per_source,
            self.api_max_connections_per_source,
        );
        if self.api_token_file.is_some() {
            config.api_token_file = self.api_token_file;
        }
        set_if_some(
            &mut config.crowdsec_ban_duration,
            self.crowdsec_ban_duration,
        );
        if let Some(token) = self.api_token {
            config.api_token = Some(Secret::new(token));
        }
        if !self.api_client.is_empty() {
            config.api_client = self.api_client.into_iter().map(Secret::new).collect();
        }
        set_if_some(&mut config.api_token_lifetime, self.api_token_lifetime);
        if !self.crowdsec_api_key.is_empty() {
            config.crowdsec_api_key = self.crowdsec_api_key.into_iter().map(Secret::new).collect();
        }
    }
}
