//! The SIP verdict agent: a redirect server switches (Kamailio, OpenSIPS, FreeSWITCH, Asterisk)
//! ask before routing a call. It answers every new INVITE from the live blocklist, never from the
//! database: a blocked number or caller gets `603 Decline` (or the configured answer), a clean
//! call `404 Not Found` (route on) or `302` to a default destination. Its traffic is never
//! recorded as attacks.
//!
//! The protocol (transactions, retransmissions, which method gets what) is
//! [`crate::sip::redirect`]; here are the sockets, who may ask ([`AgentOptions::allow`]: others
//! get `403` over TCP and nothing over UDP), the per-source rate, the verdicts and the counters.
//!
//! - `udp`: one loop on its own thread (the listener shape capture uses): receive, answer,
//!   retransmit on Timer G.
//! - `tcp`: one task per connection, each with its own small transaction table.

mod counters;
pub mod tcp;
pub mod udp;
mod verdict;

use std::net::{IpAddr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

pub use counters::{AgentCounters, AgentTransport, VerdictOutcome};

use crate::blocklist::{Blocklist, Policy};
use crate::sip::redirect::{DEFAULT_MAX_TRANSACTIONS, DipRules, RedirectServer};

/// Concurrent TCP connections by default (proxies keep a few open).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// INVITE transactions one TCP connection keeps (only to match `CANCEL`s and `ACK`s).
const TRANSACTIONS_PER_CONNECTION: usize = 1024;

/// What a blocked call gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockAnswer {
    /// A final status: `603`, `403`, `404` or `486`.
    Status(u16),
    /// `302 Moved Temporarily` to this SIP URI (an announcement).
    RedirectTo(String),
}

/// The agent's options (its verdict policy is a [`Policy`] of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentOptions {
    /// How requests are read (number, caller IP).
    pub rules: DipRules,
    /// Sources allowed to ask.
    pub allow: Vec<IpNet>,
    /// What a blocked call gets.
    pub block: BlockAnswer,
    /// Where a clean call is redirected (`302`); `None` = `404 Not Found`.
    pub default_destination: Option<String>,
    /// Requests per second one source IP may send (twice that as a burst); `None` = no limit.
    pub rate_limit: Option<NonZeroU32>,
    /// INVITE transactions the UDP loop keeps.
    pub max_transactions: NonZeroUsize,
    /// Concurrent TCP connections.
    pub max_connections: usize,
    /// A TCP connection silent this long is closed.
    pub idle_timeout: Duration,
    /// Largest message accepted over TCP; a longer one ends the connection.
    pub max_message_bytes: usize,
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            rules: DipRules::default(),
            allow: crate::config::defaults::SIP_AGENT_ALLOW
                .iter()
                .filter_map(|network| network.parse().ok())
                .collect(),
            block: BlockAnswer::Status(crate::config::defaults::SIP_AGENT_BLOCK_RESPONSE),
            default_destination: None,
            rate_limit: NonZeroU32::new(crate::config::defaults::SIP_AGENT_RATE_LIMIT),
            max_transactions: NonZeroUsize::new(DEFAULT_MAX_TRANSACTIONS)
                .unwrap_or(NonZeroUsize::MIN),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Duration::from_secs(600),
            max_message_bytes: crate::config::defaults::MAX_MESSAGE_BYTES,
        }
    }
}

/// Errors that end a listener.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The socket failed in a way the listener cannot recover from.
    #[error("SIP agent {transport} listener failed: {source}")]
    Socket {
        /// `UDP` or `TCP`.
        transport: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// Whether a source may be answered now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Allowed and within its rate.
    Answer,
    /// Not on the allow-list.
    Refused,
    /// Over its rate.
    RateLimited,
}

/// What the listeners share: options, the live list and the policy, the rate limiter, the
/// counters.
#[derive(Debug)]
pub struct Agent {
    options: AgentOptions,
    blocklist: Arc<Blocklist>,
    policy: Policy,
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    key: [u8; 16],
    counters: Arc<AgentCounters>,
}

impl Agent {
    /// An agent answering from `blocklist` by `policy`; `key` keys its tags and transaction
    /// hashes (random bytes).
    pub fn new(
        options: AgentOptions,
        blocklist: Arc<Blocklist>,
        policy: Policy,
        key: [u8; 16],
    ) -> Self {
        let limiter = options.rate_limit.map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            options,
            blocklist,
            policy,
            limiter,
            key,
            counters: Arc::default(),
        }
    }

    /// The counters, shared.
    pub fn counters(&self) -> Arc<AgentCounters> {
        Arc::clone(&self.counters)
    }

    /// A redirect server reading requests by this agent's rules: the UDP loop's (`reliable`
    /// false, the configured transaction cap) or one TCP connection's.
    pub(crate) fn redirect_server(&self, reliable: bool) -> RedirectServer {
        let capacity = if reliable {
            NonZeroUsize::new(TRANSACTIONS_PER_CONNECTION).unwrap_or(NonZeroUsize::MIN)
        } else {
            self.options.max_transactions
        };
        RedirectServer::new(self.options.rules.clone(), self.key, capacity, reliable)
    }

    /// Whether `source` may be answered now; counts refusals and rate-limited requests.
    pub(crate) fn admit(&self, source: SocketAddr, transport: AgentTransport) -> Admission {
        let ip = source.ip().to_canonical();
        if !self.is_allowed(ip) {
            self.counters.refused(transport);
            return Admission::Refused;
        }
        if !self.within_rate(ip) {
            self.counters.rate_limited();
            return Admission::RateLimited;
        }
        Admission::Answer
    }

    /// Whether `ip` is on the allow-list.
    pub(crate) fn is_allowed(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.options
            .allow
            .iter()
            .any(|network| network.contains(&ip))
    }

    /// Takes one request (or retransmission) from `ip`'s rate; `false` when over it.
    pub(crate) fn within_rate(&self, ip: IpAddr) -> bool {
        self.limiter
            .as_ref()
            .is_none_or(|limiter| limiter.check_key(&ip.to_canonical()).is_ok())
    }

    /// Forgets the rate state of quiet sources (bounds its memory).
    pub(crate) fn forget_quiet_sources(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// The options.
    pub(crate) fn options(&self) -> &AgentOptions {
        &self.options
    }
}

#[cfg(test)]
mod tests;
