//! `Authorization` and `Proxy-Authorization` header values (RFC 3261 §22.4 and §25.1, RFC 7616
//! Digest, RFC 7617 Basic) read into [`Authorization`]: lenient, zero-copy, never panics.
//!
//! ```text
//! Digest username="100", realm="asterisk", nonce="5f1a", uri="sip:203.0.113.1",
//!        response="6629fae49393a05397450978507c4ef1", algorithm=MD5, qop=auth,
//!        nc=00000001, cnonce="0a4f113b", opaque="5ccc069c"
//! Basic MTAwOnNlY3JldA==
//! ```
//!
//! Leniency: parameter names are matched ignoring case; values may be quoted (with `\"` and `\\`
//! escapes) or bare; spaces and tabs may surround `=` and `,`; empty list elements, parameters
//! without a value and bytes that cannot start a parameter are skipped; an unterminated quoted
//! value runs to the end. The first occurrence of a parameter wins.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memchr::memchr;

use super::syntax::{is_token_byte, is_whitespace, trim_whitespace};

/// The authentication scheme of a credentials value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Digest` (RFC 7616), what SIP uses.
    Digest,
    /// `Basic` (RFC 7617): base64 of `user:password`.
    Basic,
    /// Any other scheme, or none.
    Other,
}

/// One parameter value as sent: the token, or what is between the quotes of a quoted string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamValue<'a> {
    /// The bytes as received (escapes of a quoted string still in place).
    pub raw: &'a [u8],
    /// Whether the value was a quoted string.
    pub quoted: bool,
}

impl<'a> ParamValue<'a> {
    /// The value with the quoted-pair escapes of a quoted string (`\"`, `\\`) resolved.
    pub fn unescaped(&self) -> Cow<'a, [u8]> {
        if !self.quoted || memchr(b'\\', self.raw).is_none() {
            return Cow::Borrowed(self.raw);
        }
        let mut unescaped = Vec::with_capacity(self.raw.len());
        let mut bytes = self.raw.iter();
        while let Some(&byte) = bytes.next() {
            if byte == b'\\' {
                unescaped.extend(bytes.next());
            } else {
                unescaped.push(byte);
            }
        }
        Cow::Owned(unescaped)
    }

    /// [`ParamValue::unescaped`] as text (invalid UTF-8 replaced).
    pub fn to_text(&self) -> Cow<'a, str> {
        match self.unescaped() {
            Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }
}

/// The credentials of one `Authorization` or `Proxy-Authorization` value. Borrows the message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The scheme token as sent (`Digest`, `digest`, `Basic`, ...); empty when the value starts
    /// straight with a parameter.
    pub scheme: &'a [u8],
    /// `username`: the extension or account tried.
    pub username: Option<ParamValue<'a>>,
    /// `realm`.
    pub realm: Option<ParamValue<'a>>,
    /// `nonce`: the server's challenge being answered.
    pub nonce: Option<ParamValue<'a>>,
    /// `uri`: the digest URI.
    pub uri: Option<ParamValue<'a>>,
    /// `response`: the digest of the password guess.
    pub response: Option<ParamValue<'a>>,
    /// `algorithm` (`MD5`, `MD5-sess`, `SHA-256`, ...).
    pub algorithm: Option<ParamValue<'a>>,
    /// `cnonce`: the client's nonce.
    pub cnonce: Option<ParamValue<'a>>,
    /// `nc`: the nonce count.
    pub nc: Option<ParamValue<'a>>,
    /// `qop`: the quality of protection chosen.
    pub qop: Option<ParamValue<'a>>,
    /// `opaque`: echoed from the challenge.
    pub opaque: Option<ParamValue<'a>>,
    /// For `Basic`: the token (base64 of `user:password`) as sent.
    pub token: Option<&'a [u8]>,
}

/// Parameter names [`parse_authorization`] keeps, in the order of [`Authorization::slot`].
const PARAM_NAMES: [&str; 10] = [
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "cnonce",
    "nc",
    "qop",
    "opaque",
];

impl<'a> Authorization<'a> {
    /// Which scheme this is (`Digest` and `Basic` matched ignoring case).
    pub fn scheme_kind(&self) -> AuthScheme {
        if self.scheme.eq_ignore_ascii_case(b"Digest") {
            AuthScheme::Digest
        } else if self.scheme.eq_ignore_ascii_case(b"Basic") {
            AuthScheme::Basic
        } else {
            AuthScheme::Other
        }
    }

    /// For `Basic`: the user and password the token decodes to (`None` when it is not base64 of
    /// `user:password`).
    pub fn basic_credentials(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let decoded = STANDARD.decode(self.token?).ok()?;
        let colon = memchr(b':', &decoded)?;
        let password = decoded.get(colon + 1..)?.to_vec();
        let mut user = decoded;
        user.truncate(colon);
        Some((user, password))
    }

    /// Whether any parameter this type keeps was found.
    fn has_params(&self) -> bool {
        [
            self.username,
            self.realm,
            self.nonce,
            self.uri,
            self.response,
            self.algorithm,
            self.cnonce,
            self.nc,
            self.qop,
            self.opaque,
        ]
        .iter()
        .any(Option::is_some)
    }

