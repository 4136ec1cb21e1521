//! URI and address helpers: the user part of a SIP/SIPS/TEL URI (the called number) and the
//! parameters of `From`/`To` style address headers. Lenient, zero-copy, never panics.

use memchr::memchr;

use super::syntax::{is_space_or_tab, starts_with_ignore_case, trim_spaces, trim_whitespace};

/// An address header value (`"Name" <sip:user@host>;tag=x` or `sip:user@host;tag=x`) split into
/// its URI and its header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Address<'a> {
    /// The URI, without angle brackets.
    pub(crate) uri: &'a [u8],
    /// Everything after the URI, from its first `;` (header parameters), possibly empty.
    pub(crate) params: &'a [u8],
}

/// Splits an address header value into URI and header parameters.
///
/// With angle brackets the URI is what they enclose (a quoted display name may itself hold `<`);
/// without them the URI ends at the first `;` (RFC 3261 §20: parameters of a bare URI belong to
/// the header) or whitespace.
pub(crate) fn split_address(value: &[u8]) -> Address<'_> {
    let value = trim_whitespace(value);
    let after_display_name = skip_quoted_display_name(value);
    if let Some(open) = memchr(b'<', after_display_name) {
        let inside = after_display_name.get(open + 1..).unwrap_or_default();
        let (uri, params) = match memchr(b'>', inside) {
            Some(close) => (
                inside.get(..close).unwrap_or_default(),
                inside.get(close + 1..).unwrap_or_default(),
            ),
            None => (inside, &b""[..]),
        };
        return Address {
            uri: trim_whitespace(uri),
            params: params_from_semicolon(params),
        };
    }
    let bare = after_display_name;
    let uri_end = bare
        .iter()
        .position(|&byte| byte == b';' || is_space_or_tab(byte) || byte == b'\r' || byte == b'\n')
        .unwrap_or(bare.len());
    let (uri, rest) = bare.split_at(uri_end);
    Address {
        uri,
        params: params_from_semicolon(rest),
    }
}

/// What follows a leading quoted display name (`"a \"b\" <c>"`), or the whole value when it does
/// not start with a quote. An unterminated quote leaves nothing.
fn skip_quoted_display_name(value: &[u8]) -> &[u8] {
    let Some(quoted) = value.strip_prefix(b"\"") else {
        return value;
    };
    let mut escaped = false;
    for (index, &byte) in quoted.iter().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return quoted.get(index + 1..).unwrap_or_default(),
            _ => {}
        }
    }
    &[]
}

/// `rest` from its first `;` on (empty when there is none).
fn params_from_semicolon(rest: &[u8]) -> &[u8] {
    memchr(b';', rest)
        .and_then(|semicolon| rest.get(semicolon..))
        .unwrap_or_default()
}

/// Finds a `;name=value` parameter (name case-insensitive) in a parameter list such as
/// `;tag=abc;x=y`. A parameter without `=` has an empty value. Quoted values are not unquoted.
pub(crate) fn find_param<'a>(params: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    params.split(|&byte| byte == b';').find_map(|param| {
        let (param_name, param_value) = match memchr(b'=', param) {
            Some(equals) => (
                param.get(..equals).unwrap_or_default(),
                param.get(equals + 1..).unwrap_or_default(),
            ),
            None => (param, &b""[..]),
        };
        trim_whitespace(param_name)
            .eq_ignore_ascii_case(name)
            .then(|| trim_whitespace(param_value))
    })
}

/// User part of an address header value (`To`, `From`): see [`user_part_of_uri`].
pub(crate) fn user_part_of_address(value: &[u8]) -> Option<&[u8]> {
    user_part_of_uri(split_address(value).uri)
}

