//! The responder's policy: which probe gets which reply. The one place reply policy lives.
//!
//! Every request except `ACK` gets a `200 OK` shaped per RFC 3261 §8.2.6: the transaction
//! headers (`Via`, `From`, `To`, `Call-ID`, `CSeq`) echoed, our `To` tag added, `received` and
//! `rport` filled in (RFC 3581), then the [`Personality`] headers. Responses, unparseable
//! messages, spoofed-looking sources and header injection attempts get nothing.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use super::parse::{MessageKind, Probe};
use super::syntax::{is_line_break, is_space_or_tab};
use super::uri::{find_param, split_address};
use super::via::rewrite_top_via;

/// What the honeypot pretends to be: header values of every full reply. Defaults mimic the
/// FreePBX/Asterisk reply of the original SentryPeer. Empty values, and values holding CR or LF,
/// are left out of replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personality {
    /// `Server` header value.
    pub server: String,
    /// `Allow` header value: the methods we claim to support.
    pub allow: String,
    /// `Supported` header value: the extensions we claim to support.
    pub supported: String,
    /// `Accept` header value: the body types we claim to accept.
    pub accept: String,
}

impl Default for Personality {
    fn default() -> Self {
        Self {
            server: "FPBX-16.0.33(18.13.0)".to_owned(),
            allow: "OPTIONS, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, \
                    REGISTER, REFER, MESSAGE"
                .to_owned(),
            supported: "100rel, timer, replaces, norefersub".to_owned(),
            accept: "application/sdp".to_owned(),
        }
    }
}

/// Facts about where a probe came from, needed to build a reply.
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext<'p> {
    /// Who sent the probe.
    pub source: SocketAddr,
    /// Largest reply allowed (the request's size over UDP), `None` for streams.
    pub max_reply_bytes: Option<usize>,
    /// Headers to present.
    pub personality: &'p Personality,
}

/// The status line of every reply.
const STATUS_LINE: &[u8] = b"SIP/2.0 200 OK\r\n";

/// Builds the reply for a probe, or `None` when nothing must be sent.
///
/// `None` for: a source with port 0 or an unspecified, broadcast or multicast address; anything
/// but a request; `ACK`; a request missing (or with an empty) `Via`, `From`, `To`, `Call-ID` or
/// `CSeq`; any of those values holding CR or LF not followed by SP/HT (header injection); a reply
/// that cannot fit in [`ReplyContext::max_reply_bytes`], even with only the transaction headers.
pub fn respond(probe: &Probe<'_>, ctx: &ReplyContext<'_>) -> Option<Vec<u8>> {
    if !is_answerable_source(ctx.source) || probe.kind != MessageKind::Request {
        return None;
    }
    if probe.method?.eq_ignore_ascii_case("ACK") {
        return None;
    }
    let echoed = EchoedHeaders::from_request(probe, ctx.source)?;
    fit_reply_to_limit(&echoed, ctx.personality, ctx.max_reply_bytes)
}

/// Whether a reply may be sent to this address: not port 0, and not an unspecified, broadcast or
/// multicast address (such sources are spoofed, and answering them would reflect traffic).
pub fn is_answerable_source(source: SocketAddr) -> bool {
    let ip = source.ip().to_canonical();
    let is_broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    source.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && !is_broadcast
}

/// The anti-amplification rule: the full reply when it fits in `max_reply_bytes` (or there is no
/// limit), else the minimal reply (transaction headers and `Content-Length` only) when that fits,
/// else `None`.
fn fit_reply_to_limit(
    echoed: &EchoedHeaders<'_>,
    personality: &Personality,
    max_reply_bytes: Option<usize>,
) -> Option<Vec<u8>> {
    let full = write_reply(echoed, personality, Advertised::Everything);
    let Some(limit) = max_reply_bytes else {
        return Some(full);
    };
    if full.len() <= limit {
        return Some(full);
    }
    // Scanners' probes are often smaller than the full reply; keeping `Server` lets them
    // fingerprint the personality, which is what makes them come back.
    [Advertised::ServerOnly, Advertised::Nothing]
        .into_iter()
        .map(|advertised| write_reply(echoed, personality, advertised))
        .find(|reply| reply.len() <= limit)
}

/// Which of the personality's headers a reply carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Advertised {
    /// `Server`, `Allow`, `Accept`, `Supported`.
    Everything,
    /// `Server` only (a reply that must stay small).
    ServerOnly,
    /// Only the headers RFC 3261 requires.
    Nothing,
}

