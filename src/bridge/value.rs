//! The original SentryPeer's OpenDHT value: one event as the compact JSON of its 13 string keys,
//! in the C build's order. [`OriginalValue::of`] writes our events that way; [`import`] checks
//! a value from the DHT (unsigned: anyone may put anything) and turns it into an event.

use std::net::{IpAddr, SocketAddr};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use uuid::Uuid;

use crate::event::{
    APP_NAME, APP_VERSION, BadActor, CollectedMethod, MAX_RECORDED_MESSAGE_BYTES,
    ORIGINAL_JSON_KEYS, Origin, Transport, format_timestamp, parse_timestamp,
};

/// OpenDHT's own cap on a value (`MAX_VALUE_SIZE`, 64 KiB): larger ones are refused.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Longest `called_number`, `sip_method`, `sip_user_agent`, `app_version` accepted.
pub const MAX_FIELD_BYTES: usize = 1024;
/// How far ahead of our clock a value's timestamp may be: the original stamps local time
/// without a zone, and UTC+14 is the furthest zone ahead.
pub const MAX_AHEAD: SignedDuration = SignedDuration::from_hours(14);

/// Why a value was refused (each is counted under its name in health and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Over [`MAX_VALUE_BYTES`].
    #[error("value too large")]
    TooLarge,
    /// Not a JSON object of strings (or not valid base64 / UTF-8 in the proxy's line).
    #[error("not a JSON object of strings")]
    Malformed,
    /// Not exactly the original's 13 keys.
    #[error("not the original's 13 keys")]
    WrongKeys,
    /// A field out of its format (UUID, timestamp, address, transport, method, length).
    #[error("invalid field {0}")]
    InvalidField(&'static str),
    /// Older than the retention window, or ahead of our clock by more than [`MAX_AHEAD`].
    #[error("timestamp outside the accepted window")]
    OutOfWindow,
}

impl Refusal {
    /// The counter's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::WrongKeys => "wrong_keys",
            Self::InvalidField(_) => "invalid_field",
            Self::OutOfWindow => "out_of_window",
        }
    }

    /// Every label, in counter order.
    pub const LABELS: [&'static str; 5] = [
        "too_large",
        "malformed",
        "wrong_keys",
        "invalid_field",
        "out_of_window",
    ];

    /// Position in [`Refusal::LABELS`].
    pub fn index(self) -> usize {
        Self::LABELS
            .iter()
            .position(|label| *label == self.label())
            .unwrap_or(0)
    }
}

/// Our event as the original puts it: the 13 keys in the C order, `source_ip` and
/// `destination_ip` as bare IPs (as the C build writes them, so `/ip-addresses/{ip}` finds them
/// on original nodes).
#[derive(Debug, Serialize)]
pub struct OriginalValue<'a> {
    app_name: &'a str,
    app_version: &'a str,
    event_timestamp: String,
    event_uuid: String,
    created_by_node_id: String,
    collected_method: &'a str,
    transport_type: &'a str,
    source_ip: String,
    destination_ip: String,
    called_number: &'a str,
    sip_method: &'a str,
    sip_user_agent: &'a str,
    sip_message: &'a str,
}

impl<'a> OriginalValue<'a> {
    /// The value of `event` (its message cut so the value fits OpenDHT's cap).
    pub fn of(event: &'a BadActor) -> Self {
        Self {
            app_name: APP_NAME,
            app_version: APP_VERSION,
            event_timestamp: format_timestamp(event.event_timestamp),
            event_uuid: event.event_uuid.hyphenated().to_string(),
            created_by_node_id: event.created_by_node_id.hyphenated().to_string(),
            collected_method: event.collected_method.as_str(),
            transport_type: event.transport.as_str(),
            source_ip: event.source.ip().to_string(),
            destination_ip: event.destination.ip().to_string(),
            called_number: &event.called_number,
            sip_method: &event.sip_method,
            sip_user_agent: &event.sip_user_agent,
            sip_message: cut(&event.sip_message, MAX_VALUE_BYTES / 4),
        }
    }

