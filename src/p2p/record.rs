//! Signing this node's events into records and the checks every record from the network goes
//! through before it may be stored (the wire forms and their limits are in `protocol`).

use std::net::SocketAddr;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey};
use uuid::Uuid;

use super::protocol::{
    MAX_CLOCK_SKEW, MAX_FIELD_BYTES, MAX_SIGNATURE_HEX_CHARS, PROTOCOL_VERSION, RecordBody,
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
    /// Signs a locally captured event.
    ///
    /// # Errors
    /// When the key cannot sign (it always can with ed25519).
    pub fn sign(event: &BadActor, network: &str, key: &Keypair) -> Result<Self, RecordError> {
        let body = RecordBody::from_event(event, network, &key.public().to_peer_id());
        let body = serde_json::to_string(&body)
            .map_err(|error| RecordError::Malformed(error.to_string()))?;
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
        let message = &event.sip_message;
        let mut cut = message.len().min(MAX_SHARED_MESSAGE_BYTES);
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        let json = event.to_json();
        let attack = &event.attack;
        let credential = |field: fn(&Credentials) -> &Option<String>| {
            attack.credentials.as_ref().and_then(|c| field(c).clone())
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
            called_number: event.called_number.clone(),
            sip_method: event.sip_method.clone(),
            sip_user_agent: event.sip_user_agent.clone(),
            sip_message: message[..cut].to_owned(),
            request_uri_user: event.request_uri_user.clone(),
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
            from_user: attack.from_user.clone(),
            contact: attack.contact.clone(),
            p_asserted_identity: attack.p_asserted_identity.clone(),
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
