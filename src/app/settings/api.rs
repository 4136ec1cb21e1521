//! The REST API's settings (`-a`) and the web dashboard's (`--web-gui`, served by the API).

use std::net::SocketAddr;
use std::path::PathBuf;

use jiff::SignedDuration;

use super::at_least;
use crate::api::{ApiClient, ApiClientError};
use crate::config::{Config, ConfigError, Secret, parse_duration};

/// The REST API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Where it listens.
    pub listen_address: SocketAddr,
    /// Bearer token required on every route but `/health-check` (from `api_token` or read from
    /// `api_token_file`).
    pub token: Option<Secret>,
    /// Live connections from one source (0: no cap).
    pub max_connections_per_source: usize,
    /// IPv6 sources count against that cap by this prefix.
    pub ipv6_source_prefix: u8,
    /// Longest a response write may wait for its client.
    pub write_timeout: std::time::Duration,
    /// CrowdSec bouncer keys.
    pub crowdsec_keys: Vec<Secret>,
    /// How long a CrowdSec decision lasts after the IP was last seen.
    pub crowdsec_ban: SignedDuration,
    /// OAuth2 clients of `POST /oauth/token`.
    pub clients: Vec<ApiClient>,
    /// How long an issued token is valid.
    pub token_lifetime: std::time::Duration,
    /// The web dashboard under `/ui/`, when on.
    pub web_gui: Option<GuiSettings>,
}

/// The web dashboard.
#[derive(Debug, Clone, Default)]
pub struct GuiSettings {
    /// A MaxMind-format country database to use instead of the built-in table.
    pub geoip_db: Option<PathBuf>,
    /// The running configuration as the health page shows it (secrets masked).
    pub configuration: serde_json::Value,
}

pub(super) fn settings(config: &Config) -> Result<ApiSettings, ConfigError> {
    if config
        .api_token
        .as_ref()
        .is_some_and(|token| token.expose().is_empty())
    {
        return Err(ConfigError::invalid("api_token", "empty token"));
    }
    at_least(
        "api_write_timeout_secs",
        config.api_write_timeout_secs,
        1,
        " second",
    )?;
    let token = match (&config.api_token, &config.api_token_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "api_token_file",
                "set either api_token or api_token_file, not both",
            ));
        }
        (None, Some(path)) => Some(read_token_file(path)?),
        (token, None) => token.clone(),
    };
    let crowdsec_ban = parse_duration(&config.crowdsec_ban_duration)
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| {
            ConfigError::invalid(
                "crowdsec_ban_duration",
                format!(
                    "{:?} is not a duration such as 30m, 24h or 7d",
                    config.crowdsec_ban_duration
                ),
            )
        })?;
    let clients = config
        .api_client
        .iter()
        .map(|client| client.expose().parse())
        .collect::<Result<Vec<ApiClient>, _>>()
        .map_err(|error: ApiClientError| ConfigError::invalid("api_client", error.to_string()))?;
    let token_lifetime = parse_duration(&config.api_token_lifetime)
        .filter(|duration| duration.is_positive())
        .ok_or_else(|| {
            ConfigError::invalid(
                "api_token_lifetime",
                format!(
                    "{:?} is not a duration such as 1h or 24h",
                    config.api_token_lifetime
                ),
            )
        })?;
    let web_gui = gui_settings(config)?;
    Ok(ApiSettings {
        listen_address: config.api_listen_address,
        token,
        max_connections_per_source: config.api_max_connections_per_source,
        ipv6_source_prefix: config.source_ipv6_prefix,
        write_timeout: std::time::Duration::from_secs(config.api_write_timeout_secs),
        crowdsec_keys: config.crowdsec_api_key.clone(),
        crowdsec_ban,
        clients,
        token_lifetime: token_lifetime.unsigned_abs(),
        web_gui: config.web_gui.then_some(web_gui),
    })
}

/// The dashboard's options; `geoip_db` must name a readable file.
fn gui_settings(config: &Config) -> Result<GuiSettings, ConfigError> {
    if let Some(path) = &config.geoip_db {
        std::fs::File::open(path)
            .and_then(|file| file.metadata())
            .ok()
            .filter(std::fs::Metadata::is_file)
            .ok_or_else(|| {
                ConfigError::invalid(
                    "geoip_db",
                    format!("{} is not a readable file", path.display()),
                )
            })?;
    }
    Ok(GuiSettings {
        geoip_db: config.geoip_db.clone(),
        configuration: serde_json::to_value(config).unwrap_or_default(),
    })
}

/// The API token in `path`: its first line, surrounding whitespace trimmed.
fn read_token_file(path: &std::path::Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigError::invalid(
            "api_token_file",
            format!("cannot read {}: {error}", path.display()),
        )
    })?;
    let token = text.lines().next().unwrap_or_default().trim();
    if token.is_empty() {
        return Err(ConfigError::invalid(
            "api_token_file",
            format!("{} holds no token", path.display()),
        ));
    }
    Ok(Secret::new(token.to_owned()))
}
