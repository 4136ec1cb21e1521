//! What a message was after: one [`AttackType`] per message, decided from the parsed [`Probe`],
//! with the evidence recorded next to it (credentials, caller identity, exploit signs). Pure and
//! zero-copy; never panics.
//!
//! # Rules (the first that matches wins)
//!
//! | # | Attack type | When |
//! |---|---|---|
//! | 1 | `malformed` | the message is empty (or only CR/LF), is not a SIP request or response (garbage, another protocol, a bad start line), or looks like an exploit (see below) |
//! | 2 | `other` | a SIP response |
//! | 3 | `call_attempt` | an `INVITE`, with or without credentials: toll fraud |
//! | 4 | `password_cracking` | any other request with a non-empty `Authorization` or `Proxy-Authorization` header |
//! | 5 | `extension_enumeration` | `REGISTER` or `SUBSCRIBE` without credentials: probing which extensions exist |
//! | 6 | `other` | `ACK`, `BYE`, `CANCEL`, `PRACK`, `UPDATE`, `INFO`, `NOTIFY`: continuing a dialog or transaction |
//! | 7 | `scan` | `OPTIONS`, and every other method (`MESSAGE`, `PUBLISH`, `REFER`, unknown ones): discovery |
//!
//! Methods are compared ignoring case. A message *looks like an exploit* when its Request-URI
//! or any header value holds:
//!
//! - a control byte (below 0x20 other than tab, CR and LF, or 0x7F);
//! - more bytes than is plausible ([`MAX_REQUEST_URI_BYTES`], [`MAX_HEADER_VALUE_BYTES`]);
//! - one of the [`EXPLOIT_PATTERNS`] (ASCII case ignored): SQL injection (`' or `, `union
//!   select`, `sleep(`, ...), shell injection (`$(`, `${`, a backtick, `/bin/sh`, ...), path
//!   traversal (`../`, `%2e%2e`), script injection (`<script`, `javascript:`), or repeated
//!   printf conversions (`%s%s`, `%n%n`, `%x%x`).
//!
//! The evidence (credentials, `From` user, `Contact`, `P-Asserted-Identity`) is read from the
//! headers whatever the attack type, so a malformed REGISTER still yields its username.

use std::fmt;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};

use super::digest::{Authorization, parse_authorization};
use super::parse::{MessageKind, Probe};
use super::syntax::trim_whitespace;
use super::uri::user_part_of_address;

/// What a message was after. The names are stored and filtered on; the order of
/// [`AttackType::ALL`] fixes each type's bit in [`AttackType::bit`], which is stored too:
/// never reorder, only append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AttackType {
    /// Discovery: `OPTIONS` and other methods that only ask what is there.
    Scan,
    /// `REGISTER` or `SUBSCRIBE` without credentials: which extensions exist.
    ExtensionEnumeration,
    /// A request (other than `INVITE`) carrying credentials: guessing passwords.
    PasswordCracking,
    /// An `INVITE`: trying to place a call (toll fraud).
    CallAttempt,
    /// Empty, unparsable or exploit-looking.
    Malformed,
    /// Responses and in-dialog requests (`ACK`, `BYE`, `CANCEL`, ...).
    #[default]
    Other,
}

impl AttackType {
    /// Every type, in bit order.
    pub const ALL: [Self; 6] = [
        Self::Scan,
        Self::ExtensionEnumeration,
        Self::PasswordCracking,
        Self::CallAttempt,
        Self::Malformed,
        Self::Other,
    ];

    /// The stored name: `scan`, `extension_enumeration`, `password_cracking`, `call_attempt`,
    /// `malformed`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scan => "scan",
            Self::ExtensionEnumeration => "extension_enumeration",
            Self::PasswordCracking => "password_cracking",
            Self::CallAttempt => "call_attempt",
            Self::Malformed => "malformed",
            Self::Other => "other",
        }
    }

    /// The type named `name`, as [`AttackType::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|attack_type| attack_type.as_str() == name)
    }

    /// Position in [`AttackType::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// This type's bit in a set of types (`1 << index`): `scan` 1, `extension_enumeration` 2,
    /// `password_cracking` 4, `call_attempt` 8, `malformed` 16, `other` 32.
    pub fn bit(self) -> u8 {
        1 << self.index()
    }

    /// The types whose bits are set in `bits`, in [`AttackType::ALL`] order.
    pub fn in_bits(bits: u8) -> impl Iterator<Item = Self> {
        Self::ALL
            .into_iter()
            .filter(move |attack_type| bits & attack_type.bit() != 0)
    }
}

