//! Never-lists: networks and numbers no verdict includes, whatever was seen (an operator's own
//! resolvers and upstreams; emergency numbers for the SIP agent).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use crate::store::is_phone_number;

/// Emergency numbers the SIP agent never blocks by default: 112 (EU and GSM), 911 (North
/// America), 999 (UK), 000 (Australia), 110 (Germany, Japan, China: police), 119 (Japan, Korea:
/// fire and ambulance), 118 (Italy: ambulance).
pub const EMERGENCY_NUMBERS: [&str; 7] = ["112", "911", "999", "000", "110", "119", "118"];

/// A number rule: an exact number, or a prefix written with a trailing `*` (`0900*`). Rules
/// compare the number as dialled (the same text as the API's keys): `+44…` and `0044…` are
/// different numbers, so list both forms where both are dialled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NumberRule {
    /// This number only.
    Exact(String),
    /// Every number starting with this.
    Prefix(String),
}

impl NumberRule {
    /// Whether `number` matches.
    pub fn matches(&self, number: &str) -> bool {
        match self {
            Self::Exact(exact) => number == exact,
            Self::Prefix(prefix) => number.starts_with(prefix.as_str()),
        }
    }
}

/// Why a number rule did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a number or number prefix (digits, optional leading +, optional trailing *): {0:?}")]
pub struct NumberRuleError(String);

impl FromStr for NumberRule {
    type Err = NumberRuleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (digits, prefix) = match text.strip_suffix('*') {
            Some(digits) => (digits, true),
            None => (text, false),
        };
        if !is_phone_number(digits) {
            return Err(NumberRuleError(text.to_owned()));
        }
        Ok(if prefix {
            Self::Prefix(digits.to_owned())
        } else {
            Self::Exact(digits.to_owned())
        })
    }
}

impl fmt::Display for NumberRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(number) => f.write_str(number),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// Networks and numbers that never become a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NeverList {
    /// Networks (`192.0.2.0/24`, `2001:db8::/32`, a single address as `/32` or `/128`).
    pub networks: Vec<IpNet>,
    /// Numbers and prefixes.
    pub numbers: Vec<NumberRule>,
}

impl NeverList {
    /// The SIP agent's default: [`EMERGENCY_NUMBERS`].
    pub fn emergency_numbers() -> Self {
        Self {
            networks: Vec::new(),
            numbers: EMERGENCY_NUMBERS
                .iter()
                .map(|number| NumberRule::Exact((*number).to_owned()))
                .collect(),
        }
    }

    /// Whether `ip` (IPv4-mapped IPv6 as IPv4) is in a listed network.
    pub fn holds_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|network| network.contains(&ip))
    }

    /// Whether `number` matches a listed rule.
    pub fn holds_number(&self, number: &str) -> bool {
        self.numbers.iter().any(|rule| rule.matches(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_as_exact_numbers_or_prefixes() {
        assert_eq!("112".parse(), Ok(NumberRule::Exact("112".into())));
        assert_eq!("+44900*".parse(), Ok(NumberRule::Prefix("+44900".into())));
        for bad in ["", "*", "12a", "1*2", "+", "**"] {
            assert!(bad.parse::<NumberRule>().is_err(), "{bad}");
        }
        let rule: NumberRule = "0900*".parse().expect("rule");
        assert_eq!(rule.to_string(), "0900*");
    }

    #[test]
    fn exact_rules_do_not_match_longer_numbers() {
        let list = NeverList::emergency_numbers();
        for number in EMERGENCY_NUMBERS {
            assert!(list.holds_number(number));
        }
        assert!(!list.holds_number("1121234567"));
        assert!(!list.holds_number("+112"));
        let prefixes = NeverList {
            numbers: vec!["0900*".parse().expect("rule")],
            ..NeverList::default()
        };
        assert!(prefixes.holds_number("0900123") && prefixes.holds_number("0900"));
        assert!(!prefixes.holds_number("090"));
    }

    #[test]
    fn networks_hold_their_addresses_including_mapped_ones() {
        let list = NeverList {
            networks: vec![
                "8.8.8.0/24".parse().expect("net"),
                "2001:4860::/32".parse().expect("net"),
            ],
            ..NeverList::default()
        };
        for held in ["8.8.8.8", "::ffff:8.8.8.8", "2001:4860:4860::8888"] {
            assert!(list.holds_ip(held.parse().expect("ip")), "{held}");
        }
        for free in ["8.8.9.8", "2001:4861::1"] {
            assert!(!list.holds_ip(free.parse().expect("ip")), "{free}");
        }
    }
}
