//! The bad-actor event: the one record every consumer (store, sinks, peers) receives, and its
//! JSON form (the original's 13 keys, in the original order, then the keys this program adds).

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use jiff::Timestamp;
use uuid::Uuid;

use crate::sip::{MessageKind, Probe};

mod attack;
mod json;

pub use attack::{Attack, Credentials, MAX_DETAIL_BYTES};
pub use json::{EventJson, MAX_JSON_LINE_BYTES, ORIGINAL_JSON_KEYS};

/// `app_name` of every event.
pub const APP_NAME: &str = "sentrypeer";
/// `app_version` of every event, and the version the API reports.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");
/// What the original records when a field could not be found in a message.
pub const NOT_FOUND: &str = "NOT_FOUND";
/// Raw messages are recorded up to this many bytes (the largest UDP datagram fits whole), counted
/// after decoding (an invalid byte becomes a 3-byte U+FFFD, so 64 KiB of binary would otherwise
/// be stored as 192 KiB); longer stream messages are cut here and recorded as malformed.
pub const MAX_RECORDED_MESSAGE_BYTES: usize = 65_536;

/// SIP transport a message arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS.
    Tls,
}

impl Transport {
    /// All transports, in a fixed order (for per-transport counters).
    pub const ALL: [Self; 3] = [Self::Udp, Self::Tcp, Self::Tls];

    /// The original's `transport_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// The transport named `name` (`UDP`, `TCP` or `TLS`, as [`Transport::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|transport| transport.as_str() == name)
    }

    /// Position in [`Transport::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the honeypot answered probes when the event was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectedMethod {
    /// Listening only (`-r` off).
    Passive,
    /// Answering probes (`-r` on).
    Responsive,
}

impl CollectedMethod {
    /// The original's `collected_method` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passive => "passive",
            Self::Responsive => "responsive",
        }
    }

    /// The method named `name`, as [`CollectedMethod::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Passive, Self::Responsive]
            .into_iter()
            .find(|method| method.as_str() == name)
    }
}

/// The `origin` column (and the API's `origin=` filter) of events from the OpenDHT bridge.
pub const OPENDHT_ORIGIN: &str = "opendht";

/// Where an event was captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// By this node's own listeners.
    Local,
    /// By another node, received over peer-to-peer sharing.
    Peer(PeerOrigin),
    /// By a node of the OpenDHT community (the original's unsigned values under `bad_actors`),
    /// received through the OpenDHT bridge.
    OpenDht,
}

/// The node that captured a shared event, and the signed record it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerOrigin {
    /// The capturing node's PeerId (base58).
    pub peer_id: String,
    /// The record exactly as that node signed it, kept so this node can pass it on in catch-up
    /// (`None` for rows from before the record was kept).
    pub signed_record: Option<Arc<str>>,
}

impl From<&str> for PeerOrigin {
    fn from(peer_id: &str) -> Self {
        Self {
            peer_id: peer_id.to_owned(),
            signed_record: None,
        }
    }
}

impl Origin {
    /// Value stored in the `origin` column: `local`, `peer:<PeerId>` or `opendht`.
    pub fn to_column(&self) -> Cow<'static, str> {
        match self {
            Self::Local => Cow::Borrowed("local"),
            Self::OpenDht => Cow::Borrowed(OPENDHT_ORIGIN),
            Self::Peer(peer) => Cow::Owned(format!("peer:{}", peer.peer_id)),
        }
    }

    /// Whether this node captured the event.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Local)
    }
}

/// Facts about one received message that the parser cannot know.
#[derive(Debug, Clone, Copy)]
pub struct Capture {
    /// This node's persistent id (`created_by_node_id`).
    pub node_id: Uuid,
    /// Whether responsive mode is on.
    pub collected_method: CollectedMethod,
    /// Transport the message came on.
    pub transport: Transport,
    /// Sender's address.
    pub source: SocketAddr,
    /// Local address the message arrived on (the packet's real destination).
    pub destination: SocketAddr,
}

