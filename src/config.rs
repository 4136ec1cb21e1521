//! The configuration tree: every option, its default, TOML loading and validation.
//!
//! Precedence is TOML file < `SENTRYPEER_*` environment variables < command-line flags; the
//! merging of the last two lives in `cli.rs`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::sip::PersonalitySettings;

/// Largest SIP message accepted on a stream (TCP/TLS), and the largest UDP datagram.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 65_536;
/// SentryPeerHQ's OAuth2 token endpoint (the original's hard-coded one).
pub const DEFAULT_OAUTH2_TOKEN_URL: &str = "https://authz.sentrypeer.com/oauth/token";
/// SentryPeerHQ's API audience (the original's hard-coded one).
pub const DEFAULT_OAUTH2_AUDIENCE: &str = "https://sentrypeer.com/api";
/// Most events one webhook POST may carry.
pub const MAX_WEBHOOK_BATCH: usize = 1_000;

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
}

/// A secret string (OAuth2 client secret, API tokens): never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Every option of the daemon. TOML keys are the field names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// Events that may wait for each consumer (store, sinks) before new ones are dropped and counted.
    pub event_queue_capacity: usize,
    /// SQLite database file (`-f`).
    pub db_file: PathBuf,
    /// Days of events kept in the database; 0 keeps them forever.
    pub retention_days: u32,
    /// Write one JSON object per event to `json_log_file` (`-j`).
    pub json_log: bool,
    /// JSON log file (`-l`).
    pub json_log_file: PathBuf,
    /// Send one syslog line per event (`-s`).
    pub syslog: bool,
    /// Where syslog lines go: a Unix socket path, or `udp://host:port`. Default: `/dev/log`.
    pub syslog_address: Option<String>,
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
    /// CrowdSec bouncer API keys (`X-Api-Key`), one per bouncer; none disables `/v1/decisions`.
    pub crowdsec_api_key: Vec<Secret>,
    /// How long a CrowdSec decision lasts after the IP was last seen (`30m`, `24h`, `7d`).
    pub crowdsec_ban_duration: String,
    /// Share bad actors with peers (`-p`).
    pub peer_to_peer: bool,
    /// Peer-to-peer bootstrap nodes (`-b`): `host:port` or multiaddrs.
    pub bootstrap_node: Vec<String>,
    /// Where the peer-to-peer node listens: `host:port` or multiaddrs.
    pub p2p_listen_address: Vec<String>,
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
    /// Records per second accepted from one peer (bursts of twice that).
    pub p2p_max_records_per_second: u32,
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
    /// What responsive mode pretends to be (`[personality]` table: `name` and overrides).
    pub personality: PersonalitySettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sip_listen_address: SocketAddr::from(([0, 0, 0, 0], 5060)),
            tls_listen_address: SocketAddr::from(([0, 0, 0, 0], 5061)),
            cert: PathBuf::from("cert.pem"),
            key: PathBuf::from("key.pem"),
            sip_disable: false,
            tls_disable: false,
            sip_responsive: false,
            sip_reply_rate_limit: 50,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            tcp_idle_timeout_secs: 30,
            tls_handshake_timeout_secs: 10,
            sip_header_timeout_secs: 10,
            max_connections: 1024,
            sip_max_connections_per_source: 32,
            event_queue_capacity: 8_192,
            db_file: PathBuf::from("sentrypeer.db"),
            retention_days: 7,
            json_log: false,
            json_log_file: PathBuf::from("sentrypeer_json.log"),
            syslog: false,
            syslog_address: None,
            verbose: false,
            debug: false,
            api: false,
            api_listen_address: SocketAddr::from(([0, 0, 0, 0], 8082)),
            api_token: None,
            crowdsec_api_key: Vec::new(),
            crowdsec_ban_duration: "24h".to_owned(),
            peer_to_peer: false,
            bootstrap_node: Vec::new(),
            p2p_listen_address: vec![crate::p2p::DEFAULT_LISTEN_ADDRESS.to_owned()],
            p2p_mdns: false,
            p2p_network: crate::p2p::DEFAULT_NETWORK.to_owned(),
            p2p_key_file: None,
            p2p_receive_only_from: Vec::new(),
            p2p_deny: Vec::new(),
            p2p_min_contribution: 10,
            p2p_max_records_per_second: 1000,
            webhook_url: None,
            oauth2_client_id: None,
            oauth2_client_secret: None,
            oauth2_token_url: DEFAULT_OAUTH2_TOKEN_URL.to_owned(),
            oauth2_audience: DEFAULT_OAUTH2_AUDIENCE.to_owned(),
            webhook_batch: 1,
            webhook_skip_empty: false,
            webhook_include_peer_data: false,
            webhook_timeout_secs: 10,
            webhook_max_attempts: 6,
            personality: PersonalitySettings::default(),
        }
    }
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

    /// Cross-field and range checks, run after all sources are merged.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_message_bytes < 1024 || self.max_message_bytes > 16 * 1024 * 1024 {
            return Err(ConfigError::Invalid {
                option: "max_message_bytes",
                reason: format!("{} is outside 1024..=16777216", self.max_message_bytes),
            });
        }
        for (option, value) in [
            ("tcp_idle_timeout_secs", self.tcp_idle_timeout_secs),
            (
                "tls_handshake_timeout_secs",
                self.tls_handshake_timeout_secs,
            ),
            ("sip_header_timeout_secs", self.sip_header_timeout_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    option,
                    reason: "must be at least 1 second".to_owned(),
                });
            }
        }
        for (option, value) in [
            ("max_connections", self.max_connections),
            ("event_queue_capacity", self.event_queue_capacity),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    option,
                    reason: "must be at least 1".to_owned(),
                });
            }
        }
        if !self.sip_disable && !self.tls_disable && self.cert.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                option: "cert",
                reason: "empty path".to_owned(),
            });
        }
        if !self.sip_disable && !self.tls_disable && self.key.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                option: "key",
                reason: "empty path".to_owned(),
            });
        }
        if crate::api::parse_duration(&self.crowdsec_ban_duration).is_none_or(|d| d.is_zero()) {
            return Err(ConfigError::Invalid {
                option: "crowdsec_ban_duration",
                reason: format!(
                    "{:?} is not a duration such as 30m, 24h or 7d",
                    self.crowdsec_ban_duration
                ),
            });
        }
        if self
            .api_token
            .as_ref()
            .is_some_and(|token| token.expose().is_empty())
        {
            return Err(ConfigError::Invalid {
                option: "api_token",
                reason: "empty token".to_owned(),
            });
        }
        for address in self.p2p_listen_address.iter().chain(&self.bootstrap_node) {
            crate::p2p::parse_address(address).map_err(|error| ConfigError::Invalid {
                option: "p2p_listen_address / bootstrap_node",
                reason: error.to_string(),
            })?;
        }
        for (option, ids) in [
            ("p2p_receive_only_from", &self.p2p_receive_only_from),
            ("p2p_deny", &self.p2p_deny),
        ] {
            crate::p2p::parse_peer_ids(ids).map_err(|error| ConfigError::Invalid {
                option,
                reason: error.to_string(),
            })?;
        }
        let network_ok = !self.p2p_network.is_empty()
            && self.p2p_network.len() <= 64
            && self
                .p2p_network
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !network_ok {
            return Err(ConfigError::Invalid {
                option: "p2p_network",
                reason: "1 to 64 letters, digits, '-', '_' or '.'".to_owned(),
            });
        }
        self.personality
            .resolve()
            .map_err(|error| ConfigError::Invalid {
                option: "personality",
                reason: error.to_string(),
            })?;
        if self.db_file.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                option: "db_file",
                reason: "empty path".to_owned(),
            });
        }
        crate::sinks::webhook::validate_config(self)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_toml_keys_parse() {
        let text = "cert = \"/etc/sp/cert.pem\"\nkey = \"/etc/sp/key.pem\"\ntls_listen_address = \"0.0.0.0:5061\"\n";
        let config = Config::from_toml(text, Path::new("t.toml")).expect("valid config");
        assert_eq!(config.cert, PathBuf::from("/etc/sp/cert.pem"));
        assert_eq!(config.key, PathBuf::from("/etc/sp/key.pem"));
        assert_eq!(config.tls_listen_address.port(), 5061);
        assert_eq!(
            config.sip_listen_address,
            Config::default().sip_listen_address
        );
    }

    #[test]
    fn unknown_key_is_one_clear_line_with_its_line_number() {
        let text = "cert = \"c.pem\"\nbogus_key = 1\n";
        let error = Config::from_toml(text, Path::new("t.toml")).expect_err("unknown key rejected");
        let shown = error.to_string();
        assert!(shown.contains("t.toml line 2"), "{shown}");
        assert!(shown.contains("bogus_key"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
    }

    #[test]
    fn bad_address_is_rejected() {
        let error = Config::from_toml("sip_listen_address = \"nonsense\"", Path::new("t.toml"))
            .expect_err("bad address rejected");
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn validate_rejects_out_of_range_values() {
        let config = Config {
            max_message_bytes: 10,
            ..Config::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::Invalid {
                option: "max_message_bytes",
                ..
            })
        ));
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn personality_table_is_validated_with_its_option_named() {
        let config = Config::from_toml(
            "[personality]\nname = \"generic\"\nextensions = [\"300-200\"]\n",
            Path::new("t.toml"),
        )
        .expect("parses");
        let shown = config.validate().expect_err("bad range").to_string();
        assert_eq!(
            shown,
            "invalid value for personality: extensions entry \"300-200\": range start is after its end"
        );
        let error = Config::from_toml("[personality]\nbogus = 1\n", Path::new("t.toml"))
            .expect_err("unknown key");
        assert!(error.to_string().contains("line 2") && error.to_string().contains("bogus"));
    }

    #[test]
    fn secret_is_masked_in_debug() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
