//! What a peer sends, from bytes to state-machine events: messages cut from the TCP stream by
//! their header's length (never buffering more than one message), decoded by rustbgpd's codec;
//! UPDATEs only counted (the speaker accepts no route), everything else handed to the session's
//! state machine. A framing or decoding error ends the stream: the state machine answers it with
//! a NOTIFICATION.

use bytes::{Buf, Bytes, BytesMut};
use rustbgpd_fsm::Event;
use rustbgpd_wire::attribute::PathAttribute;
use rustbgpd_wire::{
    DecodeError, EXTENDED_MAX_MESSAGE_LEN, MAX_MESSAGE_LEN, Message, RouteRefreshSubtype,
    UpdateMessage, decode_message, peek_message_length,
};

/// Cuts whole messages from a peer's byte stream.
#[derive(Debug)]
pub(crate) struct Framer {
    buffer: BytesMut,
    max_len: u16,
    /// Set after an error: the stream cannot be resynchronised.
    failed: bool,
}

impl Default for Framer {
    fn default() -> Self {
        Self {
            buffer: BytesMut::with_capacity(usize::from(MAX_MESSAGE_LEN)),
            max_len: MAX_MESSAGE_LEN,
            failed: false,
        }
    }
}

impl Framer {
    /// Allows messages up to 65,535 bytes (RFC 8654, once negotiated).
    pub(crate) fn allow_extended_messages(&mut self) {
        self.max_len = EXTENDED_MAX_MESSAGE_LEN;
    }

    /// Bytes it wants before it can cut the next message (at most one message's worth), so a
    /// reader never buffers more than that.
    pub(crate) fn wanted(&self) -> usize {
        let have = self.buffer.len();
        match peek_message_length(&self.buffer, self.max_len) {
            Ok(Some(length)) => usize::from(length).saturating_sub(have).max(1),
            Ok(None) => 19 - have,
            Err(_) => 1,
        }
    }

    /// Adds bytes read from the stream.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        if !self.failed {
            self.buffer.extend_from_slice(data);
        }
    }

    /// The next whole message, an error (then none any more), or `None` until more bytes come.
    pub(crate) fn next_message(&mut self) -> Option<Result<Message, DecodeError>> {
        if self.failed {
            return None;
        }
        let outcome = match peek_message_length(&self.buffer, self.max_len) {
            Ok(None) => return None,
            Ok(Some(length)) if self.buffer.len() < usize::from(length) => return None,
            Ok(Some(length)) => {
                let mut frame: Bytes = self.buffer.split_to(usize::from(length)).freeze();
                decode_message(&mut frame, self.max_len).and_then(|message| {
                    if frame.has_remaining() {
                        Err(DecodeError::Incomplete {
                            needed: 0,
                            available: frame.remaining(),
                        })
                    } else {
                        Ok(message)
                    }
                })
            }
            Err(error) => Err(error),
        };
        if outcome.is_err() {
            self.failed = true;
            self.buffer = BytesMut::new();
        }
        Some(outcome)
    }

    /// Bytes held.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

/// What one decoded message means for the session.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// An event for the state machine.
    Event(Event),
    /// An UPDATE: ignored but counted (prefixes it announced, or why it did not parse: RFC
    /// 7606's treat-as-withdraw, which for a speaker that accepts no route is nothing to do),
    /// and [`Event::UpdateReceived`] for the state machine (it restarts the hold timer).
    Update(Result<usize, DecodeError>),
    /// A ROUTE-REFRESH, with its event; `resend` for a normal request of a family we send
    /// (Enhanced Route Refresh markers only restart the hold timer).
    RouteRefresh {
        /// Its event.
        event: Event,
        /// Whether the peer asks for our routes again.
        resend: bool,
    },
    /// A message type this speaker does not use: ignored.
    Ignored,
}

/// The meaning of a decoded message (or of a decoding error).
pub(crate) fn interpret(decoded: Result<Message, DecodeError>, four_octet_as: bool) -> Inbound {
    match decoded {
        Err(error) => Inbound::Event(Event::DecodeError(error)),
        Ok(Message::Open(open)) => Inbound::Event(Event::OpenReceived(open)),
        Ok(Message::Keepalive) => Inbound::Event(Event::KeepaliveReceived),
        Ok(Message::Notification(notification)) => {
            Inbound::Event(Event::NotificationReceived(notification))
        }
        Ok(Message::Update(update)) => Inbound::Update(announced_prefixes(&update, four_octet_as)),
        Ok(Message::RouteRefresh(refresh)) => match (refresh.afi(), refresh.safi()) {
            (Some(afi), Some(safi)) => Inbound::RouteRefresh {
                event: Event::RouteRefreshReceived { afi, safi },
                resend: refresh.subtype() == RouteRefreshSubtype::Normal,
            },
            _ => Inbound::Ignored,
        },
        Ok(_) => Inbound::Ignored,
    }
}

/// Prefixes an UPDATE announces (IPv4 NLRI and MP_REACH_NLRI of any family).
///
/// # Errors
///
/// The UPDATE's attributes or NLRI do not parse.
pub(crate) fn announced_prefixes(
    update: &UpdateMessage,
    four_octet_as: bool,
) -> Result<usize, DecodeError> {
    let parsed = update.parse(four_octet_as, false, &[])?;
    let mp: usize = (parsed.attributes.iter())
        .map(|attribute| match attribute {
            PathAttribute::MpReachNlri(reach) => reach.announced.len(),
            _ => 0,
        })
        .sum();
    Ok(parsed.announced.len() + mp)
}

#[cfg(test)]
mod tests;
