//! The configuration tree: every option as the TOML file, the `SENTRYPEER_*` variables and the
//! flags give it, with its default ([`defaults`]) and the loading of the file. A leaf module: it
//! imports no feature module. What each value means, and whether it is valid, is decided where
//! it is turned into a module's own options (`app::settings`); modules never see [`Config`].
//!
//! Precedence is TOML file < `SENTRYPEER_*` environment variables < command-line flags; the
//! merging of the last two lives in [`cli`].

mod bgp;
pub mod cli;
pub mod defaults;
mod duration;
mod personality;
mod secret;
mod sip_agent;
#[cfg(test)]
mod tests;
mod verdicts;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use bgp::{BgpConfig, BgpPeerConfig};
pub use duration::parse_duration;
pub use personality::{CallOutcomeSetting, PersonalitySettings, ProgressSetting};
pub use secret::Secret;
pub use sip_agent::SipAgentConfig;
pub use verdicts::{ConsumerConfig, OriginSetting, UdpOnlySetting, VerdictsConfig};

/// Errors while loading or validating the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File that was read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for this program.
    #[error("invalid config file {path}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Parse {
        /// File that was parsed.
        path: PathBuf,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A value is out of its allowed range or options contradict each other.
    #[error("invalid value for {option}: {reason}")]
    Invalid {
        /// Option name (TOML key).
        option: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// An option turns on a part this binary was built without (its cargo feature is off).
    #[error("built without the {feature} feature: {option} needs it")]
    NotBuilt {
        /// The cargo feature.
        feature: &'static str,
        /// The flag that asked for it.
        option: &'static str,
    },
}

impl ConfigError {
    /// [`ConfigError::Invalid`] for `option`.
    pub fn invalid(option: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            option,
            reason: reason.into(),
        }
    }
}