impl fmt::Display for AttackType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message looks like an exploit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExploitSign {
    /// A control byte other than tab, CR, LF.
    ControlByte,
    /// A Request-URI or header value longer than is plausible.
    Overlong,
    /// An SQL injection pattern.
    SqlInjection,
    /// A shell command injection pattern.
    ShellInjection,
    /// A path traversal pattern.
    PathTraversal,
    /// A script (XSS) injection pattern, aimed at whoever views the data.
    ScriptInjection,
    /// Repeated printf conversions (format string attacks).
    FormatString,
}

impl ExploitSign {
    /// Lower-case name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ControlByte => "control_byte",
            Self::Overlong => "overlong",
            Self::SqlInjection => "sql_injection",
            Self::ShellInjection => "shell_injection",
            Self::PathTraversal => "path_traversal",
            Self::ScriptInjection => "script_injection",
            Self::FormatString => "format_string",
        }
    }
}

/// Longest Request-URI taken for real (real ones are well under 200 bytes; overflow attempts
/// send thousands).
pub const MAX_REQUEST_URI_BYTES: usize = 1024;

/// Longest header value taken for real (the longest real ones, `Identity` with its PASSporT or
/// a `Via` listing many hops, stay well under it).
pub const MAX_HEADER_VALUE_BYTES: usize = 4096;

/// The byte patterns that make a message look like an exploit, matched ignoring ASCII case.
pub const EXPLOIT_PATTERNS: [(&str, ExploitSign); 31] = [
    ("' or ", ExploitSign::SqlInjection),
    ("'or'", ExploitSign::SqlInjection),
    ("' and ", ExploitSign::SqlInjection),
    ("'--", ExploitSign::SqlInjection),
    ("' --", ExploitSign::SqlInjection),
    ("';", ExploitSign::SqlInjection),
    (" or 1=1", ExploitSign::SqlInjection),
    ("union select", ExploitSign::SqlInjection),
    ("union all select", ExploitSign::SqlInjection),
    ("sleep(", ExploitSign::SqlInjection),
    ("benchmark(", ExploitSign::SqlInjection),
    ("waitfor delay", ExploitSign::SqlInjection),
    ("xp_cmdshell", ExploitSign::SqlInjection),
    ("information_schema", ExploitSign::SqlInjection),
    ("drop table", ExploitSign::SqlInjection),
    ("$(", ExploitSign::ShellInjection),
    ("${", ExploitSign::ShellInjection),
    ("`", ExploitSign::ShellInjection),
    ("/bin/sh", ExploitSign::ShellInjection),
    ("/bin/bash", ExploitSign::ShellInjection),
    ("/bin/busybox", ExploitSign::ShellInjection),
    ("../", ExploitSign::PathTraversal),
    ("..\\", ExploitSign::PathTraversal),
    ("%2e%2e", ExploitSign::PathTraversal),
    ("<script", ExploitSign::ScriptInjection),
    ("javascript:", ExploitSign::ScriptInjection),
    ("onerror=", ExploitSign::ScriptInjection),
    ("%s%s", ExploitSign::FormatString),
    ("%n%n", ExploitSign::FormatString),
    ("%x%x", ExploitSign::FormatString),
    ("%p%p", ExploitSign::FormatString),
];

/// One automaton over every [`EXPLOIT_PATTERNS`] entry (built on first use). `None` only if the
/// build failed, which a unit test rules out; the rules then fall back to the byte checks.
static EXPLOIT_MATCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .build(EXPLOIT_PATTERNS.iter().map(|(pattern, _)| pattern))
        .ok()
});

/// Methods that continue a dialog or transaction rather than start anything.
const IN_DIALOG_METHODS: [&str; 7] = ["ACK", "BYE", "CANCEL", "PRACK", "UPDATE", "INFO", "NOTIFY"];

/// Methods that probe which extensions exist.
const ENUMERATION_METHODS: [&str; 2] = ["REGISTER", "SUBSCRIBE"];

/// The attack type of a message and the evidence read from it. Borrows the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification<'a> {
    /// What the message was after (see the module docs for the rules).
    pub attack_type: AttackType,
    /// Why it looks like an exploit, when it does.
    pub exploit: Option<ExploitSign>,
    /// Whether it has a non-empty `Authorization` or `Proxy-Authorization` header.
    pub has_credentials: bool,
    /// The first such header's credentials, when they could be read.
    pub authorization: Option<Authorization<'a>>,
    /// User part of the `From` URI.
    pub from_user: Option<&'a [u8]>,
    /// The first `Contact` value, as sent.
    pub contact: Option<&'a [u8]>,
    /// The first `P-Asserted-Identity` value, as sent.
    pub p_asserted_identity: Option<&'a [u8]>,
}

