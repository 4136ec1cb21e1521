//! The byte budget of a dialog with a UDP source that has not shown it receives our replies
//! (`pbx/proof.rs`): everything we send for the INVITE transaction (provisional, final and `487`
//! responses, retransmitted answers) together stays within the bytes of the INVITE and its
//! retransmissions. Provisional responses only go out when the final response still fits after
//! them, so the answer a caller needs is never the one left out. Every other request gets at
//! most one reply no bigger than itself, so per source, whatever the mix of transactions, we
//! never send more than we received until the source is proven.

/// What a dialog may still send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Budget {
    /// The source is proven (a stream, our nonce or our `To` tag): no byte budget, only the
    /// per-datagram size rule.
    Proven,
    /// Bytes left, and how many of them are kept for the final response.
    Left { bytes: usize, reserve: usize },
}

impl Budget {
    /// The budget of a dialog started by a request of `request_bytes` (`None` for a stream),
    /// from a source proven or not.
    pub(crate) fn new(proven: bool, request_bytes: Option<usize>) -> Self {
        match request_bytes {
            Some(bytes) if !proven => Self::Left { bytes, reserve: 0 },
            _ => Self::Proven,
        }
    }

    /// Keeps `bytes` for the final response.
    pub(crate) fn reserve(&mut self, bytes: usize) {
        if let Self::Left { reserve, .. } = self {
            *reserve = bytes;
        }
    }

    /// Adds what the source sent again (a retransmitted INVITE).
    pub(crate) fn credit(&mut self, more: usize) {
        if let Self::Left { bytes, .. } = self {
            *bytes = bytes.saturating_add(more);
        }
    }

    /// The source has shown it receives our replies.
    pub(crate) fn prove(&mut self) {
        *self = Self::Proven;
    }

    /// Takes `length` bytes for a message: `final_response` may use the reserve (and releases
    /// it), other messages may not. False when the message must not be sent.
    pub(crate) fn take(&mut self, length: usize, final_response: bool) -> bool {
        let Self::Left { bytes, reserve } = self else {
            return true;
        };
        let kept = if final_response { 0 } else { *reserve };
        if bytes.saturating_sub(kept) < length {
            return false;
        }
        *bytes -= length;
        if final_response {
            *reserve = 0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisionals_leave_room_for_the_final_response_and_proof_lifts_the_budget() {
        let mut budget = Budget::new(false, Some(500));
        budget.reserve(400);
        assert!(!budget.take(200, false), "would eat the final's room");
        assert!(budget.take(90, false));
        assert!(budget.take(400, true), "the final fits");
        assert!(!budget.take(11, false), "nothing left");
        budget.credit(500);
        assert!(budget.take(300, false));
        budget.prove();
        assert!(budget.take(usize::MAX, false));
        assert_eq!(Budget::new(true, Some(1)), Budget::Proven);
        assert_eq!(Budget::new(false, None), Budget::Proven, "streams");
    }
}