    /// The compact JSON bytes put on the DHT.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What the checks need besides the value.
#[derive(Debug, Clone, Copy)]
pub struct ImportWindow {
    /// Values older than this are refused (`None`: retention 0, keep everything).
    pub retention: Option<SignedDuration>,
    /// Our clock.
    pub now: Timestamp,
}

/// Checks a value from the DHT and turns it into an event with origin `opendht`: at most
/// [`MAX_VALUE_BYTES`], a JSON object of exactly the original's 13 keys, all strings, each in
/// its format (`source_ip` bare or `IP:port`), the timestamp within the window. The message is
/// parsed as ours are, so the event is classified like a captured one.
///
/// # Errors
/// The first check that failed.
pub fn import(value: &[u8], window: ImportWindow) -> Result<BadActor, Refusal> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Refusal::TooLarge);
    }
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(value).map_err(|_| Refusal::Malformed)?;
    if object.len() != ORIGINAL_JSON_KEYS.len()
        || !ORIGINAL_JSON_KEYS
            .iter()
            .all(|key| object.contains_key(*key))
    {
        return Err(Refusal::WrongKeys);
    }
    let field = |key: &'static str| object.get(key).and_then(serde_json::Value::as_str);
    let text = |key: &'static str, max: usize| {
        field(key)
            .filter(|text| text.len() <= max)
            .ok_or(Refusal::InvalidField(key))
    };
    if text("app_name", MAX_FIELD_BYTES)? != APP_NAME {
        return Err(Refusal::InvalidField("app_name"));
    }
    text("app_version", MAX_FIELD_BYTES)?;
    let event_timestamp = timestamp(text("event_timestamp", 40)?)?;
    within(event_timestamp, window)?;
    let uuid = |key| Uuid::try_parse(text(key, 36)?).map_err(|_| Refusal::InvalidField(key));
    let message = text("sip_message", MAX_RECORDED_MESSAGE_BYTES)?;
    let probe = crate::sip::parse(message.as_bytes());
    let capture = crate::event::Capture {
        node_id: uuid("created_by_node_id")?,
        collected_method: CollectedMethod::from_name(text("collected_method", 16)?)
            .ok_or(Refusal::InvalidField("collected_method"))?,
        transport: Transport::from_name(text("transport_type", 8)?)
            .ok_or(Refusal::InvalidField("transport_type"))?,
        source: address(text("source_ip", 64)?).ok_or(Refusal::InvalidField("source_ip"))?,
        destination: address(text("destination_ip", 64)?)
            .ok_or(Refusal::InvalidField("destination_ip"))?,
    };
    Ok(BadActor {
        event_timestamp,
        event_uuid: uuid("event_uuid")?,
        called_number: text("called_number", MAX_FIELD_BYTES)?.to_owned(),
        sip_method: text("sip_method", MAX_FIELD_BYTES)?.to_owned(),
        sip_user_agent: text("sip_user_agent", MAX_FIELD_BYTES)?.to_owned(),
        origin: Origin::OpenDht,
        ..BadActor::from_probe(&probe, &capture)
    })
}

/// The original's `event_timestamp`: `YYYY-MM-DD HH:MM:SS.fraction` (6 to 9 digits from the C
/// build, 9 from ours), read as UTC.
fn timestamp(text: &str) -> Result<Timestamp, Refusal> {
    let invalid = Refusal::InvalidField("event_timestamp");
    let (_, fraction) = text.rsplit_once('.').ok_or(invalid)?;
    if !(1..=9).contains(&fraction.len()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid);
    }
    parse_timestamp(text).ok_or(invalid)
}

/// Refuses timestamps older than retention or too far ahead.
fn within(at: Timestamp, window: ImportWindow) -> Result<(), Refusal> {
    let latest = window.now.checked_add(MAX_AHEAD).unwrap_or(window.now);
    let too_old = window
        .retention
        .is_some_and(|retention| at < window.now.checked_sub(retention).unwrap_or(window.now));
    if at > latest || too_old {
        return Err(Refusal::OutOfWindow);
    }
    Ok(())
}

/// `IP`, `IP:port` or `[IPv6]:port` (port 0 when bare), IPv4-mapped IPv6 as IPv4.
fn address(text: &str) -> Option<SocketAddr> {
    let address = match text.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, 0),
        Err(_) => text.parse::<SocketAddr>().ok()?,
    };
    Some(SocketAddr::new(
        crate::event::canonical_ip(address.ip()),
        address.port(),
    ))
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests;
