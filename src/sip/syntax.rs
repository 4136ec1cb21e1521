//! Byte-level SIP syntax shared by the parser, the framer and the responder: line splitting,
//! whitespace trimming, RFC 3261 token characters, header names (with compact forms) and
//! decimal numbers. Every function here works on untrusted bytes and never panics.

use memchr::memchr;

/// One line of a message, as offsets into the input it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line {
    /// Offset of the first byte of the line.
    pub(crate) start: usize,
    /// Offset just past the line's content (its `\r\n` or `\n` excluded).
    pub(crate) content_end: usize,
    /// Offset just past the line ending (equals `content_end` for an unterminated last line).
    pub(crate) next: usize,
    /// Whether the line ended with `\n` (`false` only for the last line of truncated input).
    pub(crate) terminated: bool,
}

/// Splits input into lines ending in CRLF or bare LF (mixed endings are fine).
#[derive(Debug, Clone)]
pub(crate) struct Lines<'a> {
    input: &'a [u8],
    position: usize,
}

impl<'a> Lines<'a> {
    /// Lines of `input` starting at offset `start` (clamped to the input's length).
    pub(crate) fn new(input: &'a [u8], start: usize) -> Self {
        Self {
            input,
            position: start.min(input.len()),
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let start = self.position;
        let rest = self.input.get(start..)?;
        if rest.is_empty() {
            return None;
        }
        let line = match memchr(b'\n', rest) {
            Some(newline) => {
                let newline_at = start.saturating_add(newline);
                let content_end = if newline > 0 && rest.get(newline - 1) == Some(&b'\r') {
                    newline_at - 1
                } else {
                    newline_at
                };
                Line {
                    start,
                    content_end,
                    next: newline_at.saturating_add(1),
                    terminated: true,
                }
            }
            None => {
                let end = self.input.len();
                Line {
                    start,
                    content_end: end,
                    next: end,
                    terminated: false,
                }
            }
        };
        self.position = line.next;
        Some(line)
    }
}

/// SP or HT: the whitespace allowed inside a line.
pub(crate) fn is_space_or_tab(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// SP, HT, CR or LF.
pub(crate) fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// CR or LF.
pub(crate) fn is_line_break(byte: u8) -> bool {
    byte == b'\r' || byte == b'\n'
}

/// `bytes` without leading and trailing SP/HT.
pub(crate) fn trim_spaces(bytes: &[u8]) -> &[u8] {
    trim_by(bytes, is_space_or_tab)
}

/// `bytes` without leading and trailing SP/HT/CR/LF (for values that may hold folded lines).
pub(crate) fn trim_whitespace(bytes: &[u8]) -> &[u8] {
    trim_by(bytes, is_whitespace)
}

fn trim_by(bytes: &[u8], is_trimmed: fn(u8) -> bool) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&byte| !is_trimmed(byte))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&byte| !is_trimmed(byte))
        .map_or(start, |last| last + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Whether `byte` may appear in an RFC 3261 `token` (methods, header names, parameter names).
pub(crate) fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Whether `bytes` is a non-empty RFC 3261 `token`.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&byte| is_token_byte(byte))
}

/// Whether `bytes` starts with `prefix`, ignoring ASCII case.
pub(crate) fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Compact header forms (RFC 3261 §7.3.3 and the IANA SIP header registry) and their full names.
const COMPACT_HEADER_NAMES: [(u8, &str); 19] = [
    (b'a', "Accept-Contact"),
    (b'b', "Referred-By"),
    (b'c', "Content-Type"),
    (b'd', "Request-Disposition"),
    (b'e', "Content-Encoding"),
    (b'f', "From"),
    (b'i', "Call-ID"),
    (b'j', "Reject-Contact"),
    (b'k', "Supported"),
    (b'l', "Content-Length"),
    (b'm', "Contact"),
    (b'n', "Identity-Info"),
    (b'o', "Event"),
    (b'r', "Refer-To"),
    (b's', "Subject"),
    (b't', "To"),
    (b'u', "Allow-Events"),
    (b'v', "Via"),
    (b'x', "Session-Expires"),
];