/// Classifies one parsed message (see the module docs for the rules).
///
/// ```
/// use sentrypeer::sip::{AttackType, classify, parse};
///
/// let probe = parse(b"REGISTER sip:192.0.2.1 SIP/2.0\r\nFrom: <sip:100@192.0.2.1>;tag=1\r\n\
///     Authorization: Digest username=\"100\", realm=\"asterisk\", response=\"0f\"\r\n\r\n");
/// let found = classify(&probe);
/// assert_eq!(found.attack_type, AttackType::PasswordCracking);
/// assert_eq!(found.from_user, Some(&b"100"[..]));
/// let username = found.authorization.and_then(|credentials| credentials.username);
/// assert_eq!(username.map(|user| user.raw), Some(&b"100"[..]));
/// assert_eq!(classify(&parse(b"OPTIONS sip:100@x SIP/2.0\r\n\r\n")).attack_type, AttackType::Scan);
/// ```
pub fn classify<'a>(probe: &Probe<'a>) -> Classification<'a> {
    let credentials_value = probe
        .headers
        .iter()
        .filter(|header| header.has_name("Authorization") || header.has_name("Proxy-Authorization"))
        .map(|header| trim_whitespace(header.value))
        .find(|value| !value.is_empty());
    let exploit = exploit_sign(probe);
    let has_credentials = credentials_value.is_some();
    Classification {
        attack_type: attack_type(probe, exploit.is_some(), has_credentials),
        exploit,
        has_credentials,
        authorization: credentials_value.and_then(parse_authorization),
        from_user: probe.from().and_then(user_part_of_address),
        contact: non_empty(probe.header("Contact")),
        p_asserted_identity: non_empty(probe.header("P-Asserted-Identity")),
    }
}

/// Rules 1 to 7 of the module docs.
fn attack_type(probe: &Probe<'_>, looks_like_exploit: bool, has_credentials: bool) -> AttackType {
    let method = match probe.kind {
        MessageKind::Empty | MessageKind::Malformed => return AttackType::Malformed,
        _ if looks_like_exploit => return AttackType::Malformed,
        MessageKind::Response => return AttackType::Other,
        MessageKind::Request => probe.method.unwrap_or_default(),
    };
    let is_one_of = |methods: &[&str]| {
        methods
            .iter()
            .any(|known| known.eq_ignore_ascii_case(method))
    };
    if method.eq_ignore_ascii_case("INVITE") {
        AttackType::CallAttempt
    } else if has_credentials {
        AttackType::PasswordCracking
    } else if is_one_of(&ENUMERATION_METHODS) {
        AttackType::ExtensionEnumeration
    } else if is_one_of(&IN_DIALOG_METHODS) {
        AttackType::Other
    } else {
        AttackType::Scan
    }
}

/// The first exploit sign in the Request-URI or a header value.
///
/// Every field is a slice of the message, so when the whole message holds no control byte and
/// no pattern, no field does, and only a field's length can be a sign: one scan of the message
/// then replaces one automaton search per field (those were ~8% of the UDP listener's time
/// under a flood). Otherwise the fields are checked one by one, in order.
pub fn exploit_sign(probe: &Probe<'_>) -> Option<ExploitSign> {
    let clean = !probe.raw.iter().any(|&byte| is_control_byte(byte))
        && EXPLOIT_MATCHER
            .as_ref()
            .is_none_or(|matcher| matcher.find(probe.raw).is_none());
    if clean {
        return sign_fields(probe).find_map(|(field, max_bytes)| {
            (field.len() > max_bytes).then_some(ExploitSign::Overlong)
        });
    }
    sign_fields(probe).find_map(|(field, max_bytes)| field_sign(field, max_bytes))
}

/// The fields exploit signs are looked for in, in order, each with its longest plausible size.
fn sign_fields<'p>(probe: &'p Probe<'_>) -> impl Iterator<Item = (&'p [u8], usize)> {
    let request_uri = probe.request_uri.map(|uri| (uri, MAX_REQUEST_URI_BYTES));
    let header_values = probe
        .headers
        .iter()
        .map(|header| (header.value, MAX_HEADER_VALUE_BYTES));
    request_uri.into_iter().chain(header_values)
}

/// The exploit sign in one field, if any.
fn field_sign(field: &[u8], max_bytes: usize) -> Option<ExploitSign> {
    if field.len() > max_bytes {
        return Some(ExploitSign::Overlong);
    }
    if field.iter().any(|&byte| is_control_byte(byte)) {
        return Some(ExploitSign::ControlByte);
    }
    let matcher = EXPLOIT_MATCHER.as_ref()?;
    let found = matcher.find(field)?;
    EXPLOIT_PATTERNS
        .get(found.pattern().as_usize())
        .map(|(_, sign)| *sign)
}

/// A control byte that has no business in a SIP field (tab, CR and LF are allowed: folded
/// header values keep their line breaks).
fn is_control_byte(byte: u8) -> bool {
    (byte < 0x20 && !matches!(byte, b'\t' | b'\r' | b'\n')) || byte == 0x7f
}

/// A header value, unless it is empty.
fn non_empty(value: Option<&[u8]>) -> Option<&[u8]> {
    value.filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests;
