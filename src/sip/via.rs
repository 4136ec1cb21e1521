//! The top `Via` of a reply: RFC 3261 §18.2.1 `received` and RFC 3581 `rport` filled in from
//! where the request really came from.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::syntax::{is_whitespace, trim_whitespace};

/// Rewrites the first `Via` header value of a request for the reply.
///
/// Only the topmost hop (up to the first comma) is touched; other hops are kept verbatim.
/// - A bare `rport` parameter becomes `rport=<source port>`, and then `received` is always set.
/// - `received=<source ip>` is set when the sent-by host is not the source IP (a host name
///   counts as different). An existing `received` parameter gets the source IP as its value;
///   otherwise one is appended.
pub(crate) fn rewrite_top_via(value: &[u8], source: SocketAddr) -> Vec<u8> {
    let (top, other_hops) = split_at_unquoted(value, b',');
    let (sent, params) = split_at_unquoted(top, b';');
    let sent = trim_end_whitespace(sent);
    let source_ip = source.ip().to_canonical();
    let has_bare_rport = params_of(params).any(|(name, value)| is_bare_rport(name, value));
    let needs_received = has_bare_rport || sent_by_host_ip(sent) != Some(source_ip);

    let mut rewritten = Vec::with_capacity(value.len().saturating_add(48));
    rewritten.extend_from_slice(sent);
    let mut received_written = false;
    for (raw, (name, param_value)) in raw_params(params).zip(params_of(params)) {
        rewritten.push(b';');
        if is_bare_rport(name, param_value) {
            write_param(&mut rewritten, "rport", ParamValue::Port(source.port()));
        } else if needs_received && name.eq_ignore_ascii_case(b"received") {
            write_param(&mut rewritten, "received", ParamValue::Ip(source_ip));
            received_written = true;
        } else {
            rewritten.extend_from_slice(trim_end_whitespace(raw));
        }
    }
    if needs_received && !received_written {
        rewritten.push(b';');
        write_param(&mut rewritten, "received", ParamValue::Ip(source_ip));
    }
    rewritten.extend_from_slice(other_hops);
    rewritten
}

/// The value of a parameter the rewrite fills in.
#[derive(Clone, Copy)]
enum ParamValue {
    Port(u16),
    Ip(IpAddr),
}

/// Appends `name=value`. Ports and IPv4 addresses are written digit by digit: every UDP reply
/// writes one or two of them, and the formatting machinery took a third of this rewrite's time
/// under a flood.
fn write_param(out: &mut Vec<u8>, name: &str, value: ParamValue) {
    out.extend_from_slice(name.as_bytes());
    out.push(b'=');
    match value {
        ParamValue::Port(port) => push_decimal(out, port.into()),
        ParamValue::Ip(IpAddr::V4(ip)) => {
            for (index, octet) in ip.octets().into_iter().enumerate() {
                if index > 0 {
                    out.push(b'.');
                }
                push_decimal(out, octet.into());
            }
        }
        // Writing into a Vec cannot fail.
        ParamValue::Ip(ip @ IpAddr::V6(_)) => {
            let _ = write!(out, "{ip}");
        }
    }
}

/// Appends `value` in decimal, without leading zeros.
fn push_decimal(out: &mut Vec<u8>, value: u32) {
    let mut digits = [0u8; 10];
    let mut rest = value;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn is_bare_rport(name: &[u8], value: Option<&[u8]>) -> bool {
    name.eq_ignore_ascii_case(b"rport") && value.is_none_or(<[u8]>::is_empty)
}

/// Splits at the first `separator` outside a quoted string: (before, from the separator on).
fn split_at_unquoted(bytes: &[u8], separator: u8) -> (&[u8], &[u8]) {
    let mut quoted = false;
    let mut escaped = false;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if byte == separator && !quoted => return bytes.split_at(index),
            _ => {}
        }
    }
    (bytes, &[])
}

/// The raw text of each parameter in `;a=1;b;c=2` (without the leading `;`).
fn raw_params(params: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = params.strip_prefix(b";").unwrap_or(params);
    let mut done = params.is_empty();
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let (param, after) = split_at_unquoted(rest, b';');
        match after.strip_prefix(b";") {
            Some(next) => rest = next,
            None => done = true,
        }
        Some(param)
    })
}

/// Each parameter as (trimmed name, trimmed value when it has `=`).
fn params_of(params: &[u8]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    raw_params(params).map(|param| match param.iter().position(|&byte| byte == b'=') {
        Some(equals) => (
            trim_whitespace(param.get(..equals).unwrap_or_default()),
            Some(trim_whitespace(param.get(equals + 1..).unwrap_or_default())),
        ),
        None => (trim_whitespace(param), None),
    })
}

