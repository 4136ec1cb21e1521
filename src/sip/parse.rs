//! Lenient, zero-copy SIP message parser: bytes in, [`Probe`] out, never a panic.

pub use super::start_line::ParseDefect;
use super::start_line::{StartLine, parse_start_line};
use super::syntax::{
    Lines, is_line_break, is_space_or_tab, is_token, is_whitespace, parse_decimal,
    same_header_name, split_header_line, trim_whitespace,
};
use super::uri::{user_part_of_address, user_part_of_uri};

/// What kind of message a probe turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A SIP request (`METHOD uri SIP/2.0`).
    Request,
    /// A SIP response (`SIP/2.0 200 OK`).
    Response,
    /// No bytes, or only whitespace (nmap-style empty probes, CRLF keep-alives).
    Empty,
    /// Anything else: garbage, binary, another protocol, a truncated start line.
    Malformed,
}

impl MessageKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::Request, Self::Response, Self::Empty, Self::Malformed];

    /// Lower-case name: `request`, `response`, `empty`, `malformed` (the store's `message_kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
            Self::Empty => "empty",
            Self::Malformed => "malformed",
        }
    }

    /// The kind named `name`, as [`MessageKind::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One header line, as received (name and value trimmed of surrounding whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Header name as sent (may be a compact form such as `v` or `f`).
    pub name: &'a [u8],
    /// Header value, without the trailing line ending. A folded header (continuation lines
    /// starting with SP/HT) keeps its inner line breaks: the slice spans all its lines.
    pub value: &'a [u8],
}

/// Everything read from one received message. Borrows the receive buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe<'a> {
    /// The whole message exactly as received.
    pub raw: &'a [u8],
    /// What the message is.
    pub kind: MessageKind,
    /// Why it is [`MessageKind::Malformed`], when it is.
    pub defect: Option<ParseDefect>,
    /// Request method (`OPTIONS`, `INVITE`, ...), for requests.
    pub method: Option<&'a str>,
    /// Request-URI, for requests.
    pub request_uri: Option<&'a [u8]>,
    /// Status code, for responses.
    pub status_code: Option<u16>,
    /// All header lines in order (at most [`MAX_HEADERS`]; lines without a colon are skipped).
    pub headers: Vec<Header<'a>>,
    /// Whether the blank line ending the header section was present.
    pub headers_complete: bool,
    /// Bytes after the header section (empty when there is none).
    pub body: &'a [u8],
}

/// Most header lines one message yields. Real SIP messages carry a few dozen; the cap bounds the
/// memory and time a hostile message (thousands of tiny `a:` lines) can cost. Lines past it are
/// still scanned for the end of the header section but not collected.
pub const MAX_HEADERS: usize = 256;

/// Parses one message. Never fails and never panics: what cannot be read is reported in
/// [`Probe::kind`] and [`Probe::defect`].
///
/// Lines may end in CRLF or bare LF; leading CR/LF bytes are skipped; header lines are collected
/// (up to [`MAX_HEADERS`]) even after a malformed start line; a folded header line extends the
/// previous header's value; a missing blank line is accepted (`headers_complete == false`).
///
/// ```
/// use sentrypeer::sip::{MessageKind, parse};
///
/// let probe = parse(b"INVITE sip:0046812118532@192.0.2.1 SIP/2.0\nTo: <sip:+46812118532@192.0.2.1>\n\n");
/// assert_eq!(probe.kind, MessageKind::Request);
/// assert_eq!(probe.method, Some("INVITE"));
/// assert_eq!(probe.called_number(), Some(&b"+46812118532"[..]));
/// assert_eq!(probe.request_uri_user(), Some(&b"0046812118532"[..]));
/// assert_eq!(parse(b"\x16\x03\x01garbage").kind, MessageKind::Malformed);
/// ```
pub fn parse(input: &[u8]) -> Probe<'_> {
    let mut probe = Probe {
        raw: input,
        kind: MessageKind::Empty,
        defect: None,
        method: None,
        request_uri: None,
        status_code: None,
        headers: Vec::new(),
        headers_complete: false,
        body: &[],
    };
    if input.iter().all(|&byte| is_whitespace(byte)) {
        return probe;
    }
    let first_line_start = input
        .iter()
        .position(|&byte| !is_line_break(byte))
        .unwrap_or(input.len());
    let mut lines = Lines::new(input, first_line_start);
    let start_line = lines
        .next()
        .map_or(StartLine::Malformed(ParseDefect::BadStartLine), |line| {
            parse_start_line(input.get(line.start..line.content_end).unwrap_or_default())
        });
    match start_line {
        StartLine::Request {
            method,
            request_uri,
        } => {
            probe.kind = MessageKind::Request;
            probe.method = Some(method);
            probe.request_uri = Some(request_uri);
        }
        StartLine::Response { status_code } => {
            probe.kind = MessageKind::Response;
            probe.status_code = Some(status_code);
        }
        StartLine::Malformed(defect) => {
            probe.kind = MessageKind::Malformed;
            probe.defect = Some(defect);
        }
    }
    read_header_section(input, lines, &mut probe);
    probe
}