    /// The field a parameter name (already known to be one of [`PARAM_NAMES`]) goes to.
    fn slot(&mut self, index: usize) -> Option<&mut Option<ParamValue<'a>>> {
        Some(match index {
            0 => &mut self.username,
            1 => &mut self.realm,
            2 => &mut self.nonce,
            3 => &mut self.uri,
            4 => &mut self.response,
            5 => &mut self.algorithm,
            6 => &mut self.cnonce,
            7 => &mut self.nc,
            8 => &mut self.qop,
            9 => &mut self.opaque,
            _ => return None,
        })
    }

    /// Keeps `value` for `name` unless that parameter was already given.
    fn keep(&mut self, name: &[u8], value: ParamValue<'a>) {
        let Some(index) = PARAM_NAMES
            .iter()
            .position(|known| known.as_bytes().eq_ignore_ascii_case(name))
        else {
            return;
        };
        if let Some(slot) = self.slot(index)
            && slot.is_none()
        {
            *slot = Some(value);
        }
    }
}

/// Reads an `Authorization` / `Proxy-Authorization` value. `None` when it is empty or holds
/// neither a scheme nor a parameter.
///
/// ```
/// use sentrypeer::sip::digest::{AuthScheme, parse_authorization};
///
/// let value = br#"Digest username="100",realm="asterisk",nonce="00000001",uri="sip:127.0.0.1",algorithm=MD5,response="321dcfbd02c4763dba804cf7dbfef882""#;
/// let credentials = parse_authorization(value).expect("credentials");
/// assert_eq!(credentials.scheme_kind(), AuthScheme::Digest);
/// assert_eq!(credentials.username.map(|user| user.raw), Some(&b"100"[..]));
/// assert_eq!(credentials.algorithm.map(|algorithm| algorithm.raw), Some(&b"MD5"[..]));
/// ```
pub fn parse_authorization(value: &[u8]) -> Option<Authorization<'_>> {
    let value = trim_whitespace(value);
    if value.is_empty() {
        return None;
    }
    let scheme_end = value
        .iter()
        .position(|&byte| !is_token_byte(byte))
        .unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    let mut credentials = Authorization::default();
    // `username="x", ...` with no scheme: the first token is a parameter name, not a scheme.
    let starts_with_parameter = rest.get(skip_whitespace(rest, 0)) == Some(&b'=');
    if scheme.is_empty() || starts_with_parameter {
        read_params(value, &mut credentials);
        return credentials.has_params().then_some(credentials);
    }
    credentials.scheme = scheme;
    if credentials.scheme_kind() == AuthScheme::Basic {
        let token = trim_whitespace(rest);
        let end = token
            .iter()
            .position(|&byte| is_whitespace(byte) || byte == b',')
            .unwrap_or(token.len());
        credentials.token = token.get(..end).filter(|token| !token.is_empty());
    } else {
        read_params(rest, &mut credentials);
    }
    Some(credentials)
}

/// Reads a comma-separated `name=value` list into `credentials`.
fn read_params<'a>(list: &'a [u8], credentials: &mut Authorization<'a>) {
    let mut at = 0;
    while at < list.len() {
        at = skip_separators(list, at);
        let name_start = at;
        while list.get(at).is_some_and(|&byte| is_token_byte(byte)) {
            at += 1;
        }
        let name = list.get(name_start..at).unwrap_or_default();
        if name.is_empty() {
            // A byte that cannot start a parameter (or the end): skip to the next element.
            at = next_comma(list, at.saturating_add(1));
            continue;
        }
        at = skip_whitespace(list, at);
        if list.get(at) != Some(&b'=') {
            at = next_comma(list, at);
            continue;
        }
        at = skip_whitespace(list, at + 1);
        let value = if list.get(at) == Some(&b'"') {
            let (raw, after) = quoted_string(list, at + 1);
            at = next_comma(list, after);
            ParamValue { raw, quoted: true }
        } else {
            let end = next_comma(list, at);
            let raw = trim_whitespace(list.get(at..end).unwrap_or_default());
            at = end;
            ParamValue { raw, quoted: false }
        };
        credentials.keep(name, value);
    }
}

/// The inside of a quoted string starting at `start` (just past its opening quote), and the
/// offset just past its closing quote (the end of `list` when unterminated).
fn quoted_string(list: &[u8], start: usize) -> (&[u8], usize) {
    let mut escaped = false;
    let mut at = start;
    while let Some(&byte) = list.get(at) {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return (list.get(start..at).unwrap_or_default(), at + 1),
            _ => {}
        }
        at += 1;
    }
    (list.get(start..).unwrap_or_default(), list.len())
}

/// Offset of the next `,` at or after `from`, or the end of `list`.
fn next_comma(list: &[u8], from: usize) -> usize {
    list.get(from..)
        .and_then(|rest| memchr(b',', rest))
        .map_or(list.len(), |offset| from + offset)
}

/// First offset at or after `from` that is not whitespace.
fn skip_whitespace(list: &[u8], from: usize) -> usize {
    let mut at = from;
    while list.get(at).is_some_and(|&byte| is_whitespace(byte)) {
        at += 1;
    }
    at
}

/// First offset at or after `from` that is neither whitespace nor a comma.
fn skip_separators(list: &[u8], from: usize) -> usize {
    let mut at = from;
    while list
        .get(at)
        .is_some_and(|&byte| is_whitespace(byte) || byte == b',')
    {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests;
