//! The `bgp_message` target: bytes a BGP peer sends to the blackhole feed's speaker, cut and
//! decoded as a session does (`bgp::inbound`) and handed to the same rustbgpd state machine,
//! once from the start of a session (we sent our OPEN) and once after the peer's valid OPEN and
//! KEEPALIVE (established), so UPDATE and ROUTE-REFRESH handling is reached as well.

use std::net::Ipv4Addr;

use rustbgpd_fsm::{Action, Event, PeerConfig, Session, SessionState};
use rustbgpd_wire::{Afi, Capability, Message, OpenMessage, Safi, encode_message};

use super::{CHUNK_SIZES, assert_one_line};
use crate::bgp::{Framer, Inbound, interpret};

/// The peer's AS and ours in the fuzzed session.
const PEER_AS: u32 = 65_001;
const LOCAL_AS: u32 = 64_512;
/// The largest message a peer may send (RFC 8654 extended messages, when negotiated).
const MAX_MESSAGE: usize = 65_535;

/// Bytes from a peer: framing does not depend on how the bytes arrive and never holds more than
/// one message; every message (or decoding error, one line) is interpreted without a panic; a
/// decoding error in a session ends it with one NOTIFICATION that encodes, then the connection
/// closes, as the session task does; nothing else the peer sends makes the speaker send more
/// than a NOTIFICATION or a KEEPALIVE.
pub fn bgp_message(data: &[u8]) {
    let at_once = cut(data, &[data.len().max(1)]);
    let in_chunks = cut(data, &CHUNK_SIZES);
    assert_eq!(
        at_once, in_chunks,
        "framing does not depend on how the bytes arrive"
    );
    run_session(data, false);
    let mut established = peer_open();
    established.extend(encoded(&Message::Keepalive));
    established.extend_from_slice(data);
    run_session(&established, true);
}

/// The messages cut from `data` fed `chunk_sizes` bytes at a time (their `Debug` text, so they
/// compare), the framer never asking for more than the message it is in.
fn cut(data: &[u8], chunk_sizes: &[usize]) -> Vec<String> {
    let mut framer = Framer::default();
    framer.allow_extended_messages();
    let mut messages = Vec::new();
    let mut rest = data;
    let mut sizes = chunk_sizes.iter().cycle();
    while !rest.is_empty() {
        let size = sizes.next().copied().unwrap_or(1).min(rest.len());
        let (chunk, after) = rest.split_at(size);
        framer.extend(chunk);
        rest = after;
        while let Some(decoded) = framer.next_message() {
            if let Err(error) = &decoded {
                assert_one_line(&error.to_string());
            }
            messages.push(format!("{decoded:?}"));
        }
        assert!(framer.buffered() < MAX_MESSAGE, "at most one message held");
        assert!(framer.wanted() >= 1);
    }
    messages
}

/// Feeds `data` to a session that sent its OPEN (as `session::Connection` runs it) until the
/// state machine closes the connection; `established_first` says the data starts with the
/// peer's OPEN and KEEPALIVE, which must establish the session.
fn run_session(data: &[u8], established_first: bool) {
    let mut config = PeerConfig::new(LOCAL_AS, PEER_AS, Ipv4Addr::new(192, 0, 2, 10));
    config.families = vec![(Afi::Ipv4, Safi::Unicast), (Afi::Ipv6, Safi::Unicast)];
    let mut session = Session::new(config);
    session.handle_event(Event::ManualStart);
    session.handle_event(Event::TcpConnectionAcknowledged);
    assert_eq!(session.state(), SessionState::OpenSent);
    let mut framer = Framer::default();
    framer.extend(data);
    let mut messages = 0_usize;
    while let Some(decoded) = framer.next_message() {
        messages += 1;
        let decode_failed = decoded.is_err();
        let four_octet_as = session.negotiated().is_some_and(|n| n.four_octet_as);
        let event = match interpret(decoded, four_octet_as) {
            Inbound::Event(event) => event,
            Inbound::Update(_) => Event::UpdateReceived,
            Inbound::RouteRefresh { event, .. } => event,
            Inbound::Ignored => continue,
        };
        let actions = session.handle_event(event);
        if established_first && messages == 2 {
            assert_eq!(
                session.state(),
                SessionState::Established,
                "a valid OPEN and KEEPALIVE establish the session"
            );
        }
        if check_actions(&actions, decode_failed) {
            return;
        }
    }
}