/// One bad-actor event: a message received by a listener (or a record from a peer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadActor {
    /// When it was received (UTC).
    pub event_timestamp: Timestamp,
    /// Unique id of the event (UUIDv7: time-ordered).
    pub event_uuid: Uuid,
    /// Id of the node that captured it.
    pub created_by_node_id: Uuid,
    /// Passive or responsive capture.
    pub collected_method: CollectedMethod,
    /// Transport it arrived on.
    pub transport: Transport,
    /// Sender's address (IPv4-mapped IPv6 addresses are stored as IPv4).
    pub source: SocketAddr,
    /// Local address it arrived on.
    pub destination: SocketAddr,
    /// User part of the `To` URI, `NOT_FOUND` when absent, empty for an empty message.
    pub called_number: String,
    /// User part of the Request-URI, when there is one.
    pub request_uri_user: Option<String>,
    /// Request method, `NOT_FOUND` for anything but a request, empty for an empty message.
    pub sip_method: String,
    /// `User-Agent` value, `NOT_FOUND` when absent or empty, empty for an empty message.
    pub sip_user_agent: String,
    /// The message as received (lossy UTF-8), cut at [`MAX_RECORDED_MESSAGE_BYTES`] after
    /// decoding, on a character boundary ([`message_is_cut`] tells when).
    pub sip_message: String,
    /// What the message was.
    pub message_kind: MessageKind,
    /// Who captured it.
    pub origin: Origin,
    /// What the message was after, and the credentials and caller identity it carried.
    pub attack: Attack,
}

impl BadActor {
    /// Builds the event for a message this node received, stamped now.
    pub fn from_probe(probe: &Probe<'_>, capture: &Capture) -> Self {
        let empty = probe.kind == MessageKind::Empty;
        let field = |value: Option<&[u8]>| -> String {
            match value {
                Some(bytes) if !bytes.is_empty() => lossy_utf8(bytes),
                _ if empty => String::new(),
                _ => NOT_FOUND.to_owned(),
            }
        };
        let sip_method = match (probe.kind, probe.method) {
            (MessageKind::Request, Some(method)) => method.to_owned(),
            _ => field(None),
        };
        Self {
            event_timestamp: Timestamp::now(),
            event_uuid: Uuid::now_v7(),
            created_by_node_id: capture.node_id,
            collected_method: capture.collected_method,
            transport: capture.transport,
            source: canonical(capture.source),
            destination: canonical(capture.destination),
            called_number: field(probe.called_number()),
            request_uri_user: probe.request_uri_user().map(lossy_utf8),
            sip_method,
            sip_user_agent: field(probe.user_agent()),
            sip_message: recorded_message(probe.raw),
            message_kind: probe.kind,
            origin: Origin::Local,
            attack: Attack::from_probe(probe),
        }
    }

    /// `event_timestamp` as the original writes it: UTC, `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`.
    pub fn timestamp_text(&self) -> String {
        format_timestamp(self.event_timestamp)
    }
}

/// Formats a timestamp as the original's `event_timestamp`, in UTC, always 9 fraction digits:
/// `2022-02-22 11:19:15.848934346`.
///
/// ```
/// let at: jiff::Timestamp = "2022-02-22T11:19:15.5Z".parse().unwrap();
/// assert_eq!(sentrypeer::event::format_timestamp(at), "2022-02-22 11:19:15.500000000");
/// ```
pub fn format_timestamp(timestamp: Timestamp) -> String {
    // Written digit by digit: the writer formats several per event, and strftime costs ~10x.
    let at = jiff::tz::Offset::UTC.to_datetime(timestamp);
    let Ok(year) = u32::try_from(at.year()) else {
        return timestamp.strftime("%Y-%m-%d %H:%M:%S%.9f").to_string();
    };
    let fields = [
        (year, 4, '-'),
        (u32::try_from(at.month()).unwrap_or(0), 2, '-'),
        (u32::try_from(at.day()).unwrap_or(0), 2, ' '),
        (u32::try_from(at.hour()).unwrap_or(0), 2, ':'),
        (u32::try_from(at.minute()).unwrap_or(0), 2, ':'),
        (u32::try_from(at.second()).unwrap_or(0), 2, '.'),
    ];
    let mut text = String::with_capacity(29);
    for (value, width, separator) in fields {
        push_digits(&mut text, value, width);
        text.push(separator);
    }
    push_digits(
        &mut text,
        u32::try_from(at.subsec_nanosecond()).unwrap_or(0),
        9,
    );
    text
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
fn push_digits(text: &mut String, value: u32, width: u32) {
    for position in (0..width).rev() {
        let digit = value / 10u32.pow(position) % 10;
        text.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
    }
}

/// Reads an `event_timestamp` as [`format_timestamp`] writes it (UTC).
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let (date, time) = text.split_once(' ')?;
    format!("{date}T{time}Z").parse().ok()
}

