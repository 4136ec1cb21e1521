//! Command-line flags and `SENTRYPEER_*` environment variables (the original's letters and names),
//! merged over the TOML file into one [`Config`](super::Config).
//!
//! A boolean environment variable that is *set* turns its feature on, whatever its value
//! (`SENTRYPEER_API=0` enables the API), as the original documents; the original's Rust build
//! ignored six of them. String variables are read by clap and lose to the flag.

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

    /// Also write events received from peers to the JSON log (only this node's captures by default) or use SENTRYPEER_JSON_LOG_INCLUDE_PEER_DATA env
    #[arg(long = "json-log-include-peer-data")]
    pub json_log_include_peer_data: bool,

    /// Also send syslog lines for events received from peers (only this node's captures by default) or use SENTRYPEER_SYSLOG_INCLUDE_PEER_DATA env
    #[arg(long = "syslog-include-peer-data")]
    pub syslog_include_peer_data: bool,

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

    /// IPv6 sources count against the per-source connection caps by this prefix length (default 64) or use SENTRYPEER_SOURCE_IPV6_PREFIX env
    #[arg(
        long = "source-ipv6-prefix",
        env = "SENTRYPEER_SOURCE_IPV6_PREFIX",
        value_name = "BITS"
    )]
    pub source_ipv6_prefix: Option<u8>,

    /// Days of events kept in the database, 0 = forever (default 7) or use SENTRYPEER_RETENTION_DAYS env
    #[arg(
        long = "retention-days",
        env = "SENTRYPEER_RETENTION_DAYS",
        value_name = "DAYS"
    )]
    pub retention_days: Option<u32>,

    /// SIP listeners and responsive mode.
    #[command(flatten)]
    pub sip: SipFlags,

    /// The REST API and CrowdSec.
    #[command(flatten)]
    pub api: ApiFlags,

    /// Peer-to-peer sharing.
    #[command(flatten)]
    pub p2p: P2pFlags,

    /// The webhook.
    #[command(flatten)]
    pub webhook: WebhookFlags,

    /// The OpenDHT bridge.
    #[command(flatten)]
    pub opendht: OpenDhtFlags,

    /// The verdict policy.
    #[command(flatten)]
    pub verdicts: VerdictFlags,

    /// The SIP verdict agent.
    #[command(flatten)]
    pub sip_agent: SipAgentFlags,

    /// Lookups in the local database instead of running the daemon.
    #[command(flatten)]
    pub lookup: LookupFlags,
    /// The BGP blackhole feed.
    #[command(flatten)]
    pub bgp: BgpFlags,

    /// Load and check the configuration, print it and exit
    #[arg(long = "check-config")]
    pub check_config: bool,

    /// Print the signed community summary this node would publish now (--share-stats), as the JSON sent, and exit 0
    #[arg(long = "print-shared-stats", conflicts_with_all = ["check_config", "health_check"])]
    pub print_shared_stats: bool,

    /// Ask the running daemon's /health-check (at the API listen address; 0.0.0.0 asks 127.0.0.1) and exit 0 if it answers 200, else 1 (a container HEALTHCHECK without curl)
    #[arg(long = "health-check", conflicts_with = "check_config")]
    pub health_check: bool,

    /// Enable verbose logging or use SENTRYPEER_VERBOSE env
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Enable debug mode or use SENTRYPEER_DEBUG env
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
}

/// Boolean features and the environment variable that turns each on.
pub const BOOLEAN_ENV_VARS: [&str; 19] = [
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
    "SENTRYPEER_VERDICT_INCLUDE_SPECIAL_ADDRESSES",
    "SENTRYPEER_BGP",
    "SENTRYPEER_OPENDHT_PUBLISH",
    "SENTRYPEER_OPENDHT_VERDICTS",
    "SENTRYPEER_WEB_GUI",
];

mod api;
mod bgp;
mod lookup;
mod merge;
mod opendht;
mod p2p;
mod sip;
mod sip_agent;
mod verdicts;
mod webhook;

pub use api::ApiFlags;
pub use bgp::BgpFlags;
pub use lookup::{Lookup, LookupFlags};
pub use opendht::OpenDhtFlags;
pub use p2p::P2pFlags;
pub use sip::SipFlags;
pub use sip_agent::SipAgentFlags;
pub use verdicts::VerdictFlags;
pub use webhook::WebhookFlags;
#[cfg(test)]
mod tests;
