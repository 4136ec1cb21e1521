//! Command-line flags and `SENTRYPEER_*` environment variables (the original's letters and names),
//! merged over the TOML file into one [`Config`].
//!
//! A boolean environment variable that is *set* turns its feature on, whatever its value
//! (`SENTRYPEER_API=0` enables the API), as the original documents; the original's Rust build
//! ignored six of them. String variables are read by clap and lose to the flag.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{Config, ConfigError, Secret};

/// Command line of the `sentrypeer` binary.
#[derive(Debug, Parser)]
#[command(
    name = "sentrypeer",
    version,
    about = "Protect your SIP Servers from bad actors at https://sentrypeer.com",
    long_about = None
)]
pub struct Cli {
    /// Set 'sentrypeer.db' location or use SENTRYPEER_DB_FILE env
    #[arg(
        short = 'f',
        long = "db-file",
        env = "SENTRYPEER_DB_FILE",
        value_name = "DB_FILE"
    )]
    pub db_file: Option<PathBuf>,

    /// Enable json logging or use SENTRYPEER_JSON_LOG env
    #[arg(short = 'j', long = "json")]
    pub json: bool,

    /// Set JSON logfile (default './sentrypeer_json.log') location (enables json logging) or use SENTRYPEER_JSON_LOG_FILE env
    #[arg(
        short = 'l',
        long = "json-log-file",
        env = "SENTRYPEER_JSON_LOG_FILE",
        value_name = "JSON_LOG_FILE"
    )]
    pub json_log_file: Option<PathBuf>,

    /// Enable Peer to Peer mode or use SENTRYPEER_PEER_TO_PEER env
    #[arg(short = 'p', long = "p2p", visible_alias = "peer-to-peer")]
    pub p2p: bool,

    /// Set Peer to Peer bootstrap node (repeatable) or use SENTRYPEER_BOOTSTRAP_NODE env
    #[arg(
        short = 'b',
        long = "bootstrap",
        visible_alias = "bootstrap-node",
        env = "SENTRYPEER_BOOTSTRAP_NODE",
        value_name = "BOOTSTRAP_NODE",
        value_delimiter = ','
    )]
    pub bootstrap: Vec<String>,

    /// Peer-to-peer listen address, host:port or multiaddr, repeatable (default 0.0.0.0:4222) or use SENTRYPEER_P2P_LISTEN_ADDRESS env
    #[arg(
        long = "p2p-listen-address",
        env = "SENTRYPEER_P2P_LISTEN_ADDRESS",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub p2p_listen_address: Vec<String>,

    /// Find peers on the local network with mDNS or use SENTRYPEER_P2P_MDNS env
    #[arg(long = "p2p-mdns")]
    pub p2p_mdns: bool,

    /// Peer-to-peer community name; nodes of different networks never talk (default sentrypeer) or use SENTRYPEER_P2P_NETWORK env
    #[arg(
        long = "p2p-network",
        env = "SENTRYPEER_P2P_NETWORK",
        value_name = "NAME"
    )]
    pub p2p_network: Option<String>,

    /// The node's ed25519 key file (default next to the database) or use SENTRYPEER_P2P_KEY_FILE env
    #[arg(
        long = "p2p-key-file",
        env = "SENTRYPEER_P2P_KEY_FILE",
        value_name = "FILE"
    )]
    pub p2p_key_file: Option<PathBuf>,

    /// Only accept records captured by these PeerIds (repeatable) or use SENTRYPEER_P2P_RECEIVE_ONLY_FROM env
    #[arg(
        long = "p2p-receive-only-from",
        env = "SENTRYPEER_P2P_RECEIVE_ONLY_FROM",
        value_name = "PEER_ID",
        value_delimiter = ','
    )]
    pub p2p_receive_only_from: Vec<String>,

    /// Refuse records from, and disconnect, these PeerIds (repeatable) or use SENTRYPEER_P2P_DENY env
    #[arg(
        long = "p2p-deny",
        env = "SENTRYPEER_P2P_DENY",
        value_name = "PEER_ID",
        value_delimiter = ','
    )]
    pub p2p_deny: Vec<String>,

    /// Records a peer must have shared before it gets catch-up (default 10) or use SENTRYPEER_P2P_MIN_CONTRIBUTION env
    #[arg(
        long = "p2p-min-contribution",
        env = "SENTRYPEER_P2P_MIN_CONTRIBUTION",
        value_name = "N"
    )]
    pub p2p_min_contribution: Option<u64>,

    /// Records per second accepted from one peer (default 1000) or use SENTRYPEER_P2P_MAX_RECORDS_PER_SECOND env
    #[arg(
        long = "p2p-max-records-per-second",
        env = "SENTRYPEER_P2P_MAX_RECORDS_PER_SECOND",
        value_name = "N"
    )]
    pub p2p_max_records_per_second: Option<u32>,

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

    /// Set WebHook URL for bad actor json POSTs or use SENTRYPEER_WEBHOOK_URL env
    #[arg(short = 'w', long = "webhook-url", env = "SENTRYPEER_WEBHOOK_URL")]
    pub webhook_url: Option<String>,

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

    /// Enable SIP responsive mode or use SENTRYPEER_SIP_RESPONSIVE env
    #[arg(short = 'r', long = "responsive", visible_alias = "sip-responsive")]
    pub responsive: bool,

    /// Disable SIP mode completely or use SENTRYPEER_SIP_DISABLE env
    #[arg(short = 'R', long = "sip-disable", alias = "unresponsive")]
    pub sip_disable: bool,

    /// Disable the TLS listener or use SENTRYPEER_TLS_DISABLE env
    #[arg(short = 'N', long = "tls-disable", alias = "new-mode")]
    pub tls_disable: bool,

    /// Set the UDP and TCP SIP listen address (default '0.0.0.0:5060') or use SENTRYPEER_SIP_LISTEN_ADDRESS env
    #[arg(
        long = "sip-listen-address",
        env = "SENTRYPEER_SIP_LISTEN_ADDRESS",
        value_name = "ADDR"
    )]
    pub sip_listen_address: Option<SocketAddr>,

    /// Set TLS cert location (default './cert.pem'; generated when missing) or use SENTRYPEER_CERT env
    #[arg(
        short = 't',
        long = "cert",
        visible_alias = "tls-cert-file",
        env = "SENTRYPEER_CERT",
        value_name = "TLS_CERT_FILE"
    )]
    pub cert: Option<PathBuf>,

    /// Set TLS key location (default './key.pem'; generated when missing) or use SENTRYPEER_KEY env
    #[arg(
        short = 'k',
        long = "key",
        visible_alias = "tls-key-file",
        env = "SENTRYPEER_KEY",
        value_name = "TLS_KEY_FILE"
    )]
    pub key: Option<PathBuf>,

    /// Set TLS listen address (default '0.0.0.0:5061') or use SENTRYPEER_TLS_LISTEN_ADDRESS env
    #[arg(
        short = 'z',
        long = "tls-listen-address",
        env = "SENTRYPEER_TLS_LISTEN_ADDRESS",
        value_name = "ADDR"
    )]
    pub tls_listen_address: Option<SocketAddr>,

    /// Set the TOML config file (default '~/.config/sentrypeer/default-config.toml') or use SENTRYPEER_CONFIG_FILE env
    #[arg(
        short = 'g',
        long = "config",
        visible_alias = "config-file",
        env = "SENTRYPEER_CONFIG_FILE",
        value_name = "CONFIG_FILE"
    )]
    pub config: Option<PathBuf>,

    /// Enable syslog logging or use SENTRYPEER_SYSLOG env
    #[arg(short = 's', long = "syslog")]
    pub syslog: bool,

    /// Where syslog lines go: a Unix socket path or udp://host:port (default /dev/log) or use SENTRYPEER_SYSLOG_ADDRESS env
    #[arg(
        long = "syslog-address",
        env = "SENTRYPEER_SYSLOG_ADDRESS",
        value_name = "ADDR"
    )]
    pub syslog_address: Option<String>,

    /// Days of events kept in the database, 0 = forever (default 7) or use SENTRYPEER_RETENTION_DAYS env
    #[arg(
        long = "retention-days",
        env = "SENTRYPEER_RETENTION_DAYS",
        value_name = "DAYS"
    )]
    pub retention_days: Option<u32>,

    /// Replies per second to one source IP in responsive mode, 0 = no limit (default 50) or use SENTRYPEER_SIP_REPLY_RATE_LIMIT env
    #[arg(
        long = "sip-reply-rate-limit",
        env = "SENTRYPEER_SIP_REPLY_RATE_LIMIT",
        value_name = "N"
    )]
    pub sip_reply_rate_limit: Option<u32>,

    /// Largest TCP/TLS SIP message in bytes (default 65536) or use SENTRYPEER_MAX_MESSAGE_BYTES env
    #[arg(
        long = "max-message-bytes",
        env = "SENTRYPEER_MAX_MESSAGE_BYTES",
        value_name = "BYTES"
    )]
    pub max_message_bytes: Option<usize>,

    /// Seconds before a silent TCP/TLS connection is closed (default 30) or use SENTRYPEER_TCP_IDLE_TIMEOUT env
    #[arg(
        long = "tcp-idle-timeout",
        env = "SENTRYPEER_TCP_IDLE_TIMEOUT",
        value_name = "SECS"
    )]
    pub tcp_idle_timeout: Option<u64>,

    /// Concurrent TCP+TLS connections (default 1024) or use SENTRYPEER_MAX_CONNECTIONS env
    #[arg(
        long = "max-connections",
        env = "SENTRYPEER_MAX_CONNECTIONS",
        value_name = "N"
    )]
    pub max_connections: Option<usize>,

    /// Load and check the configuration, print it and exit
    #[arg(long = "check-config")]
    pub check_config: bool,

    /// Enable verbose logging or use SENTRYPEER_VERBOSE env
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Enable debug mode or use SENTRYPEER_DEBUG env
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
}

