//! Stream framing for SIP over TCP and TLS: where the next message ends.

/// Outcome of looking at the start of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCheck {
    /// The buffer starts with this many bytes of CRLF keep-alive to discard.
    Skip(usize),
    /// A whole message (headers and `Content-Length` body) is the first this many bytes.
    Complete(usize),
    /// More bytes are needed.
    Incomplete,
    /// The message would be larger than the cap.
    TooLarge,
}

/// Looks for one complete message at the start of `buf`, never longer than `max_message_bytes`.
pub fn check_frame(buf: &[u8], max_message_bytes: usize) -> FrameCheck {
    let _ = (buf, max_message_bytes);
    FrameCheck::Incomplete
}