/// The request headers a reply copies, checked, with the top `Via` already rewritten.
struct EchoedHeaders<'a> {
    top_via: Vec<u8>,
    other_vias: Vec<&'a [u8]>,
    from: &'a [u8],
    to: &'a [u8],
    /// Our tag, when the request's `To` has none.
    to_tag: Option<String>,
    call_id: &'a [u8],
    cseq: &'a [u8],
}

impl<'a> EchoedHeaders<'a> {
    /// `None` when a mandatory header is missing or empty, or a copied value is unsafe.
    fn from_request(probe: &Probe<'a>, source: SocketAddr) -> Option<Self> {
        let vias: Vec<&'a [u8]> = probe.headers_named("Via").collect();
        let (&first_via, other_vias) = vias.split_first()?;
        let from = probe.from()?;
        let to = probe.to()?;
        let call_id = probe.call_id()?;
        let cseq = probe.cseq()?;
        let copied = vias.iter().copied().chain([from, to, call_id, cseq]);
        if !copied
            .into_iter()
            .all(|value| !value.is_empty() && is_safe_header_value(value))
        {
            return None;
        }
        let to_has_tag = find_param(split_address(to).params, b"tag").is_some();
        let from_tag = find_param(split_address(from).params, b"tag");
        Some(Self {
            top_via: rewrite_top_via(first_via, source),
            other_vias: other_vias.to_vec(),
            from,
            to,
            to_tag: (!to_has_tag).then(|| dialog_tag(call_id, from_tag)),
            call_id,
            cseq,
        })
    }
}

/// Whether a value can be copied into a reply header: every CR is part of a CRLF and every line
/// break is followed by SP or HT (a folded line), so it cannot start a header of its own.
fn is_safe_header_value(value: &[u8]) -> bool {
    let followed_by_space = |index: usize| value.get(index).copied().is_some_and(is_space_or_tab);
    value.iter().enumerate().all(|(index, &byte)| match byte {
        b'\r' => value.get(index + 1) == Some(&b'\n') && followed_by_space(index + 2),
        b'\n' => followed_by_space(index + 1),
        _ => true,
    })
}

/// Our `To` tag for a dialog: the same Call-ID and From tag always give the same tag, so
/// retransmissions and later requests of the dialog match. Hashing only, no randomness.
fn dialog_tag(call_id: &[u8], from_tag: Option<&[u8]>) -> String {
    // `DefaultHasher::new()` uses fixed keys, so the tag is stable between runs.
    let mut hasher = DefaultHasher::new();
    b"sentrypeer-to-tag".hash(&mut hasher);
    call_id.hash(&mut hasher);
    from_tag.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Writes the `200 OK`: echoed headers, then the personality headers when given, then
/// `Content-Length: 0` and the blank line.
fn write_reply(
    echoed: &EchoedHeaders<'_>,
    personality: &Personality,
    advertised: Advertised,
) -> Vec<u8> {
    let mut reply = Vec::with_capacity(512);
    reply.extend_from_slice(STATUS_LINE);
    write_header(&mut reply, "Via", &echoed.top_via);
    for via in &echoed.other_vias {
        write_header(&mut reply, "Via", via);
    }
    write_header(&mut reply, "From", echoed.from);
    match &echoed.to_tag {
        Some(tag) => write_header(
            &mut reply,
            "To",
            &[echoed.to, b";tag=", tag.as_bytes()].concat(),
        ),
        None => write_header(&mut reply, "To", echoed.to),
    }
    write_header(&mut reply, "Call-ID", echoed.call_id);
    write_header(&mut reply, "CSeq", echoed.cseq);
    let headers = [
        ("Server", &personality.server),
        ("Allow", &personality.allow),
        ("Accept", &personality.accept),
        ("Supported", &personality.supported),
    ];
    let count = match advertised {
        Advertised::Everything => headers.len(),
        Advertised::ServerOnly => 1,
        Advertised::Nothing => 0,
    };
    for (name, value) in headers.into_iter().take(count) {
        if !value.is_empty() && !value.bytes().any(is_line_break) {
            write_header(&mut reply, name, value.as_bytes());
        }
    }
    write_header(&mut reply, "Content-Length", b"0");
    reply.extend_from_slice(b"\r\n");
    reply
}

fn write_header(reply: &mut Vec<u8>, name: &str, value: &[u8]) {
    reply.extend_from_slice(name.as_bytes());
    reply.extend_from_slice(b": ");
    reply.extend_from_slice(value);
    reply.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