/// User part of a URI, kept verbatim (`+` and leading zeros included).
///
/// - `sip:`/`sips:` (and any other `scheme:user@host` URI): between the scheme's `:` and the
///   first `@`, with a `:password` removed. No `@` means no user.
/// - `tel:`: the number up to `;`, `>` or whitespace.
///
/// `None` when there is no scheme or the user is empty.
pub(crate) fn user_part_of_uri(uri: &[u8]) -> Option<&[u8]> {
    let uri = trim_spaces(uri);
    if starts_with_ignore_case(uri, b"tel:") {
        let number = uri.get(b"tel:".len()..).unwrap_or_default();
        let end = number
            .iter()
            .position(|&byte| byte == b';' || byte == b'>' || byte == b',' || is_space_or_tab(byte))
            .unwrap_or(number.len());
        return non_empty(number.get(..end).unwrap_or_default());
    }
    let colon = memchr(b':', uri)?;
    let scheme = uri.get(..colon)?;
    let scheme_is_valid = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'));
    if !scheme_is_valid {
        return None;
    }
    let after_scheme = uri.get(colon + 1..)?;
    let at = memchr(b'@', after_scheme)?;
    let user_and_password = after_scheme.get(..at)?;
    let user = match memchr(b':', user_and_password) {
        Some(password_colon) => user_and_password.get(..password_colon)?,
        None => user_and_password,
    };
    non_empty(user)
}

fn non_empty(bytes: &[u8]) -> Option<&[u8]> {
    (!bytes.is_empty()).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(value: &str) -> Option<&str> {
        user_part_of_address(value.as_bytes()).map(|user| std::str::from_utf8(user).expect("ascii"))
    }

    #[test]
    fn user_part_from_every_address_form() {
        assert_eq!(user(r#""Name" <sip:100@1.1.1.1>;tag=x"#), Some("100"));
        assert_eq!(user(r#""sipvicious"<sip:100@1.1.1.1>"#), Some("100"));
        assert_eq!(
            user("<sip:1000@127.0.0.1:5060;transport=udp>"),
            Some("1000")
        );
        assert_eq!(user("sip:asterisk@127.0.0.1;tag=x"), Some("asterisk"));
        assert_eq!(user("<sips:alice@example.com>"), Some("alice"));
        assert_eq!(user("SIP:Bob@example.com"), Some("Bob"));
        assert_eq!(user("Alice <sip:alice:secret@example.com>"), Some("alice"));
        assert_eq!(user("<tel:+4412345>"), Some("+4412345"));
        assert_eq!(
            user("tel:+4412345;phone-context=example.com"),
            Some("+4412345")
        );
        assert_eq!(
            user("<sip:+441234567890@203.0.113.10>"),
            Some("+441234567890")
        );
        assert_eq!(user("<sip:00441234567890@h>"), Some("00441234567890"));
        assert_eq!(user(r#""a <b> \"c\"" <sip:999@h>"#), Some("999"));
    }

    #[test]
    fn no_user_part_when_absent_or_empty() {
        assert_eq!(user("<sip:@1.1.1.1>"), None);
        assert_eq!(user("<sip:1.1.1.1>"), None);
        assert_eq!(user("sip:1.1.1.1;tag=a@b"), None);
        assert_eq!(user("<1000@1.1.1.1>"), None);
        assert_eq!(user("<tel:>"), None);
        assert_eq!(user(""), None);
        assert_eq!(user("\"unterminated <sip:1@h>"), None);
        assert_eq!(user("<"), None);
        assert_eq!(user(":@"), None);
    }

    #[test]
    fn request_uri_user_keeps_user_parameters() {
        assert_eq!(user_part_of_uri(b"sip:1000@127.0.0.1"), Some(&b"1000"[..]));
        assert_eq!(
            user_part_of_uri(b"sip:+1650;npdi@h;user=phone"),
            Some(&b"+1650;npdi"[..])
        );
        assert_eq!(user_part_of_uri(b"sip:127.0.0.1"), None);
    }

    #[test]
    fn address_split_and_params() {
        let address = split_address(br#""Bob" <sip:bob@b.example>;tag=a73kszlfl ; x"#);
        assert_eq!(address.uri, b"sip:bob@b.example");
        assert_eq!(find_param(address.params, b"TAG"), Some(&b"a73kszlfl"[..]));
        assert_eq!(find_param(address.params, b"x"), Some(&b""[..]));
        assert_eq!(find_param(address.params, b"y"), None);
        let bare = split_address(b"sip:bob@b.example;tag=1");
        assert_eq!(bare.uri, b"sip:bob@b.example");
        assert_eq!(find_param(bare.params, b"tag"), Some(&b"1"[..]));
        let uri_params = split_address(b"<sip:bob@b.example;tag=1>");
        assert_eq!(find_param(uri_params.params, b"tag"), None);
    }
}
