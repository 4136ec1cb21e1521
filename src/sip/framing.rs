//! Stream framing for SIP over TCP and TLS: where the next message ends.
//!
//! A stream message is its header section (ended by a blank line) plus `Content-Length` bytes of
//! body (RFC 3261 §18.3). Nothing here allocates or copies.

use memchr::memchr_iter;

use super::syntax::{Lines, is_space_or_tab, parse_decimal, same_header_name, split_header_line};

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
///
/// - Leading CR/LF bytes (RFC 5626 keep-alives) give [`FrameCheck::Skip`] with their count.
/// - The header section ends at the first blank line (`\r\n\r\n`, `\n\n` or mixed endings).
///   Without one, the buffer is [`FrameCheck::Incomplete`], or [`FrameCheck::TooLarge`] once it
///   is longer than the cap.
/// - The body length is the first `Content-Length` (or compact `l`) header. Missing or not a
///   number counts as 0 (lenient: the bytes after the headers then start the next message).
/// - A message (headers + body) longer than the cap is [`FrameCheck::TooLarge`].
pub fn check_frame(buf: &[u8], max_message_bytes: usize) -> FrameCheck {
    locate(buf, max_message_bytes, 0).check(buf.len())
}

/// [`check_frame`] for a buffer that only grows between calls, as a connection's read buffer
/// does: it remembers how far it has searched for the end of the header section, and where the
/// message ends once that is known, so a message arriving a byte at a time is not searched again
/// from its start on every read (quadratic work a sender could ask for on purpose).
///
/// Contract: after [`FrameCheck::Incomplete`] the caller may only append to the buffer; after
/// any other answer it removes the bytes it was told of (or clears the buffer), and the framer
/// starts afresh.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamFramer {
    progress: Progress,
}

/// What a [`StreamFramer`] knows about the message at the start of the buffer.
#[derive(Debug, Clone, Copy)]
enum Progress {
    /// The first this many bytes hold no end of the header section.
    Searched(usize),
    /// The header section has ended; the message is this long.
    MessageLength(usize),
}

impl Default for Progress {
    fn default() -> Self {
        Self::Searched(0)
    }
}

impl StreamFramer {
    /// What [`check_frame`] says of `buf`, without searching again the bytes searched before.
    pub fn check(&mut self, buf: &[u8], max_message_bytes: usize) -> FrameCheck {
        let located = match self.progress {
            Progress::MessageLength(length) => Located::Message(length),
            // A blank line can straddle the old end: its first newline is at most 3 bytes back.
            Progress::Searched(searched) => {
                locate(buf, max_message_bytes, searched.saturating_sub(3))
            }
        };
        let check = located.check(buf.len());
        self.progress = match (check, located) {
            (FrameCheck::Incomplete, Located::Message(length)) => Progress::MessageLength(length),
            (FrameCheck::Incomplete, _) => Progress::Searched(buf.len().min(max_message_bytes)),
            _ => Progress::default(),
        };
        check
    }
}

/// What the start of a buffer holds, before comparing with how many bytes have arrived.
#[derive(Debug, Clone, Copy)]
enum Located {
    /// Keep-alive bytes.
    KeepAlive(usize),
    /// No end of the header section yet, within the cap.
    HeaderSectionOpen,
    /// Past the cap, in its header section or with its body.
    TooLarge,
    /// A message this long (headers and body), within the cap.
    Message(usize),
}

impl Located {
    /// The answer for a buffer of `buffered` bytes.
    fn check(self, buffered: usize) -> FrameCheck {
        match self {
            Self::KeepAlive(count) => FrameCheck::Skip(count),
            Self::HeaderSectionOpen => FrameCheck::Incomplete,
            Self::TooLarge => FrameCheck::TooLarge,
            Self::Message(length) if buffered < length => FrameCheck::Incomplete,
            Self::Message(length) => FrameCheck::Complete(length),
        }
    }
}

/// Finds the message at the start of `buf` (see [`check_frame`]), searching for the end of its
/// header section from `search_from` on: the bytes before it are known to hold none.
fn locate(buf: &[u8], max_message_bytes: usize, search_from: usize) -> Located {
    let keep_alive_bytes = buf
        .iter()
        .take_while(|&&byte| byte == b'\r' || byte == b'\n')
        .count();
    if keep_alive_bytes > 0 {
        return Located::KeepAlive(keep_alive_bytes);
    }
    // A header section longer than the cap is too large whatever follows, so only the first
    // `max_message_bytes` bytes are searched.
    let searched = buf
        .get(..buf.len().min(max_message_bytes))
        .unwrap_or_default();
    let Some(header_end) = header_section_end(searched, search_from) else {
        return if buf.len() > max_message_bytes {
            Located::TooLarge
        } else {
            Located::HeaderSectionOpen
        };
    };
    let header_section = searched.get(..header_end).unwrap_or_default();
    let body_length = content_length(header_section).unwrap_or(0);
    match header_end.checked_add(body_length) {
        Some(total) if total <= max_message_bytes => Located::Message(total),
        _ => Located::TooLarge,
    }
}

/// Offset just past the blank line that ends the header section, when `buf` holds one whose
/// first newline is at `from` or later.
fn header_section_end(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    memchr_iter(b'\n', tail).find_map(|newline| {
        let after = newline.checked_add(from)?.checked_add(1)?;
        match buf.get(after..) {
            Some([b'\n', ..]) => after.checked_add(1),
            Some([b'\r', b'\n', ..]) => after.checked_add(2),
            _ => None,
        }
    })
}

/// The first `Content-Length` value in a header section (its start line skipped). A line starting
/// with SP or HT continues the previous header's value (RFC 3261 §7.3.1), as the parser reads it,
/// so a folded ` l: 5` is not a `Content-Length`.
fn content_length(header_section: &[u8]) -> Option<usize> {
    Lines::new(header_section, 0)
        .skip(1)
        .filter_map(|line| header_section.get(line.start..line.content_end))
        .filter(|content| !content.first().copied().is_some_and(is_space_or_tab))
        .filter_map(split_header_line)
        .find(|header| same_header_name(header.name, b"Content-Length"))
        .and_then(|header| parse_decimal(header.value))
}

#[cfg(test)]
mod tests;
