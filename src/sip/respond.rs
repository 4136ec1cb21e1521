//! The reply writer: any response to a request, shaped per RFC 3261 §8.2.6, shrunk to fit the
//! UDP size limit, plus the original SentryPeer's canned `200 OK`.
//!
//! A response copies the request's transaction headers (every `Via`, `From`, `To`, `Call-ID`,
//! `CSeq`), adds our `To` tag when the request had none, fills in `received` and `rport` on the
//! top `Via` (RFC 3581), then adds its own headers and body with a correct `Content-Length`.
//! What the response says (status, headers) is decided in `pbx.rs`.

use std::net::{IpAddr, SocketAddr};

use super::parse::Probe;
use super::syntax::{is_line_break, is_space_or_tab};
use super::uri::{find_param, split_address};
use super::via::rewrite_top_via;

/// The original SentryPeer's reply to every message (its Rust build: 729 bytes, no NUL, a double
/// space in `Content-Length:  0` and no blank line ending the headers).
pub const CANNED_REPLY: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061\r\n\
Call-ID: 1179563087@127.0.0.1\r\n\
From: <sip:sipsak@127.0.0.1>;tag=464eb44f\r\n\
To: <sip:asterisk@127.0.0.1>;tag=z9hG4bK.1c882828\r\n\
CSeq: 1 OPTIONS\r\n\
Accept: application/sdp, application/dialog-info+xml, application/simple-message-summary, application/xpidf+xml, application/cpim-pidf+xml, application/pidf+xml, application/pidf+xml, application/dialog-info+xml, application/simple-message-summary, message/sipfrag;version=2.0\r\n\
Allow: OPTIONS, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, REGISTER, REFER, MESSAGE\r\n\
Supported: 100rel, timer, replaces, norefersub\r\n\
Accept-Encoding: text/plain\r\n\
Accept-Language: en\r\n\
Server: FPBX-16.0.33(18.13.0)\r\n\
Content-Length:  0\r\n";

/// Whether a reply may be sent to this address: not port 0, and not an unspecified, broadcast or
/// multicast address (such sources are spoofed, and answering them would reflect traffic).
pub fn is_answerable_source(source: SocketAddr) -> bool {
    let ip = source.ip().to_canonical();
    let is_broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    source.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && !is_broadcast
}

/// The canned reply, when it fits: over UDP (`max_reply_bytes` set) a request smaller than the
/// 729 bytes gets nothing, as no UDP reply may be bigger than its request.
pub(crate) fn canned_reply(max_reply_bytes: Option<usize>) -> Option<Vec<u8>> {
    max_reply_bytes
        .is_none_or(|limit| CANNED_REPLY.len() <= limit)
        .then(|| CANNED_REPLY.to_vec())
}

/// The transaction headers a response copies from its request, checked and owned (a dialog keeps
/// them for its later responses), the top `Via` rewritten and our `To` tag added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transaction {
    vias: Vec<Vec<u8>>,
    from: Vec<u8>,
    to: Vec<u8>,
    call_id: Vec<u8>,
    cseq: Vec<u8>,
}

impl Transaction {
    /// `None` when a mandatory header is missing or empty, or a copied value could inject a
    /// header. `tag_for(call_id, from_tag)` makes our `To` tag.
    pub(crate) fn from_request(
        probe: &Probe<'_>,
        source: SocketAddr,
        tag_for: impl FnOnce(&[u8], Option<&[u8]>) -> String,
    ) -> Option<Self> {
        let vias: Vec<&[u8]> = probe.headers_named("Via").collect();
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
        let to = if find_param(split_address(to).params, b"tag").is_some() {
            to.to_vec()
        } else {
            let from_tag = find_param(split_address(from).params, b"tag");
            [to, b";tag=", tag_for(call_id, from_tag).as_bytes()].concat()
        };
        Some(Self {
            vias: std::iter::once(rewrite_top_via(first_via, source))
                .chain(other_vias.iter().map(|via| via.to_vec()))
                .collect(),
            from: from.to_vec(),
            to,
            call_id: call_id.to_vec(),
            cseq: cseq.to_vec(),
        })
    }

