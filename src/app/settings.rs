//! The settings phase: the one place where the configuration tree is validated and turned into
//! each module's own options. Every value is checked here whether or not its feature is on (a
//! bad value in the file is an error even while its feature is off), and every error names the
//! TOML key. `--check-config` runs exactly this.

mod capture;
mod opendht;
mod p2p;
mod personality;
#[cfg(test)]
mod tests;
mod verdicts;
mod webhook;

use std::net::SocketAddr;
use std::path::PathBuf;

use jiff::SignedDuration;

use crate::blocklist::BlocklistOptions;
use crate::config::{Config, ConfigError, Secret, parse_duration};
use crate::pipeline::PeerRecords;
use crate::sinks::syslog::SyslogTarget;
use crate::sinks::webhook::WebhookOptions;
use crate::store::WriterOptions;

pub use capture::{CaptureSettings, SipListeners, TlsListener};
pub use p2p::P2pSettings;
pub use verdicts::VerdictSettings;

/// Everything the daemon runs with, per module.
#[derive(Debug, Clone)]
pub struct Settings {
    /// SIP listeners and what they answer.
    pub capture: CaptureSettings,
    /// The database and its writer.
    pub store: StoreSettings,
    /// The live blocklist's caps and retention.
    pub blocklist: BlocklistOptions,
    /// What of the blocklist becomes a verdict, per consumer.
    pub verdicts: VerdictSettings,
    /// Events that may wait for each consumer before new ones are dropped and counted.
    pub event_queue_capacity: usize,
    /// The JSON log, when on.
    pub json_log: Option<JsonLogSettings>,
    /// Syslog lines, when on.
    pub syslog: Option<SyslogSettings>,
    /// The webhook, when a URL is set.
    pub webhook: Option<WebhookSettings>,
    /// The REST API, when on.
    pub api: Option<ApiSettings>,
    /// Peer-to-peer sharing, when on.
    pub p2p: Option<P2pSettings>,
    /// The OpenDHT bridge, when a proxy is set.
    pub opendht: Option<crate::bridge::BridgeOptions>,
}

/// The database and how its writer batches and prunes.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// SQLite database file.
    pub db_file: PathBuf,
    /// The writer's options (retention included).
    pub writer: WriterOptions,
}

/// The JSON log.
#[derive(Debug, Clone)]
pub struct JsonLogSettings {
    /// Where lines are appended.
    pub path: PathBuf,
    /// Whether events received from peers are logged too.
    pub peer_records: PeerRecords,
}

/// Syslog lines.
#[derive(Debug, Clone)]
pub struct SyslogSettings {
    /// Where lines go.
    pub target: SyslogTarget,
    /// Whether events received from peers are sent too.
    pub peer_records: PeerRecords,
}

/// The webhook.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// URL, OAuth2, batching, retries.
    pub options: WebhookOptions,
    /// Whether events received from peers are posted too.
    pub peer_records: PeerRecords,
}

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
}

impl Settings {
    /// Validates `config` and builds every module's options from it.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad option.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        if config.db_file.as_os_str().is_empty() {
            return Err(ConfigError::invalid("db_file", "empty path"));
        }
        if config.event_queue_capacity == 0 {
            return Err(ConfigError::invalid(
                "event_queue_capacity",
                "must be at least 1",
            ));
        }
        let capture = capture::settings(config)?;
        let api = api_settings(config)?;
        let p2p = p2p::settings(config)?;
        let webhook = webhook::settings(config)?;
        let opendht = opendht::settings(config)?;
        let verdicts = verdicts::verdicts(config)?;
        let blocklist = verdicts::blocklist(config, &verdicts)?;
        let syslog_target = SyslogTarget::parse(config.syslog_address.as_deref())
            .map_err(|error| ConfigError::invalid("syslog_address", error.to_string()))?;
        Ok(Self {
            capture,
            store: StoreSettings {
                db_file: config.db_file.clone(),
                writer: WriterOptions {
                    retention_days: config.retention_days,
                    ..WriterOptions::default()
                },
            },
            blocklist,
            verdicts,
            event_queue_capacity: config.event_queue_capacity,
            json_log: config.json_log.then(|| JsonLogSettings {
                path: config.json_log_file.clone(),
                peer_records: PeerRecords::taken_if(config.json_log_include_peer_data),
            }),
            syslog: config.syslog.then_some(SyslogSettings {
                target: syslog_target,
                peer_records: PeerRecords::taken_if(config.syslog_include_peer_data),
            }),
            webhook,
            api: config.api.then_some(api),
            p2p: config.peer_to_peer.then_some(p2p),
            opendht,
        })
    }
}

fn api_settings(config: &Config) -> Result<ApiSettings, ConfigError> {
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
    Ok(ApiSettings {
        listen_address: config.api_listen_address,
        token,
        max_connections_per_source: config.api_max_connections_per_source,
        ipv6_source_prefix: config.source_ipv6_prefix,
        write_timeout: std::time::Duration::from_secs(config.api_write_timeout_secs),
        crowdsec_keys: config.crowdsec_api_key.clone(),
        crowdsec_ban,
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

/// Checks that `value` is at least `min`.
fn at_least(option: &'static str, value: u64, min: u64, unit: &str) -> Result<(), ConfigError> {
    if value >= min {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            option,
            format!("must be at least {min}{unit}"),
        ))
    }
}

/// Checks that `value` is within `min..=max`.
fn in_range(option: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            option,
            format!("{value} is outside {min}..={max}"),
        ))
    }
}
