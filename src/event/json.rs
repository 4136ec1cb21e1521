//! The event's JSON form, as the JSON log writes it and the webhook posts it: the original's 13
//! keys in the original order, all strings, then the keys this program adds.

use serde::Serialize;

use super::{APP_NAME, APP_VERSION, BadActor, Credentials, Origin};

impl BadActor {
    /// The JSON log / webhook object: the original's 13 keys in the original order, all strings,
    /// then `origin` for events received from peers, `attack_type`, and the credential and
    /// caller-identity keys the message carried (absent ones are left out, so every value stays
    /// a string). `source_ip` and `destination_ip` are `IP:port` (`[v6]:port`), as T-Pot parses
    /// them.
    pub fn to_json(&self) -> EventJson<'_> {
        let credentials = self.attack.credentials.as_ref();
        let credential = |field: fn(&Credentials) -> &Option<String>| {
            credentials.and_then(|credentials| field(credentials).as_deref())
        };
        EventJson {
            app_name: APP_NAME,
            app_version: APP_VERSION,
            event_timestamp: self.timestamp_text(),
            event_uuid: self.event_uuid.hyphenated().to_string(),
            created_by_node_id: self.created_by_node_id.hyphenated().to_string(),
            collected_method: self.collected_method.as_str(),
            transport_type: self.transport.as_str(),
            source_ip: self.source.to_string(),
            destination_ip: self.destination.to_string(),
            called_number: &self.called_number,
            sip_method: &self.sip_method,
            sip_user_agent: &self.sip_user_agent,
            sip_message: &self.sip_message,
            origin: match &self.origin {
                Origin::Local => None,
                Origin::Peer(_) | Origin::OpenDht => Some(self.origin.to_column().into_owned()),
            },
            attack_type: self.attack.attack_type.as_str(),
            auth_scheme: credential(|c| &c.scheme),
            auth_username: credential(|c| &c.username),
            auth_realm: credential(|c| &c.realm),
            auth_nonce: credential(|c| &c.nonce),
            auth_uri: credential(|c| &c.uri),
            auth_response: credential(|c| &c.response),
            auth_algorithm: credential(|c| &c.algorithm),
            auth_qop: credential(|c| &c.qop),
            auth_cnonce: credential(|c| &c.cnonce),
            auth_nc: credential(|c| &c.nc),
            from_user: self.attack.from_user.as_deref(),
            contact: self.attack.contact.as_deref(),
            p_asserted_identity: self.attack.p_asserted_identity.as_deref(),
            sip_message_cut: None,
        }
    }

    /// One compact JSON line (no trailing newline), at most [`MAX_JSON_LINE_BYTES`]: when the
    /// escaped `sip_message` would make it longer (control bytes take 6 bytes each in JSON), the
    /// message is cut to fit, on a character boundary, and `"sip_message_cut": "true"` says so.
    pub fn to_json_line(&self) -> String {
        let mut json = self.to_json();
        let line = serialize(&json);
        if line.len() <= MAX_JSON_LINE_BYTES {
            return line;
        }
        let others = line.len() - escaped_len(&self.sip_message);
        let room = MAX_JSON_LINE_BYTES.saturating_sub(others + CUT_KEY_BYTES);
        json.sip_message = cut_to_escaped_len(&self.sip_message, room);
        json.sip_message_cut = Some("true");
        serialize(&json)
    }
}

/// Longest JSON log line: a 64 KiB message of printable text fits whole, one of control bytes
/// (6 bytes each once escaped) is cut.
pub const MAX_JSON_LINE_BYTES: usize = 128 * 1024;

/// What `,"sip_message_cut":"true"` adds to a line.
const CUT_KEY_BYTES: usize = 25;

/// Serialising a struct of strings cannot fail; an empty object rather than a panic should
/// serde_json ever disagree.
fn serialize(json: &EventJson<'_>) -> String {
    serde_json::to_string(json).unwrap_or_else(|_| String::from("{}"))
}

/// Bytes `c` takes inside a JSON string as serde_json writes it.
fn escaped_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
        c if u32::from(c) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// Bytes `text` takes inside a JSON string.
fn escaped_len(text: &str) -> usize {
    text.chars().map(escaped_char_len).sum()
}

/// The longest prefix of `text` that takes at most `room` bytes inside a JSON string.
fn cut_to_escaped_len(text: &str, room: usize) -> &str {
    let mut used = 0;
    for (index, c) in text.char_indices() {
        used += escaped_char_len(c);
        if used > room {
            return &text[..index];
        }
    }
    text
}

/// The original's 13 JSON keys, in its order: the first keys of every [`EventJson`] (the JSON
/// log, the webhook, T-Pot's dashboard read them in this order).
pub const ORIGINAL_JSON_KEYS: [&str; 13] = [
    "app_name",
    "app_version",
    "event_timestamp",
    "event_uuid",
    "created_by_node_id",
    "collected_method",
    "transport_type",
    "source_ip",
    "destination_ip",
    "called_number",
    "sip_method",
    "sip_user_agent",
    "sip_message",
];

/// The JSON form of an event, keys in the original (C/jansson) order ([`ORIGINAL_JSON_KEYS`]).
#[derive(Debug, Serialize)]
pub struct EventJson<'a> {
    /// Always `sentrypeer`.
    pub app_name: &'a str,
    /// Version of the capturing program.
    pub app_version: &'a str,
    /// UTC, nanoseconds, see [`format_timestamp`](super::format_timestamp).
    pub event_timestamp: String,
    /// Lower-case hyphenated UUID.
    pub event_uuid: String,
    /// Lower-case hyphenated UUID of the capturing node.
    pub created_by_node_id: String,
    /// `passive` or `responsive`.
    pub collected_method: &'a str,
    /// `UDP`, `TCP` or `TLS`.
    pub transport_type: &'a str,
    /// `IP:port`.
    pub source_ip: String,
    /// `IP:port`.
    pub destination_ip: String,
    /// User part of the `To` URI.
    pub called_number: &'a str,
    /// Request method.
    pub sip_method: &'a str,
    /// `User-Agent` value.
    pub sip_user_agent: &'a str,
    /// The raw message.
    pub sip_message: &'a str,
    /// Only for events received from a peer (`peer:<PeerId>`) or the OpenDHT bridge
    /// (`opendht`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// What the message was after (`scan`, `extension_enumeration`, `password_cracking`,
    /// `call_attempt`, `malformed`, `other`); always present.
    pub attack_type: &'a str,
    /// Scheme of the credentials (`Digest`, `Basic`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_scheme: Option<&'a str>,
    /// Account tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<&'a str>,
    /// Digest `realm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_realm: Option<&'a str>,
    /// Digest `nonce`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_nonce: Option<&'a str>,
    /// Digest `uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_uri: Option<&'a str>,
    /// Digest `response`, or the Basic token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_response: Option<&'a str>,
    /// Digest `algorithm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_algorithm: Option<&'a str>,
    /// Digest `qop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_qop: Option<&'a str>,
    /// Digest `cnonce`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_cnonce: Option<&'a str>,
    /// Digest `nc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_nc: Option<&'a str>,
    /// User part of the `From` URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_user: Option<&'a str>,
    /// The `Contact` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<&'a str>,
    /// The `P-Asserted-Identity` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_asserted_identity: Option<&'a str>,
    /// `"true"` when the JSON log line cut `sip_message` to stay within
    /// [`MAX_JSON_LINE_BYTES`]; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_message_cut: Option<&'a str>,
}
