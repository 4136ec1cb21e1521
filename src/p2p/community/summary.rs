//! Signing this node's summary and the checks every summary from the network goes through
//! before it may be counted (the wire forms and their limits are in `protocol`). The checks are
//! plain functions of the bytes, the network and the time.

use jiff::{SignedDuration, Timestamp};
use libp2p::PeerId;
use libp2p::identity::Keypair;

use crate::p2p::protocol::{
    MAX_CLOCK_SKEW, MAX_SIGNATURE_HEX_CHARS, MAX_SUMMARY_AGE, MAX_SUMMARY_BYTES, MAX_SUMMARY_COUNT,
    MAX_SUMMARY_COUNTRIES, MAX_SUMMARY_METHOD_BYTES, MAX_SUMMARY_METHODS, PROTOCOL_VERSION,
    SUMMARY_PERIOD, SignedSummary, SummaryBody,
};
use crate::p2p::record::public_key_of;
use crate::sip::AttackType;

/// Why a summary from the network was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SummaryError {
    /// Bigger than [`MAX_SUMMARY_BYTES`].
    #[error("summary too large ({0} bytes)")]
    TooLarge(usize),
    /// Not the JSON shape of a summary, or another version.
    #[error("malformed summary")]
    Malformed,
    /// From another `--p2p-network`.
    #[error("summary of another network")]
    OtherNetwork,
    /// The signature does not match the body and the claimed node (or the PeerId carries no
    /// usable key).
    #[error("bad signature")]
    BadSignature,
    /// A figure or a list breaks its limit or format.
    #[error("invalid field {0}")]
    InvalidField(&'static str),
    /// Its period ends in the future or too long ago (a replay).
    #[error("period outside the accepted window")]
    OutOfWindow,
}

impl SignedSummary {
    /// Signs `body` with `key` (the node's P2P key, whose PeerId `body.peer_id` names).
    ///
    /// # Errors
    /// [`SummaryError::TooLarge`] when the signed summary exceeds [`MAX_SUMMARY_BYTES`] (the
    /// builder's limits keep it far below); [`SummaryError::BadSignature`] when the key cannot
    /// sign.
    pub fn sign(body: &SummaryBody, key: &Keypair) -> Result<Self, SummaryError> {
        let body = serde_json::to_string(body).map_err(|_| SummaryError::Malformed)?;
        let signature = key
            .sign(body.as_bytes())
            .map_err(|_| SummaryError::BadSignature)?;
        let signed = Self {
            body,
            signature: hex::encode(signature),
        };
        let size = signed.to_json().len();
        if size > MAX_SUMMARY_BYTES {
            return Err(SummaryError::TooLarge(size));
        }
        Ok(signed)
    }

    /// The signed summary as one compact JSON text: what is published, and what
    /// `--print-shared-stats` prints.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks a summary from the network: size, shape, version, network, signature by the node
    /// it names, its figures and lists, and a period that ended at most [`MAX_SUMMARY_AGE`]
    /// before `now` and not after it (give or take [`MAX_CLOCK_SKEW`]).
    ///
    /// # Errors
    /// The first check that failed.
    pub fn verify(
        data: &[u8],
        network: &str,
        now: Timestamp,
    ) -> Result<(PeerId, SummaryBody), SummaryError> {
        if data.len() > MAX_SUMMARY_BYTES {
            return Err(SummaryError::TooLarge(data.len()));
        }
        let signed: Self = serde_json::from_slice(data).map_err(|_| SummaryError::Malformed)?;
        let body: SummaryBody =
            serde_json::from_str(&signed.body).map_err(|_| SummaryError::Malformed)?;
        if body.v != PROTOCOL_VERSION {
            return Err(SummaryError::Malformed);
        }
        if body.network != network {
            return Err(SummaryError::OtherNetwork);
        }
        let peer_id: PeerId = body
            .peer_id
            .parse()
            .map_err(|_| SummaryError::BadSignature)?;
        let key = public_key_of(&peer_id).ok_or(SummaryError::BadSignature)?;
        let signature = (signed.signature.len() <= MAX_SIGNATURE_HEX_CHARS)
            .then(|| hex::decode(&signed.signature).ok())
            .flatten()
            .ok_or(SummaryError::BadSignature)?;
        if !key.verify(signed.body.as_bytes(), &signature) {
            return Err(SummaryError::BadSignature);
        }
        check_body(&body, now)?;
        Ok((peer_id, body))
    }
}

/// The checks of a summary's fields (see [`SignedSummary::verify`]).
///
/// # Errors
/// The first field that fails.
pub fn check_body(body: &SummaryBody, now: Timestamp) -> Result<(), SummaryError> {
    let start: Timestamp = body
        .period_start
        .parse()
        .map_err(|_| SummaryError::InvalidField("period_start"))?;
    let end: Timestamp = body
        .period_end
        .parse()
        .map_err(|_| SummaryError::InvalidField("period_end"))?;
    // The period is an hour, from the start of its first minute.
    let longest = SUMMARY_PERIOD + SignedDuration::from_mins(1);
    if start > end || end.duration_since(start) > longest {
        return Err(SummaryError::InvalidField("period_start"));
    }
    let newest = now.checked_add(MAX_CLOCK_SKEW).unwrap_or(now);
    let oldest = now.checked_sub(MAX_SUMMARY_AGE).unwrap_or(now);
    if end > newest || end < oldest {
        return Err(SummaryError::OutOfWindow);
    }
    for (name, count) in [
        ("events", body.events),
        ("ip_addresses", body.ip_addresses),
        ("called_numbers", body.called_numbers),
    ] {
        if count > MAX_SUMMARY_COUNT {
            return Err(SummaryError::InvalidField(name));
        }
    }
    let attack_types_known = (body.by_attack_type.keys())
        .all(|name| AttackType::ALL.iter().any(|known| known.as_str() == name));
    if !attack_types_known || sum(body.by_attack_type.values()) > body.events {
        return Err(SummaryError::InvalidField("by_attack_type"));
    }
    let methods_valid = body.by_method.len() <= MAX_SUMMARY_METHODS
        && body.by_method.keys().all(|method| is_method(method));
    if !methods_valid || sum(body.by_method.values()) > body.events {
        return Err(SummaryError::InvalidField("by_method"));
    }
    let countries_valid = body.by_country.len() <= MAX_SUMMARY_COUNTRIES
        && body.by_country.keys().all(|code| is_country_code(code));
    if !countries_valid || sum(body.by_country.values()) > body.ip_addresses {
        return Err(SummaryError::InvalidField("by_country"));
    }
    Ok(())
}

/// A method a summary may list: 1 to [`MAX_SUMMARY_METHOD_BYTES`] characters of a SIP token
/// (RFC 3261: letters, digits and `-.!%*_+'~`).
pub fn is_method(text: &str) -> bool {
    (1..=MAX_SUMMARY_METHOD_BYTES).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+'~".contains(&b))
}

/// An ISO 3166-1 alpha-2 code (two capital letters).
pub fn is_country_code(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase())
}

/// The sum of counts, saturating.
fn sum<'a>(counts: impl Iterator<Item = &'a u64>) -> u64 {
    counts.fold(0, |total, count| total.saturating_add(*count))
}
