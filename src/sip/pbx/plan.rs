//! What the responder decides for one message or timer: the messages to send now, the timers
//! for later ones, whether the source is proven, and what was held back (for the counters).

use std::time::Duration;

use super::budget::Budget;
use super::dialogs::{DialogKey, Step};
#[cfg(doc)]
use super::{PROVEN_SOURCE_EXPIRY, Pbx};

/// One message to send to the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The whole message.
    pub bytes: Vec<u8>,
    /// Its status code; `None` for a request of ours (`BYE`).
    pub status: Option<u16>,
}

/// Something to do later in a dialog; hand it back to [`Pbx::fire`] after [`Timer::after`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// Delay from the moment the plan was made.
    pub after: Duration,
    pub(super) dialog: DialogKey,
    pub(super) id: u64,
    pub(super) step: Step,
}

/// What to send for one request or timer: messages now, and timers for later ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyPlan {
    /// Messages to send now, in order.
    pub immediate: Vec<Outgoing>,
    /// Timers to schedule.
    pub timers: Vec<Timer>,
    /// Whether the source has shown it receives our replies: the message came over TCP/TLS, or
    /// echoed the nonce of our challenge or our `To` tag (now or within
    /// [`PROVEN_SOURCE_EXPIRY`]). A UDP source that has not may be a spoofed address.
    pub source_proven: bool,
    /// What the responder held back or refused while planning (the transport counts it).
    pub screening: Screening,
}

/// What the responder held back or refused for one message, so the transport can count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Screening {
    /// Datagrams not sent: the source has not shown it receives our replies and they would
    /// have made us send it more than it sent.
    pub withheld: u32,
    /// An `ACK`, `BYE` or in-dialog request matched a dialog but its `To` tag is not ours: it
    /// did not touch the dialog.
    pub foreign_to_tag: bool,
    /// Credentials that do not answer a nonce we gave this source: answered as if absent.
    pub foreign_nonce: bool,
}

impl ReplyPlan {
    /// Whether there is nothing to send or schedule.
    pub fn is_empty(&self) -> bool {
        self.immediate.is_empty() && self.timers.is_empty()
    }

    pub(super) fn push(&mut self, bytes: Option<Vec<u8>>, status: Option<u16>) {
        if let Some(bytes) = bytes {
            self.immediate.push(Outgoing { bytes, status });
        }
    }

    /// Pushes a dialog's message if its budget allows (counted as withheld otherwise); a
    /// `final_response` may use the room kept for it.
    pub(super) fn push_within(
        &mut self,
        budget: &mut Budget,
        bytes: Option<Vec<u8>>,
        status: Option<u16>,
        final_response: bool,
    ) {
        let Some(bytes) = bytes else {
            return;
        };
        if budget.take(bytes.len(), final_response) {
            self.immediate.push(Outgoing { bytes, status });
        } else {
            self.screening.withheld += 1;
        }
    }

    pub(super) fn single(bytes: Option<Vec<u8>>, status: u16) -> Self {
        let mut plan = Self::default();
        plan.push(bytes, Some(status));
        plan
    }
}
