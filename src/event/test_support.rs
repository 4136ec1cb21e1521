//! The one event builder of the unit tests: a coherent event by default, each field set by name,
//! or what a listener records of a real message.
//!
//! ```text
//! EventBuilder::new().source("192.0.2.1:5070").number("0046812118532").at("2024-01-01T00:00:01Z").build()
//! EventBuilder::new().source("192.0.2.3:5070").capture(fixture!("svcrack_register_digest.sip"))
//! ```

use std::net::SocketAddr;

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::{Attack, BadActor, Capture, CollectedMethod, Origin, Transport};
use crate::sip::{MessageKind, parse};

/// Builds a [`BadActor`] for a test. Unless set, the raw message is
/// `<method> sip:<Request-URI user>@192.0.2.10 SIP/2.0` and the attack is classified from it,
/// so the event stays coherent whatever its method and number.
#[derive(Debug, Clone)]
pub(crate) struct EventBuilder {
    event: BadActor,
    message: Option<String>,
    attack: Option<Attack>,
}

impl Default for EventBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBuilder {
    /// A local, passive UDP INVITE from `104.149.141.214:5070` (the original's test row) to
    /// `192.0.2.10:5060` calling `100`, sent by `friendly-scanner`, captured now by node
    /// `0x1234`.
    pub(crate) fn new() -> Self {
        Self {
            event: BadActor {
                event_timestamp: Timestamp::now(),
                event_uuid: Uuid::now_v7(),
                created_by_node_id: Uuid::from_u128(0x1234),
                collected_method: CollectedMethod::Passive,
                transport: Transport::Udp,
                source: address("104.149.141.214:5070"),
                destination: address("192.0.2.10:5060"),
                called_number: "100".to_owned(),
                request_uri_user: Some("100".to_owned()),
                sip_method: "INVITE".to_owned(),
                sip_user_agent: "friendly-scanner".to_owned(),
                sip_message: String::new(),
                message_kind: MessageKind::Request,
                origin: Origin::Local,
                attack: Attack::default(),
            },
            message: None,
            attack: None,
        }
    }

    /// Sender, `IP:port` (`[v6]:port`).
    pub(crate) fn source(mut self, source: &str) -> Self {
        self.event.source = address(source);
        self
    }

    /// Sender's IP, on the same port.
    pub(crate) fn source_ip(mut self, ip: &str) -> Self {
        self.event.source.set_ip(ip.parse().expect("an IP address"));
        self
    }

    /// Local address the message arrived on, `IP:port`.
    pub(crate) fn destination(mut self, destination: &str) -> Self {
        self.event.destination = address(destination);
        self
    }

    /// Transport it arrived on.
    pub(crate) fn transport(mut self, transport: Transport) -> Self {
        self.event.transport = transport;
        self
    }

    /// Captured in responsive mode (passive by default).
    pub(crate) fn responsive(mut self) -> Self {
        self.event.collected_method = CollectedMethod::Responsive;
        self
    }

    /// The capturing node's id.
    pub(crate) fn node(mut self, id: u128) -> Self {
        self.event.created_by_node_id = Uuid::from_u128(id);
        self
    }

    /// Received at `timestamp` (RFC 3339, e.g. `2024-01-01T00:00:01Z`).
    pub(crate) fn at(self, timestamp: &str) -> Self {
        self.timestamp(timestamp.parse().expect("an RFC 3339 timestamp"))
    }

    /// Received at `timestamp`.
    pub(crate) fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.event.event_timestamp = timestamp;
        self
    }

    /// Received `seconds` ago.
    pub(crate) fn seconds_ago(self, seconds: i64) -> Self {
        self.timestamp(Timestamp::now() - SignedDuration::from_secs(seconds))
    }

    /// The number called: the `To` user and the Request-URI user.
    pub(crate) fn number(mut self, number: &str) -> Self {
        self.event.called_number = number.to_owned();
        self.event.request_uri_user = Some(number.to_owned());
        self
    }

    /// The Request-URI user alone (`None`: no Request-URI user, as in a response).
    pub(crate) fn request_uri_user(mut self, user: Option<&str>) -> Self {
        self.event.request_uri_user = user.map(str::to_owned);
        self
    }

    /// The request method.
    pub(crate) fn method(mut self, method: &str) -> Self {
        self.event.sip_method = method.to_owned();
        self
    }

    /// The `User-Agent`.
    pub(crate) fn user_agent(mut self, user_agent: &str) -> Self {
        self.event.sip_user_agent = user_agent.to_owned();
        self
    }

    /// The raw message as recorded.
    pub(crate) fn message(mut self, message: &str) -> Self {
        self.message = Some(message.to_owned());
        self
    }

    /// What the message was.
    pub(crate) fn kind(mut self, kind: MessageKind) -> Self {
        self.event.message_kind = kind;
        self
    }

    /// An empty datagram or connection: every text field empty, no Request-URI user.
    pub(crate) fn empty(self) -> Self {
        self.number("")
            .request_uri_user(None)
            .method("")
            .user_agent("")
            .message("")
            .kind(MessageKind::Empty)
    }

    /// Captured by another node (`peer_id`), received over sharing.
    pub(crate) fn peer(self, peer_id: &str) -> Self {
        self.origin(Origin::Peer(peer_id.into()))
    }

    /// Who captured it.
    pub(crate) fn origin(mut self, origin: Origin) -> Self {
        self.event.origin = origin;
        self
    }

    /// The attack evidence, instead of what the message shows.
    pub(crate) fn attack(mut self, attack: Attack) -> Self {
        self.attack = Some(attack);
        self
    }

    /// The event.
    pub(crate) fn build(self) -> BadActor {
        let mut event = self.event;
        event.sip_message = self.message.unwrap_or_else(|| {
            let user = event
                .request_uri_user
                .as_ref()
                .map(|user| format!("{user}@"))
                .unwrap_or_default();
            format!("{} sip:{user}192.0.2.10 SIP/2.0\r\n\r\n", event.sip_method)
        });
        event.attack = self
            .attack
            .unwrap_or_else(|| Attack::from_message(event.sip_message.as_bytes()));
        event
    }

    /// What a listener records of `message` ([`BadActor::from_probe`]) with this builder's
    /// node, mode, transport, addresses, timestamp and origin; the other fields come from the
    /// message.
    pub(crate) fn capture(self, message: &[u8]) -> BadActor {
        let capture = Capture {
            node_id: self.event.created_by_node_id,
            collected_method: self.event.collected_method,
            transport: self.event.transport,
            source: self.event.source,
            destination: self.event.destination,
        };
        BadActor {
            event_timestamp: self.event.event_timestamp,
            origin: self.event.origin,
            ..BadActor::from_probe(&parse(message), &capture)
        }
    }
}

fn address(text: &str) -> SocketAddr {
    text.parse().expect("an IP:port address")
}
