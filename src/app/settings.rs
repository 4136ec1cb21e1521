//! The settings phase: the one place where the configuration tree is validated and turned into
//! each module's own options. Every value is checked here whether or not its feature is on (a
//! bad value in the file is an error even while its feature is off), and every error names the
//! TOML key. `--check-config` runs exactly this. A part whose cargo feature is not built has no
//! options to build, so its values are not checked beyond their types; turning it on is an error
//! (`features`).

#[cfg(feature = "api")]
mod api;
#[cfg(feature = "bgp")]
mod bgp;
mod capture;
mod features;
#[cfg(feature = "opendht")]
mod opendht;
#[cfg(feature = "p2p")]
mod p2p;
mod personality;
#[cfg(feature = "sip-agent")]
mod sip_agent;
#[cfg(test)]
mod tests;
mod verdicts;
#[cfg(feature = "webhook")]
mod webhook;

use std::path::PathBuf;

use crate::blocklist::BlocklistOptions;
use crate::config::{Config, ConfigError};
use crate::pipeline::PeerRecords;
use crate::sinks::syslog::SyslogTarget;
use crate::store::WriterOptions;

#[cfg(feature = "api")]
pub use api::{ApiSettings, GuiSettings};
#[cfg(feature = "bgp")]
pub use bgp::BgpSettings;
pub use capture::{CaptureSettings, SipListeners, TlsListener};
pub use features::NotBuilt;
pub(super) use features::built;
#[cfg(feature = "p2p")]
pub use p2p::P2pSettings;
#[cfg(feature = "sip-agent")]
pub use sip_agent::SipAgentSettings;
pub use verdicts::VerdictSettings;
#[cfg(feature = "webhook")]
pub use webhook::WebhookSettings;

// A part whose feature is not built has no settings: its `Option` below is always `None`.
#[cfg(feature = "opendht")]
pub use crate::bridge::BridgeOptions as OpenDhtSettings;
#[cfg(not(feature = "api"))]
pub use NotBuilt as ApiSettings;
#[cfg(not(feature = "bgp"))]
pub use NotBuilt as BgpSettings;
#[cfg(not(feature = "opendht"))]
pub use NotBuilt as OpenDhtSettings;
#[cfg(not(feature = "p2p"))]
pub use NotBuilt as P2pSettings;
#[cfg(not(feature = "sip-agent"))]
pub use NotBuilt as SipAgentSettings;
#[cfg(not(feature = "webhook"))]
pub use NotBuilt as WebhookSettings;

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
    /// The SIP verdict agent, when it has an address.
    pub sip_agent: Option<SipAgentSettings>,
    /// The BGP blackhole feed, when on.
    pub bgp: Option<BgpSettings>,
    /// The OpenDHT bridge, when a proxy is set.
    pub opendht: Option<OpenDhtSettings>,
}

/// The database and how its writer batches and prunes.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// SQLite database file.
    pub db_file: PathBuf,
    /// Events that may wait for the writer before new ones are dropped and counted.
    pub queue_capacity: usize,
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

impl Settings {
    /// Validates `config` and builds every module's options from it.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad option; [`ConfigError::NotBuilt`] for an
    /// option that turns on a part this binary was built without.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        features::check(config, features::built)?;
        if config.db_file.as_os_str().is_empty() {
            return Err(ConfigError::invalid("db_file", "empty path"));
        }
        for (name, capacity) in [
            ("event_queue_capacity", config.event_queue_capacity),
            ("store_queue_capacity", config.store_queue_capacity),
        ] {
            if capacity == 0 {
                return Err(ConfigError::invalid(name, "must be at least 1"));
            }
        }
        let capture = capture::settings(config)?;
        // The optional parts: checked and built only where their feature is (`features::check`
        // has refused turning on one that is not).
        #[cfg(feature = "api")]
        let api = (config.api || config.web_gui).then_some(api::settings(config)?);
        #[cfg(feature = "p2p")]
        let p2p = config.peer_to_peer.then_some(p2p::settings(config)?);
        #[cfg(feature = "webhook")]
        let webhook = webhook::settings(config)?;
        #[cfg(feature = "opendht")]
        let opendht = opendht::settings(config)?;
        #[cfg(feature = "sip-agent")]
        let sip_agent = sip_agent::settings(config)?;
        #[cfg(feature = "bgp")]
        let bgp = bgp::settings(config)?;
        #[cfg(not(feature = "api"))]
        let api = None;
        #[cfg(not(feature = "p2p"))]
        let p2p = None;
        #[cfg(not(feature = "webhook"))]
        let webhook = None;
        #[cfg(not(feature = "opendht"))]
        let opendht = None;
        #[cfg(not(feature = "sip-agent"))]
        let sip_agent = None;
        #[cfg(not(feature = "bgp"))]
        let bgp = None;
        let verdicts = verdicts::verdicts(config)?;
        // The change log is read by the API (its streams, CrowdSec's, the dashboard's live
        // page) and by the BGP feed only.
        let changes_read = api.is_some() || bgp.is_some();
        let blocklist = verdicts::blocklist(config, &verdicts, changes_read)?;
        let syslog_target = SyslogTarget::parse(config.syslog_address.as_deref())
            .map_err(|error| ConfigError::invalid("syslog_address", error.to_string()))?;
        Ok(Self {
            capture,
            store: StoreSettings {
                db_file: config.db_file.clone(),
                queue_capacity: config.store_queue_capacity,
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
            api,
            p2p,
            sip_agent,
            bgp,
            opendht,
        })
    }
}

/// An absolute `http://` or `https://` URL with a host. The URL is not repeated in the error:
/// it may carry credentials.
#[cfg(any(feature = "webhook", feature = "opendht"))]
fn http_url(option: &'static str, url: &str) -> Result<reqwest::Url, ConfigError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| ConfigError::invalid(option, format!("not a URL ({error})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(
            option,
            "only http:// and https:// URLs are supported",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(option, "the URL has no host"));
    }
    Ok(parsed)
}

/// A network (`10.0.0.0/8`, host bits cleared) or one address (as its host network, IPv4-mapped
/// IPv6 as IPv4); `None` when `entry` is neither.
fn network_or_address(entry: &str) -> Option<ipnet::IpNet> {
    entry
        .parse::<ipnet::IpNet>()
        .map(|network| network.trunc())
        .ok()
        .or_else(|| {
            entry
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| ipnet::IpNet::from(ip.to_canonical()))
        })
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