/// Checks what the machine asks for after one message; whether it closes the connection.
fn check_actions(actions: &[Action], decode_failed: bool) -> bool {
    let mut notifications = 0;
    for action in actions {
        match action {
            Action::SendNotification(notification) => {
                notifications += 1;
                let message = Message::Notification(notification.clone());
                assert!(
                    encode_message(&message).is_ok(),
                    "a NOTIFICATION we send encodes: {notification:?}"
                );
            }
            Action::SendOpen(_) => panic!("an OPEN is only sent when we connect"),
            _ => {}
        }
    }
    let closes = actions
        .iter()
        .any(|action| matches!(action, Action::CloseTcpConnection));
    if decode_failed {
        assert_eq!(notifications, 1, "a bad message is answered: {actions:?}");
        assert!(closes, "a bad message ends the connection");
    }
    assert!(notifications <= 1);
    closes
}

/// A peer's OPEN as a router sends it: 4-octet AS, IPv4 and IPv6 unicast, route refresh.
fn peer_open() -> Vec<u8> {
    encoded(&Message::Open(OpenMessage {
        version: 4,
        my_as: u16::try_from(PEER_AS).unwrap_or(23_456),
        hold_time: 90,
        bgp_identifier: Ipv4Addr::new(198, 51, 100, 1),
        capabilities: vec![
            Capability::MultiProtocol {
                afi: Afi::Ipv4,
                safi: Safi::Unicast,
            },
            Capability::MultiProtocol {
                afi: Afi::Ipv6,
                safi: Safi::Unicast,
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs { asn: PEER_AS },
        ],
    }))
}

fn encoded(message: &Message) -> Vec<u8> {
    match encode_message(message) {
        Ok(bytes) => bytes.to_vec(),
        Err(error) => panic!("a well-formed message encodes: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;
    use rustbgpd_wire::{NotificationCode, NotificationMessage};

    use super::*;

    /// A message with a right header: marker, length, `kind`, `body`.
    fn framed(kind: u8, body: &[u8]) -> Vec<u8> {
        let length = u16::try_from(19 + body.len()).unwrap_or(u16::MAX);
        [&[0xFF; 16][..], &length.to_be_bytes(), &[kind], body].concat()
    }

    proptest! {
        #[test]
        fn framed_messages_of_any_type_and_body_keep_the_invariants(
            messages in proptest::collection::vec((1_u8..=7, proptest::collection::vec(any::<u8>(), 0..300)), 1..4),
        ) {
            let bytes: Vec<u8> = messages.iter().flat_map(|(kind, body)| framed(*kind, body)).collect();
            bgp_message(&bytes);
        }
    }

    #[test]
    fn a_bad_message_left_unanswered_or_kept_open_would_be_caught() {
        let notification = Action::SendNotification(NotificationMessage::new(
            NotificationCode::MessageHeader,
            1,
            Bytes::new(),
        ));
        assert!(check_actions(
            &[notification.clone(), Action::CloseTcpConnection],
            true
        ));
        for unanswered in [vec![Action::CloseTcpConnection], vec![notification]] {
            let caught = std::panic::catch_unwind(|| check_actions(&unanswered, true));
            assert!(caught.is_err(), "{unanswered:?}");
        }
    }

    #[test]
    fn the_peers_open_and_keepalive_establish_the_fuzzed_session() {
        let mut stream = peer_open();
        stream.extend(encoded(&Message::Keepalive));
        // The assertion that it is established runs inside; an UPDATE then keeps it up.
        run_session(&stream, true);
        let mut broken = stream.clone();
        broken[16] = 0xFF; // the OPEN's length: now longer than any message
        let caught = std::panic::catch_unwind(|| run_session(&broken, true));
        assert!(caught.is_ok(), "a bad OPEN is answered, not a panic");
    }
}
