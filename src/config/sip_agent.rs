//! The `[sip_agent]` table: the SIP redirect agent switches ask before routing a call (off unless
//! `listen_address` is set). Only the shape lives here; `app::settings` checks the values. What
//! becomes a verdict is the `[verdicts.sip_agent]` table.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::defaults;

/// The SIP verdict agent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipAgentConfig {
    /// UDP and TCP address the agent listens on; not set = the agent is off. Separate from the
    /// honeypot's listeners; what it receives is never recorded as an attack.
    pub listen_address: Option<SocketAddr>,
    /// Networks (`10.0.0.0/8`) and addresses allowed to ask; others get `403` over TCP and
    /// nothing over UDP.
    pub allow: Vec<String>,
    /// Header the proxy adds with the caller's IP address, looked up as well as the called
    /// number; empty = numbers only.
    pub source_ip_header: String,
    /// Prefixes removed from the Request-URI's number before it is looked up (an outside-line
    /// `9`, a carrier code); the first that matches is removed.
    pub strip_prefixes: Vec<String>,
    /// The international call prefix dialled in place of `+` (`00`, `011`): a number is looked
    /// up in both forms (`+44…` and `0044…`). Empty = as dialled only.
    pub international_prefix: String,
    /// The answer to a blocked call: 603 (Decline), 403, 404, 486 (Busy Here), or 302 to
    /// `block_destination`.
    pub block_response: u16,
    /// Where a blocked call is redirected with `block_response = 302` (an announcement).
    pub block_destination: Option<String>,
    /// Where a clean call is redirected (`302` with this `Contact`); not set = `404 Not Found`
    /// (route on as usual).
    pub default_destination: Option<String>,
    /// Requests per second one source may send (twice that as a burst); 0 = no limit.
    pub rate_limit: u32,
}

impl Default for SipAgentConfig {
    fn default() -> Self {
        Self {
            listen_address: None,
            allow: defaults::SIP_AGENT_ALLOW
                .iter()
                .map(|network| (*network).to_owned())
                .collect(),
            source_ip_header: defaults::SIP_AGENT_SOURCE_IP_HEADER.to_owned(),
            strip_prefixes: Vec::new(),
            international_prefix: String::new(),
            block_response: defaults::SIP_AGENT_BLOCK_RESPONSE,
            block_destination: None,
            default_destination: None,
            rate_limit: defaults::SIP_AGENT_RATE_LIMIT,
        }
    }
}
