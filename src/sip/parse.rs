//! Lenient, zero-copy SIP message parser: bytes in, [`Probe`] out, never a panic.

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

/// Why a message could not be read as a well-formed SIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseDefect {
    /// The first line is neither a SIP request line nor a SIP status line.
    #[error("start line is not a SIP request or status line")]
    BadStartLine,
}

/// One header line, as received (name and value trimmed of surrounding whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Header name as sent (may be a compact form such as `v` or `f`).
    pub name: &'a [u8],
    /// Header value, without the trailing line ending.
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
    /// All header lines in order.
    pub headers: Vec<Header<'a>>,
    /// Whether the blank line ending the header section was present.
    pub headers_complete: bool,
    /// Bytes after the header section (empty when there is none).
    pub body: &'a [u8],
}

/// Parses one message. Never fails and never panics: what cannot be read is reported in
/// [`Probe::kind`] and [`Probe::defect`].
pub fn parse(input: &[u8]) -> Probe<'_> {
    Probe {
        raw: input,
        kind: MessageKind::Malformed,
        defect: Some(ParseDefect::BadStartLine),
        method: None,
        request_uri: None,
        status_code: None,
        headers: Vec::new(),
        headers_complete: false,
        body: &[],
    }
}

impl<'a> Probe<'a> {
    /// User part of the `To` URI (the original's `called_number`), when there is one.
    pub fn called_number(&self) -> Option<&'a [u8]> {
        None
    }

    /// User part of the Request-URI, when there is one.
    pub fn request_uri_user(&self) -> Option<&'a [u8]> {
        None
    }

    /// Value of the first `User-Agent` header, when present and not empty.
    pub fn user_agent(&self) -> Option<&'a [u8]> {
        None
    }
}
