//! Settings of the SIP verdict agent, checked and built from `[sip_agent]` (its verdict policy
//! is `[verdicts.sip_agent]`, in `verdicts.rs`).

use std::net::SocketAddr;
use std::num::NonZeroU32;

use ipnet::IpNet;

use super::network_or_address;
use crate::config::{Config, ConfigError, SipAgentConfig};
use crate::sip::redirect::DipRules;
use crate::sip_agent::{AgentOptions, BlockAnswer};

/// Answers a blocked call may get besides `302`.
const BLOCK_STATUSES: [u16; 4] = [603, 403, 404, 486];
/// Longest destination URI accepted (it is written in every redirect).
const MAX_DESTINATION_BYTES: usize = 256;

/// The agent, when `listen_address` is set.
#[derive(Debug, Clone)]
pub struct SipAgentSettings {
    /// UDP and TCP address.
    pub listen_address: SocketAddr,
    /// Everything else.
    pub options: AgentOptions,
}

/// The agent's settings; `None` when it is off (the values are checked either way).
pub(super) fn settings(config: &Config) -> Result<Option<SipAgentSettings>, ConfigError> {
    let table = &config.sip_agent;
    let options = AgentOptions {
        rules: rules(table)?,
        allow: allow(&table.allow)?,
        block: block(table)?,
        default_destination: table
            .default_destination
            .as_deref()
            .map(|uri| destination("sip_agent.default_destination", uri))
            .transpose()?,
        rate_limit: NonZeroU32::new(table.rate_limit),
        max_message_bytes: config.max_message_bytes,
        ..AgentOptions::default()
    };
    Ok(table.listen_address.map(|listen_address| SipAgentSettings {
        listen_address,
        options,
    }))
}

/// How requests are read.
fn rules(table: &SipAgentConfig) -> Result<DipRules, ConfigError> {
    let header = table.source_ip_header.trim();
    if !header.bytes().all(is_header_name_byte) {
        return Err(ConfigError::invalid(
            "sip_agent.source_ip_header",
            format!("{header:?} is not a header name"),
        ));
    }
    for prefix in &table.strip_prefixes {
        let digits = prefix.strip_prefix('+').unwrap_or(prefix);
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(ConfigError::invalid(
                "sip_agent.strip_prefixes",
                format!("{prefix:?} is not digits (with an optional leading +)"),
            ));
        }
    }
    let international = table.international_prefix.trim();
    if !international.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(ConfigError::invalid(
            "sip_agent.international_prefix",
            format!("{international:?} is not digits (00, 011)"),
        ));
    }
    Ok(DipRules {
        source_ip_header: (!header.is_empty()).then(|| header.to_owned()),
        strip_prefixes: table.strip_prefixes.clone(),
        international_prefix: (!international.is_empty()).then(|| international.to_owned()),
    })
}

/// RFC 3261 token characters, which header names are made of.
fn is_header_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&byte)
}

/// The allow-list: networks or single addresses, at least one.
fn allow(entries: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    if entries.is_empty() {
        return Err(ConfigError::invalid(
            "sip_agent.allow",
            "name at least one network (default: loopback)",
        ));
    }
    entries
        .iter()
        .map(|entry| {
            network_or_address(entry).ok_or_else(|| {
                ConfigError::invalid(
                    "sip_agent.allow",
                    format!("{entry:?} is not a network or an address"),
                )
            })
        })
        .collect()
}

/// What a blocked call gets.
fn block(table: &SipAgentConfig) -> Result<BlockAnswer, ConfigError> {
    match (table.block_response, &table.block_destination) {
        (302, Some(uri)) => Ok(BlockAnswer::RedirectTo(destination(
            "sip_agent.block_destination",
            uri,
        )?)),
        (302, None) => Err(ConfigError::invalid(
            "sip_agent.block_destination",
            "block_response = 302 needs a destination (a SIP URI)",
        )),
        (code, _) if BLOCK_STATUSES.contains(&code) => Ok(BlockAnswer::Status(code)),
        (code, _) => Err(ConfigError::invalid(
            "sip_agent.block_response",
            format!("{code} is not 603, 403, 404, 486 or 302"),
        )),
    }
}