/// The full name of a header name that may be a compact form (`v` → `Via`); other names as given.
pub(crate) fn full_header_name(name: &[u8]) -> &[u8] {
    if let [letter] = name {
        let letter = letter.to_ascii_lowercase();
        if let Some((_, full)) = COMPACT_HEADER_NAMES
            .iter()
            .find(|(compact, _)| *compact == letter)
        {
            return full.as_bytes();
        }
    }
    name
}

/// Whether two header names mean the same header: case-insensitive, compact forms included.
pub(crate) fn same_header_name(left: &[u8], right: &[u8]) -> bool {
    full_header_name(left).eq_ignore_ascii_case(full_header_name(right))
}

/// A line of the header section that looks like a header: `name: value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderLine<'a> {
    /// The name, trimmed.
    pub(crate) name: &'a [u8],
    /// The value, trimmed of SP/HT.
    pub(crate) value: &'a [u8],
    /// Offset in the line just past the colon (where the untrimmed value starts).
    pub(crate) value_offset: usize,
}

/// Splits a header line into trimmed name and value. `None` when the line has no colon or the
/// name is not an RFC 3261 token (so it does not look like a header).
pub(crate) fn split_header_line(line: &[u8]) -> Option<HeaderLine<'_>> {
    let colon = memchr(b':', line)?;
    let name = trim_spaces(line.get(..colon)?);
    let value_offset = colon.checked_add(1)?;
    let value = trim_spaces(line.get(value_offset..)?);
    is_token(name).then_some(HeaderLine {
        name,
        value,
        value_offset,
    })
}

/// Reads a `Content-Length` style decimal number (surrounding whitespace allowed). `None` when
/// it is empty or not all digits; a number too large for `usize` saturates at `usize::MAX` so
/// callers treat it as "too large" rather than "missing".
pub(crate) fn parse_decimal(value: &[u8]) -> Option<usize> {
    let digits = trim_whitespace(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0usize, |total, digit| {
        total
            .saturating_mul(10)
            .saturating_add(usize::from(digit - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> Vec<(&[u8], bool)> {
        Lines::new(input, 0)
            .map(|line| (&input[line.start..line.content_end], line.terminated))
            .collect()
    }

    #[test]
    fn lines_accept_crlf_bare_lf_and_an_unterminated_tail() {
        let lines = lines_of(b"a\r\nb\nc\r\n\r\nd");
        let expected: Vec<(&[u8], bool)> = vec![
            (b"a", true),
            (b"b", true),
            (b"c", true),
            (b"", true),
            (b"d", false),
        ];
        assert_eq!(lines, expected);
        assert!(lines_of(b"").is_empty());
        assert_eq!(lines_of(b"\n"), vec![(&b""[..], true)]);
        assert_eq!(lines_of(b"\r"), vec![(&b"\r"[..], false)]);
    }

    #[test]
    fn header_names_match_case_insensitively_and_by_compact_form() {
        assert!(same_header_name(b"v", b"Via"));
        assert!(same_header_name(b"VIA", b"v"));
        assert!(same_header_name(b"I", b"call-id"));
        assert!(same_header_name(b"l", b"Content-Length"));
        assert!(!same_header_name(b"q", b"Via"));
        assert!(!same_header_name(b"To", b"From"));
    }

    #[test]
    fn header_lines_need_a_colon_and_a_token_name() {
        let to = split_header_line(b" To :  <sip:1@x> ").expect("a header");
        assert_eq!(
            (to.name, to.value, to.value_offset),
            (&b"To"[..], &b"<sip:1@x>"[..], 5)
        );
        let subject = split_header_line(b"Subject:").expect("a header");
        assert_eq!((subject.name, subject.value), (&b"Subject"[..], &b""[..]));
        assert_eq!(split_header_line(b"no colon here"), None);
        assert_eq!(split_header_line(b"INVITE sip:1@x SIP/2.0"), None);
        assert_eq!(split_header_line(b": value"), None);
    }

    #[test]
    fn decimals_saturate_and_reject_non_digits() {
        assert_eq!(parse_decimal(b" 129 "), Some(129));
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(
            parse_decimal(b"99999999999999999999999999"),
            Some(usize::MAX)
        );
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"-1"), None);
        assert_eq!(parse_decimal(b"12 34"), None);
    }

    #[test]
    fn trimming_handles_all_whitespace_input() {
        assert_eq!(trim_spaces(b" \t "), b"");
        assert_eq!(trim_whitespace(b"\r\n x \r\n"), b"x");
    }
}