/// Every option of the daemon. TOML keys are the field names. It serialises back to TOML (the
/// packaged, commented configuration file is rendered from [`Config::default`]), secrets masked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// UDP and TCP SIP listen address (`[::]:5060` listens on IPv6 and IPv4).
    pub sip_listen_address: SocketAddr,
    /// TLS SIP listen address (original TOML key).
    pub tls_listen_address: SocketAddr,
    /// TLS certificate (PEM); generated self-signed for `localhost` when missing (original key).
    pub cert: PathBuf,
    /// TLS private key (PEM); generated with the certificate when missing (original key).
    pub key: PathBuf,
    /// Turn every SIP listener off (`-R`).
    pub sip_disable: bool,
    /// Turn the TLS listener off (`-N`).
    pub tls_disable: bool,
    /// Answer probes (`-r`).
    pub sip_responsive: bool,
    /// Replies per second allowed to one source IP (twice that as a burst); 0 = no limit.
    pub sip_reply_rate_limit: u32,
    /// Largest message accepted on TCP/TLS; longer ones are recorded cut and the connection closed.
    pub max_message_bytes: usize,
    /// Seconds a TCP/TLS connection may stay silent before it is closed.
    pub tcp_idle_timeout_secs: u64,
    /// Seconds a TLS handshake may take; a client that has not finished by then is disconnected.
    pub tls_handshake_timeout_secs: u64,
    /// Seconds a TCP/TLS message (headers and body) may take from its first byte to its end;
    /// a slower sender (slowloris) is disconnected and what it sent is recorded.
    pub sip_header_timeout_secs: u64,
    /// Concurrent connections, TCP and TLS each; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Concurrent connections from one source IP, TCP and TLS each; further ones are closed at
    /// once and counted. 0 = no per-source cap.
    pub sip_max_connections_per_source: usize,
    /// IPv6 sources count against the per-source connection caps (SIP and API) by this prefix
    /// length: one attacker holds a whole /64.
    pub source_ipv6_prefix: u8,
    /// Events that may wait for each consumer but the database writer (JSON log, syslog, webhook,
    /// peers, live stream) before new ones are dropped and counted.
    pub event_queue_capacity: usize,
    /// Events that may wait for the database writer (and at most 48 MiB of them, about a second
    /// of a 50,000/s flood) before new ones are dropped and counted.
    pub store_queue_capacity: usize,
    /// SQLite database file (`-f`).
    pub db_file: PathBuf,
    /// Days of events kept in the database; 0 keeps them forever.
    pub retention_days: u32,
    /// Most source IPs the live blocklist holds; beyond, the least recently seen are evicted.
    pub blocklist_max_ips: usize,
    /// Most called numbers the live blocklist holds; beyond, the least recently seen are evicted.
    pub blocklist_max_numbers: usize,
    /// What of the blocklist becomes a verdict (`[verdicts]` table).
    pub verdicts: VerdictsConfig,
    /// The SIP redirect agent switches ask before routing a call (`[sip_agent]` table).
    pub sip_agent: SipAgentConfig,
    /// Write one JSON object per event to `json_log_file` (`-j`).
    pub json_log: bool,
    /// JSON log file (`-l`).
    pub json_log_file: PathBuf,
    /// Also log events received from peers (only this node's own captures otherwise: T-Pot
    /// reads the JSON log as attacks on this host).
    pub json_log_include_peer_data: bool,
    /// Send one syslog line per event (`-s`).
    pub syslog: bool,
    /// Where syslog lines go: a Unix socket path, or `udp://host:port`. Default: `/dev/log`.
    pub syslog_address: Option<String>,
    /// Also send syslog lines for events received from peers (only this node's own captures
    /// otherwise: Fail2ban reads them to ban this host's attackers).
    pub syslog_include_peer_data: bool,
    /// More operational logging (`-v`).
    pub verbose: bool,
    /// Debug logging (`-d`).
    pub debug: bool,
    /// Serve the REST API (`-a`).
    pub api: bool,
    /// REST API listen address.
    pub api_listen_address: SocketAddr,
    /// Bearer token the API requires on every route but `/health-check`, when set.
    pub api_token: Option<Secret>,
    /// File holding the bearer token (first line, surrounding whitespace trimmed), so it need
    /// not be on the command line; excludes `api_token`.
    pub api_token_file: Option<PathBuf>,
    /// Concurrent API connections from one source IP (IPv6 by `source_ipv6_prefix`); further
    /// ones are closed at once and counted. 0 = no per-source cap.
    pub api_max_connections_per_source: usize,
    /// Seconds a response write may wait for its client (which must also take at least 4 KiB/s
    /// on average) before the connection is cut.
    pub api_write_timeout_secs: u64,
    /// OAuth2 clients (`ID:SECRET`) that may get bearer tokens from `POST /oauth/token`, as
    /// SentryPeerHQ's clients (CGRateS, the FreePBX module) do.
    pub api_client: Vec<Secret>,
    /// How long a token from `POST /oauth/token` is valid (`1h`, `24h`).
    pub api_token_lifetime: String,
    /// CrowdSec bouncer API keys (`X-Api-Key`), one per bouncer; none disables `/v1/decisions`.
    pub crowdsec_api_key: Vec<Secret>,
    /// How long a CrowdSec decision lasts after the IP was last seen (`30m`, `24h`, `7d`).
    pub crowdsec_ban_duration: String,
    /// Serve the web dashboard under `/ui/` on the API listener (turns the API on).
    pub web_gui: bool,
    /// A MaxMind-format country database the dashboard uses instead of the built-in one.
    pub geoip_db: Option<PathBuf>,
    /// Share bad actors with peers (`-p`).
    pub peer_to_peer: bool,
    /// Peer-to-peer bootstrap nodes (`-b`): `host:port` or multiaddrs.
    pub bootstrap_node: Vec<String>,
    /// Where the peer-to-peer node listens: `host:port` or multiaddrs.
    pub p2p_listen_address: Vec<String>,
    /// Addresses announced for OpenDHT discovery (port 0: the port the node listens on).
    pub p2p_announce_address: Vec<String>,
    /// Find peers on the local network with mDNS.
    pub p2p_mdns: bool,
    /// Name of the peer-to-peer community; nodes of different names never talk.
    pub p2p_network: String,
    /// The node's ed25519 key file (default: next to the database, `<db>.p2p_key`).
    pub p2p_key_file: Option<PathBuf>,
    /// When not empty, only records captured by these PeerIds are accepted.
    pub p2p_receive_only_from: Vec<String>,
    /// PeerIds whose records are refused and whose connections are closed.
    pub p2p_deny: Vec<String>,
    /// Records a peer must have shared with this node before it is served catch-up.
    pub p2p_min_contribution: u64,
    /// Records per second accepted from one peer (bursts of twice that), pushed or caught up.
    pub p2p_max_records_per_second: u32,
    /// Records one peer may send in one catch-up pass; beyond, it is cut off.
    pub p2p_max_catch_up_records: u64,
    /// Peer-to-peer connections, both ways (lowered to fit the open-file limit).
    pub p2p_max_connections: u32,
    /// Incoming peer-to-peer connections from one IP address, once the node is half full.
    pub p2p_max_connections_per_address: u32,
    /// Publish this node's hourly community summary to its peers (needs `peer_to_peer`).
    pub share_stats: bool,
    /// Seconds between checks that the hourly community summary is due (tests shorten it).
    pub share_stats_interval_secs: u64,
    /// Webhook receiving each event (`-w`).
    pub webhook_url: Option<String>,
    /// OAuth2 client id for the webhook (`-i`).
    pub oauth2_client_id: Option<String>,
    /// OAuth2 client secret for the webhook (`-c`).
    pub oauth2_client_secret: Option<Secret>,
    /// OAuth2 token endpoint (client-credentials grant) used when a client id and secret are set.
    pub oauth2_token_url: String,
    /// OAuth2 `audience` asked for in the token request.
    pub oauth2_audience: String,
    /// Events per webhook POST: 1 posts a JSON object, more post JSON arrays of up to this many.
    pub webhook_batch: usize,
    /// Do not send events that have an empty field (SentryPeerHQ answers them with 422).
    pub webhook_skip_empty: bool,
    /// Also send events received from peers (only this node's own events otherwise).
    pub webhook_include_peer_data: bool,
    /// Seconds one webhook or token request may take.
    pub webhook_timeout_secs: u64,
    /// Attempts per webhook POST before its events are dropped and counted.
    pub webhook_max_attempts: u32,
    /// OpenDHT REST proxy (`dhtnode --proxyserver`) of the original's community, when joined.
    pub opendht_proxy: Option<String>,
    /// Put this node's captured events under `bad_actors` on OpenDHT.
    pub opendht_publish: bool,
    /// Events put on OpenDHT per second at most.
    pub opendht_publish_rate: u32,
    /// Let OpenDHT's unsigned values count toward verdicts (as reports of the author `opendht`).
    pub opendht_verdicts: bool,
    /// What responsive mode pretends to be (`[personality]` table: `name` and overrides).
    pub personality: PersonalitySettings,
    /// The BGP blackhole feed (`[bgp]` table with `[[bgp.peer]]` entries).
    pub bgp: BgpConfig,
}

impl Config {
    /// Parses a TOML document; `path` only names the source in errors.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] with the line of the first problem (unknown key, wrong type).
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            line: error.span().and_then(|span| {
                text.get(..span.start)
                    .map(|before| before.matches('\n').count() + 1)
            }),
            message: error.message().trim().replace('\n', " "),
        })
    }

    /// Reads a TOML file. A missing file is an error here; see [`Config::load_default_file`].
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Parse`].
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Reads the default file (`~/.config/sentrypeer/default-config.toml`, as the original)
    /// when it exists; defaults when it does not. Never creates it.
    ///
    /// # Errors
    /// As [`Config::read`], except for a missing file.
    pub fn load_default_file() -> Result<Self, ConfigError> {
        match default_config_path() {
            Some(path) if path.exists() => Self::read(&path),
            _ => Ok(Self::default()),
        }
    }
}

/// The original's default config location: `$XDG_CONFIG_HOME/sentrypeer/default-config.toml`,
/// else `$HOME/.config/sentrypeer/default-config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("sentrypeer").join("default-config.toml"))
}
