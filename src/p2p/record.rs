//! Signing this node's events into records and the checks every record from the network goes
//! through before it may be stored (the wire forms and their limits are in `protocol`).

use std::net::SocketAddr;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey};
use uuid::Uuid;

use super::protocol::{
    ED25519_SIGNATURE_HEX_CHARS, MAX_CLOCK_SKEW, MAX_FIELD_BYTES, MAX_SIGNATURE_HEX_CHARS,
    PROTOCOL_VERSION, RecordBody, json_string_len,
};
use crate::event::{
    APP_NAME, BadActor, CollectedMethod, Credentials, Origin, PeerOrigin, Transport,
    format_timestamp, parse_timestamp,
};
use crate::sip::MessageKind;

// The signed record and its size limits are named here too, where tools, tests and the fuzz
// target have always found them.
pub use super::protocol::SignedRecord;
pub(crate) use super::protocol::{MAX_RECORD_BYTES, MAX_SHARED_MESSAGE_BYTES};

/// Why a record from the network was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Bigger than [`MAX_RECORD_BYTES`].
    #[error("record too large ({0} bytes)")]
    TooLarge(usize),
    /// Not the JSON shape of a record.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// Another format version.
    #[error("unsupported record version {0}")]
    Version(u8),
    /// From another `--p2p-network`.
    #[error("record of another network")]
    OtherNetwork,
    /// The PeerId is not one whose public key can be recovered (not ed25519).
    #[error("record's peer id carries no usable public key")]
    UnknownKey,
    /// The signature does not match the body and the claimed node.
    #[error("bad signature")]
    BadSignature,
    /// A field is missing its format (UUID, timestamp, address, transport...).
    #[error("invalid field {0}")]
    InvalidField(&'static str),
    /// Older than the retention window or in the future.
    #[error("timestamp outside the accepted window")]
    OutOfWindow,
}

impl SignedRecord {
    /// Signs a locally captured event. Its message is cut to [`MAX_SHARED_MESSAGE_BYTES`] and
    /// its other texts to [`MAX_FIELD_BYTES`], then the message further until the record fits
    /// [`MAX_RECORD_BYTES`] (quotes and line breaks take up to four bytes each once the body is
    /// escaped inside the record), so peers never refuse a record of ours for its size.
    ///
    /// # Errors
    /// [`RecordError::TooLarge`] when the record does not fit even without its message (its
    /// other texts are full of characters that escaping doubles).
    pub fn sign(event: &BadActor, network: &str, key: &Keypair) -> Result<Self, RecordError> {
        let mut body = RecordBody::from_event(event, network, &key.public().to_peer_id());
        let body = loop {
            let text = serde_json::to_string(&body)
                .map_err(|error| RecordError::Malformed(error.to_string()))?;
            let size = signed_record_len(&text);
            if size <= MAX_RECORD_BYTES {
                break text;
            }
            if body.sip_message.is_empty() {
                return Err(RecordError::TooLarge(size));
            }
            shorten(&mut body.sip_message, size - MAX_RECORD_BYTES);
        };
        let signature = key
            .sign(body.as_bytes())
            .map_err(|_| RecordError::BadSignature)?;
        Ok(Self {
            body,
            signature: hex::encode(signature),
        })
    }

    /// The record as one compact JSON text (what catch-up stores and sends).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks a record from the network and turns it into an event to store: size, shape,
    /// version, network, signature by the node it names, fields, and a timestamp no older than
    /// `retention` (when not zero) and not in the future.
    ///
    /// # Errors
    /// The first check that failed.
    pub fn verify(
        text: &str,
        network: &str,
        retention: Option<SignedDuration>,
        now: Timestamp,
    ) -> Result<(PeerId, BadActor), RecordError> {
        if text.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge(text.len()));
        }
        let signed: SignedRecord = serde_json::from_str(text).map_err(|error| malformed(&error))?;
        let body: RecordBody =
            serde_json::from_str(&signed.body).map_err(|error| malformed(&error))?;
        if body.v != PROTOCOL_VERSION {
            return Err(RecordError::Version(body.v));
        }
        if body.network != network {
            return Err(RecordError::OtherNetwork);
        }
        let peer_id: PeerId = body.peer_id.parse().map_err(|_| RecordError::UnknownKey)?;
        let key = public_key_of(&peer_id).ok_or(RecordError::UnknownKey)?;
        let signature = unhex(&signed.signature).ok_or(RecordError::BadSignature)?;
        if !key.verify(signed.body.as_bytes(), &signature) {
            return Err(RecordError::BadSignature);
        }
        let mut event = body.to_event(retention, now)?;
        event.origin = Origin::Peer(PeerOrigin {
            peer_id: peer_id.to_base58(),
            signed_record: Some(Arc::from(signed.to_json())),
        });
        Ok((peer_id, event))
    }
}

impl RecordBody {
    fn from_event(event: &BadActor, network: &str, peer_id: &PeerId) -> Self {
        let json = event.to_json();
        let attack = &event.attack;
        let field = |text: &str| cut(text, MAX_FIELD_BYTES).to_owned();
        let optional = |text: &Option<String>| text.as_deref().map(field);
        let credential = |part: fn(&Credentials) -> &Option<String>| {
            attack.credentials.as_ref().and_then(|c| optional(part(c)))
        };
        Self {
            v: PROTOCOL_VERSION,
            network: network.to_owned(),
            peer_id: peer_id.to_base58(),
            app_name: json.app_name.to_owned(),
            app_version: json.app_version.to_owned(),
            event_timestamp: json.event_timestamp,
            event_uuid: json.event_uuid,
            created_by_node_id: json.created_by_node_id,
            collected_method: json.collected_method.to_owned(),
            transport_type: json.transport_type.to_owned(),
            source_ip: json.source_ip,
            destination_ip: json.destination_ip,
            called_number: field(&event.called_number),
            sip_method: field(&event.sip_method),
            sip_user_agent: field(&event.sip_user_agent),
            sip_message: cut(&event.sip_message, MAX_SHARED_MESSAGE_BYTES).to_owned(),
            request_uri_user: optional(&event.request_uri_user),
            message_kind: event.message_kind.as_str().to_owned(),
            attack_type: Some(attack.attack_type.as_str().to_owned()),
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
            from_user: optional(&attack.from_user),
            contact: optional(&attack.contact),
            p_asserted_identity: optional(&attack.p_asserted_identity),
        }
    }