/// The sent-by host of `SIP/2.0/UDP host:port` as an IP address, when it is one.
fn sent_by_host_ip(sent: &[u8]) -> Option<IpAddr> {
    let sent_by = sent
        .split(|&byte| is_whitespace(byte))
        .rfind(|part| !part.is_empty())?;
    let host = match sent_by.strip_prefix(b"[") {
        Some(bracketed) => bracketed.split(|&byte| byte == b']').next()?,
        None => sent_by.split(|&byte| byte == b':').next()?,
    };
    let ip: IpAddr = std::str::from_utf8(host).ok()?.parse().ok()?;
    Some(ip.to_canonical())
}

fn trim_end_whitespace(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&byte| !is_whitespace(byte))
        .map_or(0, |last| last + 1);
    bytes.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(value: &str, source: &str) -> String {
        let source: SocketAddr = source.parse().expect("valid address");
        String::from_utf8(rewrite_top_via(value.as_bytes(), source)).expect("utf-8")
    }

    #[test]
    fn same_host_without_rport_is_kept() {
        assert_eq!(
            rewrite(
                "SIP/2.0/UDP 127.0.0.1:50999;branch=z9hG4bK-1",
                "127.0.0.1:50999"
            ),
            "SIP/2.0/UDP 127.0.0.1:50999;branch=z9hG4bK-1"
        );
    }

    #[test]
    fn other_host_gets_received() {
        assert_eq!(
            rewrite(
                "SIP/2.0/UDP 192.168.1.5:5060;branch=z9hG4bK-1",
                "203.0.113.9:5060"
            ),
            "SIP/2.0/UDP 192.168.1.5:5060;branch=z9hG4bK-1;received=203.0.113.9"
        );
        assert_eq!(
            rewrite(
                "SIP/2.0/TCP pc33.example.com;branch=z9",
                "198.51.100.1:4000"
            ),
            "SIP/2.0/TCP pc33.example.com;branch=z9;received=198.51.100.1"
        );
    }

    #[test]
    fn bare_rport_is_filled_and_forces_received() {
        assert_eq!(
            rewrite(
                "SIP/2.0/UDP 10.1.1.1:4540;branch=z9hG4bKkjshdyff;rport",
                "10.1.1.1:9988"
            ),
            "SIP/2.0/UDP 10.1.1.1:4540;branch=z9hG4bKkjshdyff;rport=9988;received=10.1.1.1"
        );
        assert_eq!(
            rewrite("SIP/2.0/UDP h;rport=1234;branch=x", "192.0.2.1:5"),
            "SIP/2.0/UDP h;rport=1234;branch=x;received=192.0.2.1"
        );
    }

    #[test]
    fn existing_received_is_replaced_and_other_hops_kept() {
        assert_eq!(
            rewrite(
                "SIP/2.0/UDP p.example;received=1.2.3.4 ; branch=a, SIP/2.0/UDP b;branch=c",
                "192.0.2.7:5060"
            ),
            "SIP/2.0/UDP p.example;received=192.0.2.7; branch=a, SIP/2.0/UDP b;branch=c"
        );
    }

    #[test]
    fn ipv6_sent_by_is_compared_as_an_address() {
        assert_eq!(
            rewrite(
                "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9",
                "[2001:db8::9]:5070"
            ),
            "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9"
        );
        assert_eq!(
            rewrite(
                "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9",
                "[2001:db8::1]:5070"
            ),
            "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9;received=2001:db8::1"
        );
        assert_eq!(
            rewrite("SIP/2.0/UDP 192.0.2.1:5060", "[::ffff:192.0.2.1]:5060"),
            "SIP/2.0/UDP 192.0.2.1:5060"
        );
    }

    #[test]
    fn quoted_separators_do_not_split() {
        assert_eq!(
            rewrite(r#"SIP/2.0/UDP h;x="a;b,c";rport"#, "192.0.2.1:7"),
            r#"SIP/2.0/UDP h;x="a;b,c";rport=7;received=192.0.2.1"#
        );
    }

    #[test]
    fn degenerate_values_do_not_panic() {
        for value in [
            "",
            ";",
            ",",
            ";;;",
            "\"",
            "SIP/2.0/UDP [",
            "; rport ;",
            "a,b;rport",
        ] {
            let _ = rewrite(value, "192.0.2.1:7");
        }
        assert_eq!(rewrite("", "192.0.2.1:7"), ";received=192.0.2.1");
    }

    proptest::proptest! {
        #[test]
        fn filled_in_values_are_written_as_display_writes_them(
            ip in proptest::prelude::any::<std::net::IpAddr>(),
            port in proptest::prelude::any::<u16>(),
        ) {
            let source = SocketAddr::new(ip, port);
            let rewritten = rewrite_top_via(b"SIP/2.0/UDP example.com;rport", source);
            let expected = format!(
                "SIP/2.0/UDP example.com;rport={port};received={}",
                ip.to_canonical()
            );
            proptest::prop_assert_eq!(String::from_utf8_lossy(&rewritten), expected);
        }
    }
}