    /// The same transaction with `method` in its `CSeq` (same number): the INVITE a CANCEL
    /// names, which shares every other transaction header with it (RFC 3261 §9.1).
    pub(crate) fn with_cseq_method(&self, method: &str) -> Self {
        let number = self
            .cseq
            .split(|&byte| byte == b' ' || byte == b'\t')
            .find(|part| !part.is_empty())
            .unwrap_or_default();
        Self {
            cseq: [number, b" ", method.as_bytes()].concat(),
            ..self.clone()
        }
    }

    /// Bytes held, to bound what dialogs may keep.
    pub(crate) fn held_bytes(&self) -> usize {
        self.vias.iter().map(Vec::len).sum::<usize>()
            + self.from.len()
            + self.to.len()
            + self.call_id.len()
            + self.cseq.len()
    }

    /// The request's `From`: the `To` of our requests in the dialog.
    pub(crate) fn from(&self) -> &[u8] {
        &self.from
    }

    /// The request's `To` with our tag: the `From` of our requests in the dialog.
    pub(crate) fn to(&self) -> &[u8] {
        &self.to
    }

    /// `Call-ID`.
    pub(crate) fn call_id(&self) -> &[u8] {
        &self.call_id
    }

    /// `CSeq`.
    pub(crate) fn cseq(&self) -> &[u8] {
        &self.cseq
    }
}

/// Whether a value can be copied into a reply header: every CR is part of a CRLF and every line
/// break is followed by SP or HT (a folded line), so it cannot start a header of its own.
pub(crate) fn is_safe_header_value(value: &[u8]) -> bool {
    let followed_by_space = |index: usize| value.get(index).copied().is_some_and(is_space_or_tab);
    value.iter().enumerate().all(|(index, &byte)| match byte {
        b'\r' => value.get(index + 1) == Some(&b'\n') && followed_by_space(index + 2),
        b'\n' => followed_by_space(index + 1),
        _ => true,
    })
}

/// How much a header matters when a reply must shrink to fit the UDP size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Keep {
    /// Part of what the response means (a challenge, `Contact`, `Allow` of a 405): never dropped.
    Always,
    /// `Server`: kept as long as possible, it is what scanners fingerprint.
    Identity,
    /// Advertisement (`Allow`, `Accept`, `Supported`, ...): dropped first.
    Optional,
}

/// One header a response adds after the transaction headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) value: Vec<u8>,
    /// A shorter value for the smallest form of the reply (a challenge without `qop`).
    short: Option<Vec<u8>>,
    keep: Keep,
}

impl Field {
    /// A header from configured text; `None` for an empty value or one with a line break.
    pub(crate) fn text(name: &'static str, value: &str, keep: Keep) -> Option<Self> {
        (!value.is_empty() && !value.bytes().any(is_line_break)).then(|| Self {
            name,
            value: value.as_bytes().to_vec(),
            short: None,
            keep,
        })
    }

    /// A header we build (or copy after [`is_safe_header_value`]).
    pub(crate) fn bytes(name: &'static str, value: Vec<u8>, keep: Keep) -> Self {
        Self {
            name,
            value,
            short: None,
            keep,
        }
    }

    /// The same header with a shorter value for the smallest reply.
    pub(crate) fn with_short(mut self, short: Vec<u8>) -> Self {
        self.short = Some(short);
        self
    }
}

/// A message body with its type, and a shorter form for the smallest reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Body {
    pub(crate) content_type: &'static str,
    pub(crate) full: Vec<u8>,
    pub(crate) short: Vec<u8>,
}

/// What a response says, before it is written for a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) fields: Vec<Field>,
    pub(crate) body: Option<Body>,
}

impl Response {
    /// A response with no headers of its own yet.
    pub(crate) fn new(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason,
            fields: Vec::new(),
            body: None,
        }
    }

    /// Adds headers (in order).
    pub(crate) fn with(mut self, fields: impl IntoIterator<Item = Field>) -> Self {
        self.fields.extend(fields);
        self
    }

    /// Sets the body.
    pub(crate) fn with_body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }
}

