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
    let keep_alive_bytes = buf
        .iter()
        .take_while(|&&byte| byte == b'\r' || byte == b'\n')
        .count();
    if keep_alive_bytes > 0 {
        return FrameCheck::Skip(keep_alive_bytes);
    }
    // A header section longer than the cap is too large whatever follows, so only the first
    // `max_message_bytes` bytes are searched.
    let searched = buf
        .get(..buf.len().min(max_message_bytes))
        .unwrap_or_default();
    let Some(header_end) = header_section_end(searched) else {
        return if buf.len() > max_message_bytes {
            FrameCheck::TooLarge
        } else {
            FrameCheck::Incomplete
        };
    };
    let header_section = searched.get(..header_end).unwrap_or_default();
    let body_length = content_length(header_section).unwrap_or(0);
    match header_end.checked_add(body_length) {
        Some(total) if total <= max_message_bytes => {
            if buf.len() < total {
                FrameCheck::Incomplete
            } else {
                FrameCheck::Complete(total)
            }
        }
        _ => FrameCheck::TooLarge,
    }
}

/// Offset just past the blank line that ends the header section, when `buf` holds one.
fn header_section_end(buf: &[u8]) -> Option<usize> {
    memchr_iter(b'\n', buf).find_map(|newline| {
        let after = newline.checked_add(1)?;
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