/// Boolean features and the environment variable that turns each on.
pub const BOOLEAN_ENV_VARS: [&str; 12] = [
    "SENTRYPEER_JSON_LOG",
    "SENTRYPEER_PEER_TO_PEER",
    "SENTRYPEER_API",
    "SENTRYPEER_SIP_RESPONSIVE",
    "SENTRYPEER_SIP_DISABLE",
    "SENTRYPEER_TLS_DISABLE",
    "SENTRYPEER_SYSLOG",
    "SENTRYPEER_VERBOSE",
    "SENTRYPEER_DEBUG",
    "SENTRYPEER_JSON_LOG_FILE",
    "SENTRYPEER_WEBHOOK_SKIP_EMPTY",
    "SENTRYPEER_WEBHOOK_INCLUDE_PEER_DATA",
];

impl Cli {
    /// Loads the TOML file (`-g`, else the default location if it exists) and merges
    /// environment variables and flags over it.
    ///
    /// # Errors
    /// A missing or invalid `-g` file, an invalid default file, or a failed validation.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => Config::read(path)?,
            None => Config::load_default_file()?,
        };
        let config = self.merge(file, |name| std::env::var_os(name).is_some());
        config.validate()?;
        Ok(config)
    }

    /// Merges flags (which clap already merged with string env vars) and boolean env vars
    /// (`env_is_set`) over `file`.
    pub fn merge(self, file: Config, env_is_set: impl Fn(&str) -> bool) -> Config {
        let mut config = file;
        config.json_log |= self.json
            || self.json_log_file.is_some()
            || env_is_set("SENTRYPEER_JSON_LOG")
            || env_is_set("SENTRYPEER_JSON_LOG_FILE");
        config.peer_to_peer |= self.p2p || env_is_set("SENTRYPEER_PEER_TO_PEER");
        config.api |= self.api || env_is_set("SENTRYPEER_API");
        config.sip_responsive |= self.responsive || env_is_set("SENTRYPEER_SIP_RESPONSIVE");
        config.sip_disable |= self.sip_disable || env_is_set("SENTRYPEER_SIP_DISABLE");
        config.tls_disable |= self.tls_disable || env_is_set("SENTRYPEER_TLS_DISABLE");
        config.syslog |= self.syslog || env_is_set("SENTRYPEER_SYSLOG");
        config.verbose |= self.verbose || env_is_set("SENTRYPEER_VERBOSE");
        config.debug |= self.debug || env_is_set("SENTRYPEER_DEBUG");
        config.p2p_mdns |= self.p2p_mdns || env_is_set("SENTRYPEER_P2P_MDNS");
        config.webhook_skip_empty |=
            self.webhook_skip_empty || env_is_set("SENTRYPEER_WEBHOOK_SKIP_EMPTY");
        config.webhook_include_peer_data |=
            self.webhook_include_peer_data || env_is_set("SENTRYPEER_WEBHOOK_INCLUDE_PEER_DATA");

        set_if_some(&mut config.db_file, self.db_file);
        set_if_some(&mut config.json_log_file, self.json_log_file);
        set_if_some(&mut config.api_listen_address, self.api_listen_address);
        set_if_some(&mut config.sip_listen_address, self.sip_listen_address);
        set_if_some(&mut config.cert, self.cert);
        set_if_some(&mut config.key, self.key);
        set_if_some(&mut config.tls_listen_address, self.tls_listen_address);
        set_if_some(&mut config.retention_days, self.retention_days);
        set_if_some(&mut config.sip_reply_rate_limit, self.sip_reply_rate_limit);
        set_if_some(&mut config.max_message_bytes, self.max_message_bytes);
        set_if_some(&mut config.tcp_idle_timeout_secs, self.tcp_idle_timeout);
        set_if_some(&mut config.max_connections, self.max_connections);
        set_if_some(
            &mut config.crowdsec_ban_duration,
            self.crowdsec_ban_duration,
        );
        if let Some(token) = self.api_token {
            config.api_token = Some(Secret::new(token));
        }
        if !self.crowdsec_api_key.is_empty() {
            config.crowdsec_api_key = self.crowdsec_api_key.into_iter().map(Secret::new).collect();
        }
        if self.syslog_address.is_some() {
            config.syslog_address = self.syslog_address;
        }
        if !self.bootstrap.is_empty() {
            config.bootstrap_node = self.bootstrap;
        }
        if !self.p2p_listen_address.is_empty() {
            config.p2p_listen_address = self.p2p_listen_address;
        }
        if !self.p2p_receive_only_from.is_empty() {
            config.p2p_receive_only_from = self.p2p_receive_only_from;
        }
        if !self.p2p_deny.is_empty() {
            config.p2p_deny = self.p2p_deny;
        }
        set_if_some(&mut config.p2p_network, self.p2p_network);
        set_if_some(&mut config.p2p_min_contribution, self.p2p_min_contribution);
        set_if_some(
            &mut config.p2p_max_records_per_second,
            self.p2p_max_records_per_second,
        );
        if self.p2p_key_file.is_some() {
            config.p2p_key_file = self.p2p_key_file;
        }
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
        config
    }
}