/// The forms a reply is tried in, in order of preference, until one fits the limit: full header
/// names first (naive parsers look for `Call-ID:`), then compact names (RFC 3261 §7.3.3) with the
/// short values and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Every header.
    Full,
    /// [`Keep::Always`] and [`Keep::Identity`] headers: scanners still see who we are.
    WithServer,
    /// [`Keep::Always`] headers only.
    Essential,
    /// [`Keep::Always`] and [`Keep::Identity`] headers, compact.
    CompactWithServer,
    /// [`Keep::Always`] headers only, compact.
    Compact,
}

/// Writes `response` for `transaction` in the largest form that fits `max_reply_bytes` (`None`:
/// no limit); `None` when even the compact form is too big.
pub(crate) fn write_response(
    transaction: &Transaction,
    response: &Response,
    max_reply_bytes: Option<usize>,
) -> Option<Vec<u8>> {
    [
        Form::Full,
        Form::WithServer,
        Form::Essential,
        Form::CompactWithServer,
        Form::Compact,
    ]
    .into_iter()
    .map(|form| render(transaction, response, form))
    .find(|reply| max_reply_bytes.is_none_or(|limit| reply.len() <= limit))
}

fn render(transaction: &Transaction, response: &Response, form: Form) -> Vec<u8> {
    let compact = matches!(form, Form::CompactWithServer | Form::Compact);
    let mut reply = Vec::with_capacity(640);
    reply.extend_from_slice(b"SIP/2.0 ");
    reply.extend_from_slice(response.code.to_string().as_bytes());
    reply.push(b' ');
    reply.extend_from_slice(response.reason.as_bytes());
    reply.extend_from_slice(b"\r\n");
    for via in &transaction.vias {
        write_header(&mut reply, "Via", via, compact);
    }
    write_header(&mut reply, "From", &transaction.from, compact);
    write_header(&mut reply, "To", &transaction.to, compact);
    write_header(&mut reply, "Call-ID", &transaction.call_id, compact);
    write_header(&mut reply, "CSeq", &transaction.cseq, compact);
    let most_dropped = match form {
        Form::Full => Keep::Optional,
        Form::WithServer | Form::CompactWithServer => Keep::Identity,
        Form::Essential | Form::Compact => Keep::Always,
    };
    for field in response.fields.iter().filter(|f| f.keep <= most_dropped) {
        let value = match (&field.short, compact) {
            (Some(short), true) => short,
            _ => &field.value,
        };
        write_header(&mut reply, field.name, value, compact);
    }
    let body = response.body.as_ref().map(|body| {
        if compact {
            (body.content_type, &body.short)
        } else {
            (body.content_type, &body.full)
        }
    });
    if let Some((content_type, _)) = body {
        write_header(&mut reply, "Content-Type", content_type.as_bytes(), compact);
    }
    let body = body.map(|(_, bytes)| bytes.as_slice()).unwrap_or_default();
    write_header(
        &mut reply,
        "Content-Length",
        body.len().to_string().as_bytes(),
        compact,
    );
    reply.extend_from_slice(b"\r\n");
    reply.extend_from_slice(body);
    reply
}

/// RFC 3261 §7.3.3 compact forms of the headers we write.
fn compact_name(name: &'static str) -> &'static str {
    match name {
        "Via" => "v",
        "From" => "f",
        "To" => "t",
        "Call-ID" => "i",
        "Contact" => "m",
        "Content-Type" => "c",
        "Content-Length" => "l",
        "Supported" => "k",
        other => other,
    }
}

pub(crate) fn write_header(reply: &mut Vec<u8>, name: &'static str, value: &[u8], compact: bool) {
    let name = if compact { compact_name(name) } else { name };
    reply.extend_from_slice(name.as_bytes());
    reply.extend_from_slice(b": ");
    reply.extend_from_slice(value);
    reply.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