    fn to_event(
        &self,
        retention: Option<SignedDuration>,
        now: Timestamp,
    ) -> Result<BadActor, RecordError> {
        let event_timestamp = parse_timestamp(&self.event_timestamp)
            .ok_or(RecordError::InvalidField("event_timestamp"))?;
        // Round-trips exactly, so the stored text is what was signed.
        if format_timestamp(event_timestamp) != self.event_timestamp {
            return Err(RecordError::InvalidField("event_timestamp"));
        }
        if event_timestamp > now.checked_add(MAX_CLOCK_SKEW).unwrap_or(now)
            || retention
                .is_some_and(|window| event_timestamp < now.checked_sub(window).unwrap_or(now))
        {
            return Err(RecordError::OutOfWindow);
        }
        let uuid =
            |text: &str, name| Uuid::try_parse(text).map_err(|_| RecordError::InvalidField(name));
        let address = |text: &str, name| {
            text.parse::<SocketAddr>()
                .map_err(|_| RecordError::InvalidField(name))
        };
        let bounded = |text: &str, name| {
            (text.len() <= MAX_FIELD_BYTES)
                .then(|| text.to_owned())
                .ok_or(RecordError::InvalidField(name))
        };
        if self.app_name != APP_NAME {
            return Err(RecordError::InvalidField("app_name"));
        }
        if self.sip_message.len() > MAX_SHARED_MESSAGE_BYTES {
            return Err(RecordError::InvalidField("sip_message"));
        }
        Ok(BadActor {
            event_timestamp,
            event_uuid: uuid(&self.event_uuid, "event_uuid")?,
            created_by_node_id: uuid(&self.created_by_node_id, "created_by_node_id")?,
            collected_method: CollectedMethod::from_name(&self.collected_method)
                .ok_or(RecordError::InvalidField("collected_method"))?,
            transport: Transport::from_name(&self.transport_type)
                .ok_or(RecordError::InvalidField("transport_type"))?,
            source: address(&self.source_ip, "source_ip")?,
            destination: address(&self.destination_ip, "destination_ip")?,
            called_number: bounded(&self.called_number, "called_number")?,
            request_uri_user: self
                .request_uri_user
                .as_deref()
                .map(|user| bounded(user, "request_uri_user"))
                .transpose()?,
            sip_method: bounded(&self.sip_method, "sip_method")?,
            sip_user_agent: bounded(&self.sip_user_agent, "sip_user_agent")?,
            sip_message: self.sip_message.clone(),
            message_kind: MessageKind::from_name(&self.message_kind)
                .ok_or(RecordError::InvalidField("message_kind"))?,
            origin: Origin::Local,
            attack: self.attack()?,
        })
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Length of the signed record (as [`SignedRecord::to_json`] writes it) that carries `body`.
fn signed_record_len(body: &str) -> usize {
    const ENVELOPE: usize = r#"{"body":,"signature":""}"#.len();
    ENVELOPE + json_string_len(body) + ED25519_SIGNATURE_HEX_CHARS
}

/// Cuts characters off the end of `message` until the record it is in shrinks by at least
/// `excess` bytes: a character of the message is escaped twice in the record (once in the body,
/// once as the body string), so a quote or a backslash takes 4 bytes there, a line break 3.
fn shorten(message: &mut String, excess: usize) {
    let mut removed = 0;
    while removed < excess {
        let Some(c) = message.pop() else {
            return;
        };
        removed += match c {
            '"' | '\\' => 4,
            '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 3,
            c if c < ' ' => 7,
            c => c.len_utf8(),
        };
    }
}

/// The public key a PeerId embeds (ed25519 PeerIds use the identity multihash).
pub fn public_key_of(peer_id: &PeerId) -> Option<PublicKey> {
    let multihash = peer_id.as_ref();
    (multihash.code() == 0)
        .then(|| PublicKey::try_decode_protobuf(multihash.digest()).ok())
        .flatten()
        .filter(|key| key.to_peer_id() == *peer_id)
}

/// Longest refusal reason kept from a JSON error (it quotes the peer's bytes and is logged).
const MAX_REASON_CHARS: usize = 160;

/// [`RecordError::Malformed`] for a record that is not valid JSON of its shape. serde's message
/// quotes the peer's bytes (an unknown field's name, say), so control characters are escaped and
/// the text is cut: a refusal reason is one short line, whatever a peer sends.
fn malformed(error: &serde_json::Error) -> RecordError {
    let mut reason = String::new();
    for c in error.to_string().chars() {
        if c.is_control() {
            reason.extend(c.escape_default());
        } else {
            reason.push(c);
        }
    }
    RecordError::Malformed(reason.chars().take(MAX_REASON_CHARS).collect())
}

/// Hex of a signature; texts longer than [`MAX_SIGNATURE_HEX_CHARS`] are refused before decoding.
fn unhex(text: &str) -> Option<Vec<u8>> {
    (text.len() <= MAX_SIGNATURE_HEX_CHARS)
        .then(|| hex::decode(text).ok())
        .flatten()
}

mod attack;
#[cfg(test)]
pub(crate) mod tests;
