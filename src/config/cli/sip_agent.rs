//! Flags of the SIP verdict agent (`[sip_agent]`) and of its verdict policy
//! (`[verdicts.sip_agent]`), and how they merge over the file.

use std::net::SocketAddr;

use clap::Args;

use super::merge::{set_if_not_empty, set_if_some};
use crate::config::{Config, OriginSetting};

/// The SIP verdict agent.
#[derive(Debug, Args)]
pub struct SipAgentFlags {
    /// Run the SIP verdict agent (a redirect server switches ask before routing a call) on this UDP and TCP address or use SENTRYPEER_SIP_AGENT_LISTEN_ADDRESS env
    #[arg(
        long = "sip-agent-listen-address",
        env = "SENTRYPEER_SIP_AGENT_LISTEN_ADDRESS",
        value_name = "ADDR"
    )]
    pub sip_agent_listen_address: Option<SocketAddr>,

    /// A network or address allowed to ask the SIP agent (repeatable; default loopback only) or use SENTRYPEER_SIP_AGENT_ALLOW env
    #[arg(
        long = "sip-agent-allow",
        env = "SENTRYPEER_SIP_AGENT_ALLOW",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub sip_agent_allow: Vec<String>,

    /// Header with the caller's IP address the proxy adds (default X-Source-IP; empty: numbers only) or use SENTRYPEER_SIP_AGENT_SOURCE_IP_HEADER env
    #[arg(
        long = "sip-agent-source-ip-header",
        env = "SENTRYPEER_SIP_AGENT_SOURCE_IP_HEADER",
        value_name = "NAME"
    )]
    pub sip_agent_source_ip_header: Option<String>,

    /// A prefix removed from the called number before it is looked up (repeatable; the first that matches) or use SENTRYPEER_SIP_AGENT_STRIP_PREFIX env
    #[arg(
        long = "sip-agent-strip-prefix",
        env = "SENTRYPEER_SIP_AGENT_STRIP_PREFIX",
        value_name = "DIGITS",
        value_delimiter = ','
    )]
    pub sip_agent_strip_prefix: Vec<String>,

    /// The international call prefix dialled for + (00, 011): numbers are looked up in both forms or use SENTRYPEER_SIP_AGENT_INTERNATIONAL_PREFIX env
    #[arg(
        long = "sip-agent-international-prefix",
        env = "SENTRYPEER_SIP_AGENT_INTERNATIONAL_PREFIX",
        value_name = "DIGITS"
    )]
    pub sip_agent_international_prefix: Option<String>,

    /// The answer to a blocked call: 603 (default), 403, 404, 486, or 302 to --sip-agent-block-destination, or use SENTRYPEER_SIP_AGENT_BLOCK_RESPONSE env
    #[arg(
        long = "sip-agent-block-response",
        env = "SENTRYPEER_SIP_AGENT_BLOCK_RESPONSE",
        value_name = "CODE"
    )]
    pub sip_agent_block_response: Option<u16>,

    /// Where a blocked call is redirected with --sip-agent-block-response 302 (a SIP URI) or use SENTRYPEER_SIP_AGENT_BLOCK_DESTINATION env
    #[arg(
        long = "sip-agent-block-destination",
        env = "SENTRYPEER_SIP_AGENT_BLOCK_DESTINATION",
        value_name = "URI"
    )]
    pub sip_agent_block_destination: Option<String>,

    /// Redirect clean calls here with a 302 (a SIP URI; default: answer 404 so the switch routes on) or use SENTRYPEER_SIP_AGENT_DEFAULT_DESTINATION env
    #[arg(
        long = "sip-agent-default-destination",
        env = "SENTRYPEER_SIP_AGENT_DEFAULT_DESTINATION",
        value_name = "URI"
    )]
    pub sip_agent_default_destination: Option<String>,

    /// Requests per second one source may send the SIP agent, twice that as a burst (default 50000; 0: no limit) or use SENTRYPEER_SIP_AGENT_RATE_LIMIT env
    #[arg(
        long = "sip-agent-rate-limit",
        env = "SENTRYPEER_SIP_AGENT_RATE_LIMIT",
        value_name = "PER_SECOND"
    )]
    pub sip_agent_rate_limit: Option<u32>,

    /// Events a number or IP needs before the SIP agent blocks it (default 1) or use SENTRYPEER_SIP_AGENT_MIN_COUNT env
    #[arg(
        long = "sip-agent-min-count",
        env = "SENTRYPEER_SIP_AGENT_MIN_COUNT",
        value_name = "N"
    )]
    pub sip_agent_min_count: Option<u64>,

    /// How recent the newest event must be for the SIP agent to block (30m, 24h, 7d; default: any within the retention) or use SENTRYPEER_SIP_AGENT_MAX_AGE env
    #[arg(
        long = "sip-agent-max-age",
        env = "SENTRYPEER_SIP_AGENT_MAX_AGE",
        value_name = "DURATION"
    )]
    pub sip_agent_max_age: Option<String>,

    /// Which events count for the SIP agent: local, peers (repeatable; default both) or use SENTRYPEER_SIP_AGENT_ORIGINS env
    #[arg(
        long = "sip-agent-origins",
        env = "SENTRYPEER_SIP_AGENT_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ',',
        value_parser = parse_origin
    )]
    pub sip_agent_origins: Vec<OriginSetting>,

    /// A number or prefix (0900*) the SIP agent never blocks, besides the emergency numbers (repeatable) or use SENTRYPEER_SIP_AGENT_NEVER env
    #[arg(
        long = "sip-agent-never",
        env = "SENTRYPEER_SIP_AGENT_NEVER",
        value_name = "NUMBER",
        value_delimiter = ','
    )]
    pub sip_agent_never: Vec<String>,
}

/// `local` or `peers`.
fn parse_origin(text: &str) -> Result<OriginSetting, String> {
    match text {
        "local" => Ok(OriginSetting::Local),
        "peers" => Ok(OriginSetting::Peers),
        other => Err(format!("{other:?} is not local or peers")),
    }
}

impl SipAgentFlags {
    /// Merges these flags over `config`'s `[sip_agent]` and `[verdicts.sip_agent]` tables.
    pub(super) fn merge_into(self, config: &mut Config) {
        let agent = &mut config.sip_agent;
        if self.sip_agent_listen_address.is_some() {
            agent.listen_address = self.sip_agent_listen_address;
        }
        set_if_not_empty(&mut agent.allow, self.sip_agent_allow);
        set_if_some(&mut agent.source_ip_header, self.sip_agent_source_ip_header);
        set_if_not_empty(&mut agent.strip_prefixes, self.sip_agent_strip_prefix);
        set_if_some(
            &mut agent.international_prefix,
            self.sip_agent_international_prefix,
        );
        set_if_some(&mut agent.block_response, self.sip_agent_block_response);
        if self.sip_agent_block_destination.is_some() {
            agent.block_destination = self.sip_agent_block_destination;
        }
        if self.sip_agent_default_destination.is_some() {
            agent.default_destination = self.sip_agent_default_destination;
        }
        set_if_some(&mut agent.rate_limit, self.sip_agent_rate_limit);
        let policy = &mut config.verdicts.sip_agent;
        if self.sip_agent_min_count.is_some() {
            policy.min_count = self.sip_agent_min_count;
        }
        if self.sip_agent_max_age.is_some() {
            policy.max_age = self.sip_agent_max_age;
        }
        if !self.sip_agent_origins.is_empty() {
            policy.origins = Some(self.sip_agent_origins);
        }
        set_if_not_empty(&mut policy.never, self.sip_agent_never);
    }
}