/// Collects header lines into `probe` until the blank line, then sets the body.
fn read_header_section<'a>(input: &'a [u8], lines: Lines<'a>, probe: &mut Probe<'a>) {
    // Offset where the last collected header's raw value starts, while folded continuation lines
    // may still extend it.
    let mut open_value_start: Option<usize> = None;
    for line in lines {
        let content = input.get(line.start..line.content_end).unwrap_or_default();
        let Some(&first_byte) = content.first() else {
            probe.headers_complete = line.terminated;
            probe.body = input.get(line.next..).unwrap_or_default();
            return;
        };
        if is_space_or_tab(first_byte) {
            if let (Some(value_start), Some(last)) = (open_value_start, probe.headers.last_mut()) {
                last.value =
                    trim_whitespace(input.get(value_start..line.content_end).unwrap_or_default());
            }
            continue;
        }
        open_value_start = None;
        if probe.headers.len() >= MAX_HEADERS {
            continue;
        }
        if let Some(header_line) = split_header_line(content) {
            probe.headers.push(Header {
                name: header_line.name,
                value: header_line.value,
            });
            open_value_start = line.start.checked_add(header_line.value_offset);
        }
    }
}

impl Header<'_> {
    /// Whether this header has the given name: case-insensitive, compact forms included
    /// (`v` is `Via`).
    pub fn has_name(&self, name: &str) -> bool {
        same_header_name(self.name, name.as_bytes())
    }
}

impl<'a> Probe<'a> {
    /// User part of the `To` URI (the original's `called_number`), when there is one: `+` and
    /// leading zeros kept, `None` without a `To`, a URI, an `@` or a non-empty user.
    pub fn called_number(&self) -> Option<&'a [u8]> {
        self.to().and_then(user_part_of_address)
    }

    /// User part of the Request-URI, when there is one (same rules as [`Probe::called_number`]).
    pub fn request_uri_user(&self) -> Option<&'a [u8]> {
        self.request_uri.and_then(user_part_of_uri)
    }

    /// Value of the first `User-Agent` header, when present and not empty.
    pub fn user_agent(&self) -> Option<&'a [u8]> {
        self.header("User-Agent").filter(|value| !value.is_empty())
    }

    /// Value of the first header with this name (case-insensitive, compact forms included).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers_named(name).next()
    }

    /// Values of every header with this name, in message order (for example every `Via`).
    pub fn headers_named(&self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.headers
            .iter()
            .filter(move |header| header.has_name(name))
            .map(|header| header.value)
    }

    /// First `Call-ID` (`i`) value.
    pub fn call_id(&self) -> Option<&'a [u8]> {
        self.header("Call-ID")
    }

    /// First `From` (`f`) value.
    pub fn from(&self) -> Option<&'a [u8]> {
        self.header("From")
    }

    /// First `To` (`t`) value.
    pub fn to(&self) -> Option<&'a [u8]> {
        self.header("To")
    }

    /// First `CSeq` value.
    pub fn cseq(&self) -> Option<&'a [u8]> {
        self.header("CSeq")
    }

    /// First `Via` (`v`) value (which may itself list several hops, comma-separated).
    pub fn via(&self) -> Option<&'a [u8]> {
        self.header("Via")
    }

    /// Method named in the `CSeq` header (`1 OPTIONS` gives `OPTIONS`), when it is a valid token.
    pub fn cseq_method(&self) -> Option<&'a str> {
        let mut parts = self
            .cseq()?
            .split(|&byte| is_whitespace(byte))
            .filter(|part| !part.is_empty());
        let method = parts.nth(1)?;
        if is_token(method) {
            std::str::from_utf8(method).ok()
        } else {
            None
        }
    }

    /// First `Content-Length` (`l`) value, when it is a decimal number (saturating at
    /// `usize::MAX`).
    pub fn content_length(&self) -> Option<usize> {
        self.header("Content-Length").and_then(parse_decimal)
    }
}

#[cfg(test)]
mod tests;
