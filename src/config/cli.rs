//! Command-line flags and `SENTRYPEER_*` environment variables (the original's letters and names),
//! merged over the TOML file into one [`Config`](super::Config).
//!
//! A boolean environment variable that is *set* turns its feature on, whatever its value
//! (`SENTRYPEER_API=0` enables the API), as the original documents; the original's Rust build
//! ignored six of them. String variables are read by clap and lose to the flag.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

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

    /// Records one peer may send in one catch-up; beyond, it is cut off (default 2000000) or use SENTRYPEER_P2P_MAX_CATCH_UP_RECORDS env
    #[arg(
        long = "p2p-max-catch-up-records",
        env = "SENTRYPEER_P2P_MAX_CATCH_UP_RECORDS",
        value_name = "N"
    )]
    pub p2p_max_catch_up_records: Option<u64>,

    /// Peer-to-peer connections, both ways (default 128) or use SENTRYPEER_P2P_MAX_CONNECTIONS env
    #[arg(
        long = "p2p-max-connections",
        env = "SENTRYPEER_P2P_MAX_CONNECTIONS",
        value_name = "N"
    )]
    pub p2p_max_connections: Option<u32>,

    /// Incoming peer-to-peer connections from one IP address once half full (default 32) or use SENTRYPEER_P2P_MAX_CONNECTIONS_PER_ADDRESS env
    #[arg(
        long = "p2p-max-connections-per-address",
        env = "SENTRYPEER_P2P_MAX_CONNECTIONS_PER_ADDRESS",
        value_name = "N"
    )]
    pub p2p_max_connections_per_address: Option<u32>,

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

    /// Also write events received from peers to the JSON log (only this node's captures by default) or use SENTRYPEER_JSON_LOG_INCLUDE_PEER_DATA env
    #[arg(long = "json-log-include-peer-data")]
    pub json_log_include_peer_data: bool,

    /// Also send syslog lines for events received from peers (only this node's captures by default) or use SENTRYPEER_SYSLOG_INCLUDE_PEER_DATA env
    #[arg(long = "syslog-include-peer-data")]
    pub syslog_include_peer_data: bool,

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

    /// What responsive mode pretends to be: freepbx (default), generic or canned, or use SENTRYPEER_SIP_PERSONALITY env
    #[arg(
        long = "sip-personality",
        env = "SENTRYPEER_SIP_PERSONALITY",
        value_name = "NAME"
    )]
    pub sip_personality: Option<String>,

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

    /// Concurrent connections, TCP and TLS each (default 1024) or use SENTRYPEER_MAX_CONNECTIONS env
    #[arg(
        long = "max-connections",
        env = "SENTRYPEER_MAX_CONNECTIONS",
        value_name = "N"
    )]
    pub max_connections: Option<usize>,

    /// Concurrent connections from one source IP, TCP and TLS each, 0 = no cap (default 32) or use SENTRYPEER_SIP_MAX_CONNECTIONS_PER_SOURCE env
    #[arg(
        long = "sip-max-connections-per-source",
        env = "SENTRYPEER_SIP_MAX_CONNECTIONS_PER_SOURCE",
        value_name = "N"
    )]
    pub sip_max_connections_per_source: Option<usize>,

    /// Seconds a TCP/TLS message may take from its first byte to its end (default 10) or use SENTRYPEER_SIP_HEADER_TIMEOUT env
    #[arg(
        long = "sip-header-timeout",
        env = "SENTRYPEER_SIP_HEADER_TIMEOUT",
        value_name = "SECS"
    )]
    pub sip_header_timeout: Option<u64>,

    /// Seconds a TLS handshake may take (default 10) or use SENTRYPEER_TLS_HANDSHAKE_TIMEOUT env
    #[arg(
        long = "tls-handshake-timeout",
        env = "SENTRYPEER_TLS_HANDSHAKE_TIMEOUT",
        value_name = "SECS"
    )]
    pub tls_handshake_timeout: Option<u64>,

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
pub const BOOLEAN_ENV_VARS: [&str; 14] = [
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
    "SENTRYPEER_JSON_LOG_INCLUDE_PEER_DATA",
    "SENTRYPEER_SYSLOG_INCLUDE_PEER_DATA",
];

mod merge;
#[cfg(test)]
mod tests;
