//! Syslog sink (`-s`): the original's line `Source IP: <ip>, Method: <method>, Agent: <agent>` at
//! notice level, facility user, ident `sentrypeer`, for Fail2ban and SIEMs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

use super::SinkError;
use crate::event::BadActor;
use crate::pipeline::EventReceiver;

/// Longest method / user agent written to a syslog line; syslog daemons cut long lines anyway.
const MAX_FIELD_CHARS: usize = 256;
/// Wait between attempts to reach a syslog daemon that is not there.
const RECONNECT_INTERVAL: Duration = Duration::from_secs(5);

/// Where syslog lines are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    /// The local daemon's socket (`/dev/log`, else `/var/run/syslog`).
    Local,
    /// A Unix datagram or stream socket at this path.
    UnixSocket(std::path::PathBuf),
    /// A remote daemon over UDP.
    Udp(SocketAddr),
}

impl SyslogTarget {
    /// Reads `--syslog-address`: absent → local, `udp://host:port`, or a socket path.
    ///
    /// # Errors
    /// [`SinkError::SyslogAddress`] for an unparseable `udp://` address.
    pub fn parse(address: Option<&str>) -> Result<Self, SinkError> {
        let Some(address) = address else {
            return Ok(Self::Local);
        };
        if let Some(server) = address.strip_prefix("udp://") {
            return server
                .parse()
                .map(Self::Udp)
                .map_err(|error: std::net::AddrParseError| SinkError::SyslogAddress {
                    address: address.to_owned(),
                    reason: error.to_string(),
                });
        }
        Ok(Self::UnixSocket(address.into()))
    }

    fn connect(&self) -> syslog::Result<Logger<LoggerBackend, Formatter3164>> {
        let formatter = Formatter3164 {
            facility: Facility::LOG_USER,
            hostname: None,
            process: "sentrypeer".to_owned(),
            pid: std::process::id(),
        };
        match self {
            Self::Local => syslog::unix(formatter),
            Self::UnixSocket(path) => syslog::unix_custom(formatter, path),
            Self::Udp(server) => {
                let local: SocketAddr = if server.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                syslog::udp(formatter, local, server)
            }
        }
    }
}

/// Counters of the syslog sink.
#[derive(Debug, Default)]
pub struct SyslogStats {
    /// Lines sent.
    pub sent: AtomicU64,
    /// Events not sent (no syslog daemon reachable, or a send error).
    pub failed: AtomicU64,
}

/// The original's syslog message for one event. The IP carries no port (Fail2ban's `<HOST>`);
/// attacker-supplied text has control characters replaced and is cut, so it cannot forge lines.
pub fn syslog_message(event: &BadActor) -> String {
    format!(
        "Source IP: {}, Method: {}, Agent: {}",
        event.source.ip(),
        sanitize(&event.sip_method),
        sanitize(&event.sip_user_agent)
    )
}

fn sanitize(text: &str) -> String {
    text.chars()
        .take(MAX_FIELD_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Sends one line per event of `events` until the pipeline is dropped (the body of the syslog
/// thread). A daemon that cannot be reached is retried every few seconds; events meanwhile are
/// counted as failed, never queued without bound.
pub fn run(target: &SyslogTarget, events: &EventReceiver, stats: &SyslogStats) {
    let mut logger = None;
    let mut last_attempt: Option<Instant> = None;
    for event in events {
        if logger.is_none() && last_attempt.is_none_or(|at| at.elapsed() >= RECONNECT_INTERVAL) {
            last_attempt = Some(Instant::now());
            match target.connect() {
                Ok(connected) => logger = Some(connected),
                Err(error) => {
                    tracing::error!(%error, ?target, "cannot reach syslog; retrying in 5 s")
                }
            }
        }
        let Some(active) = logger.as_mut() else {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        match active.notice(syslog_message(&event)) {
            Ok(()) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "syslog send failed; reconnecting");
                logger = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_parsing() {
        assert_eq!(SyslogTarget::parse(None).ok(), Some(SyslogTarget::Local));
        assert_eq!(
            SyslogTarget::parse(Some("udp://127.0.0.1:514")).ok(),
            Some(SyslogTarget::Udp("127.0.0.1:514".parse().expect("addr")))
        );
        assert_eq!(
            SyslogTarget::parse(Some("/run/x.sock")).ok(),
            Some(SyslogTarget::UnixSocket("/run/x.sock".into()))
        );
        assert!(SyslogTarget::parse(Some("udp://nope")).is_err());
    }

    #[test]
    fn control_characters_cannot_forge_a_second_line() {
        assert_eq!(
            sanitize("evil\r\nSource IP: 1.2.3.4"),
            "evil??Source IP: 1.2.3.4"
        );
        assert_eq!(sanitize(&"x".repeat(1000)).len(), MAX_FIELD_CHARS);
    }
}
