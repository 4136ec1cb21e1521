//! Reading the first line of a message: a request line, a status line, or a defect.

use super::syntax::{is_space_or_tab, is_token, starts_with_ignore_case, trim_spaces};

/// Why a message could not be read as a well-formed SIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseDefect {
    /// The first line is neither a SIP request line nor a SIP status line.
    #[error("start line is not a SIP request or status line")]
    BadStartLine,
    /// The first line is shaped like a request of another protocol (`GET / HTTP/1.1`).
    #[error("start line is a request of another protocol, not SIP")]
    NotSipProtocol,
    /// The request line ends in a SIP version but its method is not an RFC 3261 token (for
    /// example it holds non-ASCII or control bytes).
    #[error("request method is not a valid token")]
    InvalidMethod,
    /// The status line starts with a SIP version but has no three-digit status code.
    #[error("status line has no three-digit status code")]
    BadStatusCode,
}

/// What the first line of a message turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartLine<'a> {
    /// `METHOD Request-URI SIP/x.y`.
    Request {
        /// The method token (ASCII, so valid UTF-8).
        method: &'a str,
        /// The Request-URI as sent.
        request_uri: &'a [u8],
    },
    /// `SIP/x.y NNN reason`.
    Response {
        /// The three-digit status code.
        status_code: u16,
    },
    /// Neither.
    Malformed(ParseDefect),
}

/// Reads a start line (its line ending already removed). Extra spaces and tabs between the parts
/// are allowed, and so is a Request-URI containing spaces (everything between method and version).
pub(crate) fn parse_start_line(line: &[u8]) -> StartLine<'_> {
    let mut parts = line
        .split(|&byte| is_space_or_tab(byte))
        .filter(|part| !part.is_empty());
    let Some(first) = parts.next() else {
        return StartLine::Malformed(ParseDefect::BadStartLine);
    };
    let second = parts.next();
    if is_sip_version(first) {
        return parse_status_code(second);
    }
    let (Some(_), Some(version)) = (second, parts.next_back()) else {
        return StartLine::Malformed(ParseDefect::BadStartLine);
    };
    if !is_sip_version(version) {
        let looks_like_other_protocol = is_token(first) && version.contains(&b'/');
        let defect = if looks_like_other_protocol {
            ParseDefect::NotSipProtocol
        } else {
            ParseDefect::BadStartLine
        };
        return StartLine::Malformed(defect);
    }
    let method = match std::str::from_utf8(first) {
        Ok(method) if is_token(first) => method,
        _ => return StartLine::Malformed(ParseDefect::InvalidMethod),
    };
    match request_uri_span(line, first.len(), version.len()) {
        Some(request_uri) => StartLine::Request {
            method,
            request_uri,
        },
        None => StartLine::Malformed(ParseDefect::BadStartLine),
    }
}

/// The bytes between the method and the version, trimmed: found by position in the line so that
/// they stay one slice of the input.
fn request_uri_span(line: &[u8], method_len: usize, version_len: usize) -> Option<&[u8]> {
    let start = line
        .iter()
        .position(|&byte| !is_space_or_tab(byte))?
        .checked_add(method_len)?;
    let end = line
        .iter()
        .rposition(|&byte| !is_space_or_tab(byte))?
        .checked_add(1)?
        .checked_sub(version_len)?;
    let middle = line.get(start..end)?;
    let trimmed = trim_spaces(middle);
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Whether a start-line part is a SIP version (`SIP/2.0`, case-insensitive).
fn is_sip_version(part: &[u8]) -> bool {
    starts_with_ignore_case(part, b"SIP/")
}

fn parse_status_code(part: Option<&[u8]>) -> StartLine<'static> {
    match part {
        Some(&[hundreds, tens, units])
            if [hundreds, tens, units].iter().all(u8::is_ascii_digit) =>
        {
            let status_code = u16::from(hundreds - b'0') * 100
                + u16::from(tens - b'0') * 10
                + u16::from(units - b'0');
            StartLine::Response { status_code }
        }
        _ => StartLine::Malformed(ParseDefect::BadStatusCode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_start_line(b"OPTIONS sip:100@1.1.1.1 SIP/2.0"),
            StartLine::Request {
                method: "OPTIONS",
                request_uri: b"sip:100@1.1.1.1"
            }
        );
        assert_eq!(
            parse_start_line(b"  INVITE \t sip:a b@c   sip/2.0 "),
            StartLine::Request {
                method: "INVITE",
                request_uri: b"sip:a b@c"
            }
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_start_line(b"SIP/2.0 200 OK"),
            StartLine::Response { status_code: 200 }
        );
        assert_eq!(
            parse_start_line(b"SIP/2.0 404"),
            StartLine::Response { status_code: 404 }
        );
        assert_eq!(
            parse_start_line(b"SIP/2.0 20 OK"),
            StartLine::Malformed(ParseDefect::BadStatusCode)
        );
        assert_eq!(
            parse_start_line(b"SIP/2.0"),
            StartLine::Malformed(ParseDefect::BadStatusCode)
        );
    }

    #[test]
    fn defects() {
        assert_eq!(
            parse_start_line(b"GET / HTTP/1.1"),
            StartLine::Malformed(ParseDefect::NotSipProtocol)
        );
        assert_eq!(
            parse_start_line(b"OPTIONS sip:1@h SI"),
            StartLine::Malformed(ParseDefect::BadStartLine)
        );
        assert_eq!(
            parse_start_line(b"OPT\xc3\xa9ONS sip:1@h SIP/2.0"),
            StartLine::Malformed(ParseDefect::InvalidMethod)
        );
        assert_eq!(
            parse_start_line(b""),
            StartLine::Malformed(ParseDefect::BadStartLine)
        );
        assert_eq!(
            parse_start_line(b"hello world"),
            StartLine::Malformed(ParseDefect::BadStartLine)
        );
        assert_eq!(
            parse_start_line(b"OPTIONS SIP/2.0"),
            StartLine::Malformed(ParseDefect::BadStartLine)
        );
    }
}
