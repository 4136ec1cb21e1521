//! What a dip asks about: the called number from the Request-URI's user part (cleaned, a
//! configured prefix removed, in both international forms when asked) and the caller's IP from a
//! header the proxy adds.

use std::net::{IpAddr, SocketAddr};

use crate::sip::parse::Probe;
use crate::sip::syntax::trim_whitespace;

/// How a request is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DipRules {
    /// Header holding the caller's IP (`X-Source-IP`); `None` = numbers only.
    pub source_ip_header: Option<String>,
    /// Prefixes removed from the number (the first that matches, when digits remain).
    pub strip_prefixes: Vec<String>,
    /// The international call prefix dialled for `+` (`00`, `011`): the number is also looked
    /// up in its other form. `None` = as dialled only.
    pub international_prefix: Option<String>,
}

/// What one dip asks about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dip {
    /// The called number in each form to look up (as dialled first), not checked further: the
    /// caller looks up what is a phone number.
    pub numbers: Vec<String>,
    /// The caller's IP, when the header is configured, present and an address.
    pub caller_ip: Option<IpAddr>,
}

/// Characters RFC 3966 allows inside a number for readability (`+44-20-7946-0000`).
const VISUAL_SEPARATORS: [char; 4] = ['-', '.', '(', ')'];

/// Reads the dip of `probe` (an INVITE) by `rules`.
pub fn read_dip(probe: &Probe<'_>, rules: &DipRules) -> Dip {
    let numbers = probe
        .request_uri_user()
        .and_then(|user| std::str::from_utf8(user).ok())
        .map(|user| number_forms(user, rules))
        .unwrap_or_default();
    let caller_ip = rules
        .source_ip_header
        .as_deref()
        .and_then(|name| probe.header(name))
        .and_then(parse_caller_ip);
    Dip { numbers, caller_ip }
}

/// The forms of the number in a Request-URI user part: user parameters (`;npdi`) and visual
/// separators removed, then the first matching strip prefix, then its other international form.
fn number_forms(user: &str, rules: &DipRules) -> Vec<String> {
    let number = user.split(';').next().unwrap_or_default();
    let mut number: String = number
        .chars()
        .filter(|c| !VISUAL_SEPARATORS.contains(c))
        .collect();
    if let Some(rest) = rules
        .strip_prefixes
        .iter()
        .find_map(|prefix| number.strip_prefix(prefix.as_str()))
        .filter(|rest| !rest.is_empty())
    {
        number = rest.to_owned();
    }
    if number.is_empty() {
        return Vec::new();
    }
    let other = rules
        .international_prefix
        .as_deref()
        .filter(|prefix| !prefix.is_empty())
        .and_then(|prefix| other_international_form(&number, prefix));
    std::iter::once(number).chain(other).collect()
}

/// `+44…` for `0044…` and the other way round (with `prefix` = `00`).
fn other_international_form(number: &str, prefix: &str) -> Option<String> {
    if let Some(rest) = number.strip_prefix('+') {
        Some(format!("{prefix}{rest}"))
    } else {
        number
            .strip_prefix(prefix)
            .filter(|rest| !rest.is_empty())
            .map(|rest| format!("+{rest}"))
    }
}

/// An IP as proxies write it: `203.0.113.5`, `2001:db8::1`, `[2001:db8::1]`, with or without
/// a port.
fn parse_caller_ip(value: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(trim_whitespace(value)).ok()?;
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|address| address.ip()))
        .or_else(|_| {
            text.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .unwrap_or_default()
                .parse::<IpAddr>()
        })
        .ok()
        .map(|ip| ip.to_canonical())
}