/// A redirect destination: a `sip:`, `sips:` or `tel:` URI without spaces, quotes, angle
/// brackets or control characters (it is written inside `Contact: <…>`).
fn destination(option: &'static str, uri: &str) -> Result<String, ConfigError> {
    let uri = uri.trim();
    let lower = uri.to_ascii_lowercase();
    let scheme = ["sip:", "sips:", "tel:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len());
    let clean = uri
        .bytes()
        .all(|byte| byte.is_ascii_graphic() && !b"<>\"".contains(&byte));
    if scheme && clean && uri.len() <= MAX_DESTINATION_BYTES {
        Ok(uri.to_owned())
    } else {
        Err(ConfigError::invalid(
            option,
            format!("{uri:?} is not a SIP URI such as sip:announcement@192.0.2.10"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(
        edit: impl FnOnce(&mut SipAgentConfig),
    ) -> Result<Option<SipAgentSettings>, ConfigError> {
        let mut config = Config::default();
        config.sip_agent.listen_address = Some("127.0.0.1:5070".parse().expect("address"));
        edit(&mut config.sip_agent);
        settings(&config)
    }

    fn invalid_option(result: Result<Option<SipAgentSettings>, ConfigError>) -> &'static str {
        match result {
            Err(ConfigError::Invalid { option, .. }) => option,
            other => panic!("expected an invalid option, got {other:?}"),
        }
    }

    #[test]
    fn defaults_answer_loopback_with_603_and_404() {
        let agent = with(|_| {}).expect("valid").expect("on");
        assert_eq!(agent.options.block, BlockAnswer::Status(603));
        assert_eq!(agent.options.default_destination, None);
        assert_eq!(
            agent.options.rules.source_ip_header.as_deref(),
            Some("X-Source-IP")
        );
        assert!(
            agent
                .options
                .allow
                .iter()
                .any(|net| net.contains(&"127.0.0.9".parse::<std::net::IpAddr>().expect("ip")))
        );
        assert!(
            !agent
                .options
                .allow
                .iter()
                .any(|net| net.contains(&"10.0.0.1".parse::<std::net::IpAddr>().expect("ip")))
        );
        assert!(
            settings(&Config::default()).expect("valid").is_none(),
            "off without an address"
        );
    }

    #[test]
    fn block_answers_and_destinations_are_checked() {
        assert_eq!(
            invalid_option(with(|t| t.block_response = 500)),
            "sip_agent.block_response"
        );
        assert_eq!(
            invalid_option(with(|t| t.block_response = 302)),
            "sip_agent.block_destination"
        );
        let redirect = with(|t| {
            t.block_response = 302;
            t.block_destination = Some("sip:fraud-announcement@192.0.2.10".into());
        });
        assert_eq!(
            redirect.expect("valid").expect("on").options.block,
            BlockAnswer::RedirectTo("sip:fraud-announcement@192.0.2.10".into())
        );
        for bad in [
            "http://x",
            "sip:",
            "sip:a b@h",
            "sip:a@h>\r\nX: y",
            "<sip:a@h>",
        ] {
            assert_eq!(
                invalid_option(with(|t| t.default_destination = Some(bad.into()))),
                "sip_agent.default_destination",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reading_rules_and_allow_list_are_checked() {
        assert_eq!(
            invalid_option(with(|t| t.source_ip_header = "X Source".into())),
            "sip_agent.source_ip_header"
        );
        assert_eq!(
            invalid_option(with(|t| t.strip_prefixes = vec!["9a".into()])),
            "sip_agent.strip_prefixes"
        );
        assert_eq!(
            invalid_option(with(|t| t.international_prefix = "+00".into())),
            "sip_agent.international_prefix"
        );
        assert_eq!(
            invalid_option(with(|t| t.allow = Vec::new())),
            "sip_agent.allow"
        );
        assert_eq!(
            invalid_option(with(|t| t.allow = vec!["nowhere".into()])),
            "sip_agent.allow"
        );
        let rules = with(|t| {
            t.source_ip_header = String::new();
            t.international_prefix = "011".into();
            t.allow = vec!["10.0.0.0/8".into(), "192.0.2.7".into()];
        })
        .expect("valid")
        .expect("on");
        assert_eq!(rules.options.rules.source_ip_header, None);
        assert_eq!(
            rules.options.rules.international_prefix.as_deref(),
            Some("011")
        );
        assert_eq!(rules.options.allow.len(), 2);
    }
}