/// `bytes` as UTF-8, invalid sequences replaced by U+FFFD. Valid text (nearly every probe) takes
/// the standard library's fast validation; `from_utf8_lossy` validates in a slower loop, which
/// showed up at ~3% of the UDP listener's time under a flood.
fn lossy_utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// `raw` as recorded in `sip_message`: decoded as [`lossy_utf8`], then cut to at most
/// [`MAX_RECORDED_MESSAGE_BYTES`] on a character boundary.
fn recorded_message(raw: &[u8]) -> String {
    let recorded = &raw[..raw.len().min(MAX_RECORDED_MESSAGE_BYTES)];
    let mut text = lossy_utf8(recorded);
    if text.len() > MAX_RECORDED_MESSAGE_BYTES {
        let cut = text.floor_char_boundary(MAX_RECORDED_MESSAGE_BYTES);
        text.truncate(cut);
    }
    text
}

/// Whether the event of a message of these bytes has its `sip_message` cut: longer than
/// [`MAX_RECORDED_MESSAGE_BYTES`] once decoded (invalid bytes count 3 each, as U+FFFD).
pub fn message_is_cut(raw: &[u8]) -> bool {
    let decoded: usize = raw
        .utf8_chunks()
        .map(|chunk| chunk.valid().len() + if chunk.invalid().is_empty() { 0 } else { 3 })
        .sum();
    decoded > MAX_RECORDED_MESSAGE_BYTES
}

/// IPv4-mapped IPv6 addresses (from dual-stack sockets) as plain IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(addr.ip()), addr.port())
}

/// IPv4-mapped IPv6 address as plain IPv4; any other address unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_always_has_nine_fraction_digits_in_utc() {
        let ts: Timestamp = "2024-03-05T07:08:09.005Z".parse().expect("valid timestamp");
        assert_eq!(format_timestamp(ts), "2024-03-05 07:08:09.005000000");
        let whole: Timestamp = "2024-03-05T07:08:09Z".parse().expect("valid timestamp");
        assert_eq!(format_timestamp(whole), "2024-03-05 07:08:09.000000000");
    }

    proptest::proptest! {
        #[test]
        fn timestamps_format_as_strftime_would(
            seconds in Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
            nanos in 0..1_000_000_000i32,
        ) {
            let at = Timestamp::new(seconds, nanos)
                .unwrap_or_else(|_| Timestamp::new(seconds, 0).expect("whole second"));
            proptest::prop_assert_eq!(
                format_timestamp(at),
                at.strftime("%Y-%m-%d %H:%M:%S%.9f").to_string()
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn text_is_decoded_as_from_utf8_lossy_would(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            proptest::prop_assert_eq!(lossy_utf8(&bytes), String::from_utf8_lossy(&bytes).into_owned());
        }
    }

    #[test]
    fn a_message_is_recorded_up_to_the_cap_after_decoding_and_the_cut_is_told() {
        let binary = vec![0xff_u8; 65_000];
        let recorded = recorded_message(&binary);
        assert!(
            recorded.len() <= MAX_RECORDED_MESSAGE_BYTES,
            "{}",
            recorded.len()
        );
        assert_eq!(
            recorded.len(),
            MAX_RECORDED_MESSAGE_BYTES / 3 * 3,
            "whole U+FFFDs"
        );
        assert!(message_is_cut(&binary));
        let text = "x".repeat(MAX_RECORDED_MESSAGE_BYTES);
        assert_eq!(recorded_message(text.as_bytes()), text);
        assert!(!message_is_cut(text.as_bytes()));
        let mixed = [&b"INVITE sip:1@x SIP/2.0\r\n"[..], &[0x80; 30_000]].concat();
        assert!(message_is_cut(&mixed) && recorded_message(&mixed).len() <= 65_536);
        assert!(!message_is_cut(&[0x80; 21_845]), "21,845 x 3 bytes fit");
    }

    #[test]
    fn timestamps_read_back_as_written() {
        let ts: Timestamp = "2024-03-05T07:08:09.000000123Z"
            .parse()
            .expect("valid timestamp");
        assert_eq!(parse_timestamp(&format_timestamp(ts)), Some(ts));
        assert_eq!(parse_timestamp("2024-03-05"), None);
        assert_eq!(parse_timestamp("garbage here"), None);
    }

    #[test]
    fn mapped_ipv6_source_is_recorded_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:5060".parse().expect("valid addr");
        assert_eq!(canonical(mapped).to_string(), "192.0.2.7:5060");
        let v6: SocketAddr = "[2001:db8::1]:5060".parse().expect("valid addr");
        assert_eq!(canonical(v6).to_string(), "[2001:db8::1]:5060");
    }
}

#[cfg(test)]
mod json_properties;

#[cfg(test)]
pub(crate) mod test_support;