fn set_if_some<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("sentrypeer").chain(args.iter().copied()))
            .expect("valid command line")
    }

    #[test]
    fn every_boolean_env_var_enables_its_feature_whatever_its_value() {
        for name in BOOLEAN_ENV_VARS {
            let config = parse(&[]).merge(Config::default(), |asked| asked == name);
            let enabled = match name {
                "SENTRYPEER_JSON_LOG" | "SENTRYPEER_JSON_LOG_FILE" => config.json_log,
                "SENTRYPEER_PEER_TO_PEER" => config.peer_to_peer,
                "SENTRYPEER_API" => config.api,
                "SENTRYPEER_SIP_RESPONSIVE" => config.sip_responsive,
                "SENTRYPEER_SIP_DISABLE" => config.sip_disable,
                "SENTRYPEER_TLS_DISABLE" => config.tls_disable,
                "SENTRYPEER_SYSLOG" => config.syslog,
                "SENTRYPEER_VERBOSE" => config.verbose,
                "SENTRYPEER_DEBUG" => config.debug,
                "SENTRYPEER_P2P_MDNS" => config.p2p_mdns,
                "SENTRYPEER_WEBHOOK_SKIP_EMPTY" => config.webhook_skip_empty,
                "SENTRYPEER_WEBHOOK_INCLUDE_PEER_DATA" => config.webhook_include_peer_data,
                other => panic!("untested variable {other}"),
            };
            assert!(enabled, "{name} did not enable its feature");
        }
        let untouched = parse(&[]).merge(Config::default(), |_| false);
        assert_eq!(untouched, Config::default());
    }

    #[test]
    fn original_short_flags_are_accepted() {
        let cli = parse(&[
            "-j",
            "-a",
            "-r",
            "-s",
            "-v",
            "-d",
            "-p",
            "-N",
            "-f",
            "/tmp/x.db",
            "-l",
            "/tmp/x.json",
            "-t",
            "/tmp/c.pem",
            "-k",
            "/tmp/k.pem",
            "-z",
            "127.0.0.1:5071",
            "-b",
            "node:4222",
            "-w",
            "http://127.0.0.1:9/e",
            "-i",
            "id",
            "-c",
            "secret",
            "-R",
            "-g",
            "/tmp/none.toml",
        ]);
        let config = cli.merge(Config::default(), |_| false);
        assert!(config.json_log && config.api && config.sip_responsive && config.syslog);
        assert!(config.verbose && config.debug && config.peer_to_peer && config.tls_disable);
        assert!(config.sip_disable);
        assert_eq!(config.db_file, PathBuf::from("/tmp/x.db"));
        assert_eq!(config.json_log_file, PathBuf::from("/tmp/x.json"));
        assert_eq!(config.tls_listen_address.port(), 5071);
        assert_eq!(config.bootstrap_node, vec!["node:4222".to_owned()]);
        assert_eq!(
            config.oauth2_client_secret.as_ref().map(Secret::expose),
            Some("secret")
        );
    }

    #[test]
    fn flags_override_the_file() {
        let file = Config {
            db_file: PathBuf::from("/from/file.db"),
            retention_days: 3,
            ..Config::default()
        };
        let config = parse(&["-f", "/from/flag.db"]).merge(file, |_| false);
        assert_eq!(config.db_file, PathBuf::from("/from/flag.db"));
        assert_eq!(config.retention_days, 3);
    }

    #[test]
    fn json_log_file_alone_enables_json_logging() {
        let config = parse(&["-l", "/tmp/j.log"]).merge(Config::default(), |_| false);
        assert!(config.json_log);
    }

    #[test]
    fn webhook_flags_are_merged() {
        let config = parse(&[
            "-w",
            "http://127.0.0.1:9/api/events",
            "--oauth2-token-url",
            "http://127.0.0.1:9/oauth/token",
            "--oauth2-audience",
            "aud",
            "--webhook-batch",
            "25",
            "--webhook-skip-empty",
            "--webhook-include-peer-data",
            "--webhook-timeout",
            "3",
            "--webhook-max-attempts",
            "2",
            "--oauth2-client-id",
            "id",
            "--oauth2-client-secret",
            "s",
        ])
        .merge(Config::default(), |_| false);
        assert_eq!(
            config.webhook_url.as_deref(),
            Some("http://127.0.0.1:9/api/events")
        );
        assert_eq!(config.oauth2_token_url, "http://127.0.0.1:9/oauth/token");
        assert_eq!(config.oauth2_audience, "aud");
        assert_eq!(config.webhook_batch, 25);
        assert!(config.webhook_skip_empty && config.webhook_include_peer_data);
        assert_eq!(config.webhook_timeout_secs, 3);
        assert_eq!(config.webhook_max_attempts, 2);
        assert_eq!(config.oauth2_client_id.as_deref(), Some("id"));
        assert!(config.validate().is_ok());
        let defaults = parse(&["-w", "http://127.0.0.1:9/e"]).merge(Config::default(), |_| false);
        assert_eq!(defaults.webhook_batch, 1);
        assert!(!defaults.webhook_skip_empty && !defaults.webhook_include_peer_data);
    }

    #[test]
    fn bad_listen_address_is_a_usage_error() {
        let error = Cli::try_parse_from(["sentrypeer", "--sip-listen-address", "nope"])
            .expect_err("bad address rejected");
        assert!(
            error.to_string().contains("--sip-listen-address"),
            "{error}"
        );
    }
}
