//! What an event was after and the evidence kept with it: the owned form of
//! [`crate::sip::classify()`]'s result, cut to size for storage, logs and peers.

use crate::sip::digest::{AuthScheme, Authorization, ParamValue};
use crate::sip::{AttackType, Probe, classify, parse};

/// Credentials, `From` user, `Contact` and `P-Asserted-Identity` are recorded up to this many
/// bytes each (cut at a character boundary): real values are far shorter, and the whole message
/// is kept in `sip_message` anyway.
pub const MAX_DETAIL_BYTES: usize = 256;

/// What a message was after ([`crate::sip::classify()`]) and the evidence recorded with it. Text
/// fields are lossy UTF-8, cut at [`MAX_DETAIL_BYTES`]; `None` when the message did not carry
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attack {
    /// The attack type.
    pub attack_type: AttackType,
    /// Credentials from the first non-empty `Authorization` / `Proxy-Authorization` header
    /// (all fields `None` when that header could not be read).
    pub credentials: Option<Credentials>,
    /// User part of the `From` URI.
    pub from_user: Option<String>,
    /// The first `Contact` value, as sent.
    pub contact: Option<String>,
    /// The first `P-Asserted-Identity` value, as sent.
    pub p_asserted_identity: Option<String>,
}

/// Credentials a message carried. Every field is `None` when that parameter was absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `Digest`, `Basic`, another scheme's name as sent, or `None` when the value had none.
    pub scheme: Option<String>,
    /// The account tried: Digest `username`, or the user a Basic token decodes to.
    pub username: Option<String>,
    /// Digest `realm`.
    pub realm: Option<String>,
    /// Digest `nonce`.
    pub nonce: Option<String>,
    /// Digest `uri`.
    pub uri: Option<String>,
    /// Digest `response` (the hashed guess), or a Basic token as sent (base64 of
    /// `user:password`).
    pub response: Option<String>,
    /// Digest `algorithm`.
    pub algorithm: Option<String>,
    /// Digest `qop`.
    pub qop: Option<String>,
    /// Digest `cnonce`.
    pub cnonce: Option<String>,
    /// Digest `nc`.
    pub nc: Option<String>,
}

impl Attack {
    /// Classifies a parsed message and keeps its evidence.
    pub fn from_probe(probe: &Probe<'_>) -> Self {
        let found = classify(probe);
        let credentials = found.has_credentials.then(|| {
            found
                .authorization
                .map(|parsed| Credentials::from_authorization(&parsed))
                .unwrap_or_default()
        });
        Self {
            attack_type: found.attack_type,
            credentials,
            from_user: found.from_user.map(detail),
            contact: found.contact.map(detail),
            p_asserted_identity: found.p_asserted_identity.map(detail),
        }
    }

    /// Parses and classifies raw message bytes (for records that carry only the message).
    pub fn from_message(message: &[u8]) -> Self {
        Self::from_probe(&parse(message))
    }
}

impl Credentials {
    /// The recorded form of parsed credentials.
    fn from_authorization(parsed: &Authorization<'_>) -> Self {
        let param = |value: Option<ParamValue<'_>>| value.map(|value| detail(&value.unescaped()));
        let basic_user = parsed.basic_credentials().map(|(user, _)| detail(&user));
        Self {
            scheme: match parsed.scheme_kind() {
                AuthScheme::Digest => Some("Digest".to_owned()),
                AuthScheme::Basic => Some("Basic".to_owned()),
                AuthScheme::Other if parsed.scheme.is_empty() => None,
                AuthScheme::Other => Some(detail(parsed.scheme)),
            },
            username: basic_user.or_else(|| param(parsed.username)),
            realm: param(parsed.realm),
            nonce: param(parsed.nonce),
            uri: param(parsed.uri),
            response: parsed.token.map(detail).or_else(|| param(parsed.response)),
            algorithm: param(parsed.algorithm),
            qop: param(parsed.qop),
            cnonce: param(parsed.cnonce),
            nc: param(parsed.nc),
        }
    }
}

/// Attacker bytes as recorded text: lossy UTF-8, at most [`MAX_DETAIL_BYTES`] bytes.
fn detail(bytes: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if text.len() > MAX_DETAIL_BYTES {
        let mut cut = MAX_DETAIL_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests;
