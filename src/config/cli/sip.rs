//! Flags of the SIP listeners and responsive mode, and how they merge over the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::merge::set_if_some;
use crate::config::Config;

/// SIP listeners and responsive mode.
#[derive(Debug, Args)]
pub struct SipFlags {
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
}

impl SipFlags {
    /// Merges these flags and their boolean variables (`env_is_set`) over `config`.
    pub(super) fn merge_into(self, config: &mut Config, env_is_set: &impl Fn(&str) -> bool) {
        config.sip_responsive |= self.responsive || env_is_set("SENTRYPEER_SIP_RESPONSIVE");
        config.sip_disable |= self.sip_disable || env_is_set("SENTRYPEER_SIP_DISABLE");
        config.tls_disable |= self.tls_disable || env_is_set("SENTRYPEER_TLS_DISABLE");
        set_if_some(&mut config.sip_listen_address, self.sip_listen_address);
        set_if_some(&mut config.cert, self.cert);
        set_if_some(&mut config.key, self.key);
        set_if_some(&mut config.tls_listen_address, self.tls_listen_address);
        set_if_some(&mut config.sip_reply_rate_limit, self.sip_reply_rate_limit);
        set_if_some(&mut config.max_message_bytes, self.max_message_bytes);
        set_if_some(&mut config.personality.name, self.sip_personality);
        set_if_some(&mut config.tcp_idle_timeout_secs, self.tcp_idle_timeout);
        set_if_some(&mut config.max_connections, self.max_connections);
        set_if_some(
            &mut config.sip_max_connections_per_source,
            self.sip_max_connections_per_source,
        );
        set_if_some(&mut config.sip_header_timeout_secs, self.sip_header_timeout);
        set_if_some(
            &mut config.tls_handshake_timeout_secs,
            self.tls_handshake_timeout,
        );
    }
}
