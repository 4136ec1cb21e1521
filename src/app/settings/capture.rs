//! Settings of the SIP listeners and the probe handler: addresses, TLS files, stream limits, the
//! reply rate and the personality.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{at_least, in_range, personality};
use crate::config::{Config, ConfigError};
use crate::sip::Personality;
use crate::transport::StreamLimits;

/// Smallest and largest `max_message_bytes`.
const MESSAGE_BYTES_RANGE: (u64, u64) = (1024, 16 * 1024 * 1024);

/// What the SIP listeners capture and answer.
#[derive(Debug, Clone)]
pub struct CaptureSettings {
    /// The listeners; `None` with `-R`.
    pub listeners: Option<SipListeners>,
    /// Answer probes (`-r`).
    pub responsive: bool,
    /// What responsive mode pretends to be.
    pub personality: Personality,
    /// Replies per second to one source (0: no limit).
    pub reply_rate_limit: u32,
    /// Limits of every TCP/TLS connection.
    pub stream_limits: StreamLimits,
}

/// Where the SIP listeners bind.
#[derive(Debug, Clone)]
pub struct SipListeners {
    /// UDP and TCP.
    pub sip_address: SocketAddr,
    /// TLS; `None` with `-N` or without the `tls` feature.
    pub tls: Option<TlsListener>,
}

/// The TLS listener.
#[derive(Debug, Clone)]
pub struct TlsListener {
    /// Where it binds.
    pub address: SocketAddr,
    /// Certificate (PEM), generated when missing.
    pub cert: PathBuf,
    /// Private key (PEM), generated with the certificate.
    pub key: PathBuf,
}

pub(super) fn settings(config: &Config) -> Result<CaptureSettings, ConfigError> {
    let (min_bytes, max_bytes) = MESSAGE_BYTES_RANGE;
    in_range(
        "max_message_bytes",
        config.max_message_bytes as u64,
        min_bytes,
        max_bytes,
    )?;
    for (option, seconds) in [
        ("tcp_idle_timeout_secs", config.tcp_idle_timeout_secs),
        (
            "tls_handshake_timeout_secs",
            config.tls_handshake_timeout_secs,
        ),
        ("sip_header_timeout_secs", config.sip_header_timeout_secs),
    ] {
        at_least(option, seconds, 1, " second")?;
    }
    at_least("max_connections", config.max_connections as u64, 1, "")?;
    in_range(
        "source_ipv6_prefix",
        u64::from(config.source_ipv6_prefix),
        1,
        128,
    )?;
    // Built without the `tls` feature the TLS listener is off, as with `-N` (the start says so;
    // `features::check` refused a TLS address or files other than the defaults).
    let tls = if config.tls_disable || !cfg!(feature = "tls") {
        None
    } else {
        for (option, path) in [("cert", &config.cert), ("key", &config.key)] {
            if path.as_os_str().is_empty() && !config.sip_disable {
                return Err(ConfigError::invalid(option, "empty path"));
            }
        }
        Some(TlsListener {
            address: config.tls_listen_address,
            cert: config.cert.clone(),
            key: config.key.clone(),
        })
    };
    Ok(CaptureSettings {
        listeners: (!config.sip_disable).then_some(SipListeners {
            sip_address: config.sip_listen_address,
            tls,
        }),
        responsive: config.sip_responsive,
        personality: personality::resolve(&config.personality)
            .map_err(|error| ConfigError::invalid("personality", error.to_string()))?,
        reply_rate_limit: config.sip_reply_rate_limit,
        stream_limits: StreamLimits {
            max_message_bytes: config.max_message_bytes,
            idle_timeout: Duration::from_secs(config.tcp_idle_timeout_secs),
            message_timeout: Duration::from_secs(config.sip_header_timeout_secs),
            handshake_timeout: Duration::from_secs(config.tls_handshake_timeout_secs),
            max_connections: config.max_connections,
            max_connections_per_source: config.sip_max_connections_per_source,
            ipv6_source_prefix: config.source_ipv6_prefix,
        },
    })
}
