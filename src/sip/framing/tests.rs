//! Tests of stream framing: keep-alives, back-to-back messages, split bodies and the size cap.

use proptest::prelude::*;

use super::*;
use crate::fuzzing::{StreamEnd, frame_stream};

const MAX: usize = 4096;

const OPTIONS: &[u8] = b"OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:50999;branch=z9hG4bK-1\r\n\
Content-Length: 0\r\n\
\r\n";

const INVITE: &[u8] = b"INVITE sip:1000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:50999;branch=z9hG4bK-2\r\n\
content-length: 11\r\n\
\r\n\
v=0\r\ns=-\r\nx";

#[test]
fn keep_alives_are_skipped() {
    assert_eq!(check_frame(b"\r\n\r\nOPTIONS", MAX), FrameCheck::Skip(4));
    assert_eq!(check_frame(b"\r\n", MAX), FrameCheck::Skip(2));
    assert_eq!(check_frame(b"\n", MAX), FrameCheck::Skip(1));
}

#[test]
fn empty_buffer_is_incomplete() {
    assert_eq!(check_frame(b"", MAX), FrameCheck::Incomplete);
}

#[test]
fn two_messages_back_to_back_frame_one_at_a_time() {
    let stream = [OPTIONS, INVITE].concat();
    assert_eq!(
        check_frame(&stream, MAX),
        FrameCheck::Complete(OPTIONS.len())
    );
    let rest = &stream[OPTIONS.len()..];
    assert_eq!(check_frame(rest, MAX), FrameCheck::Complete(INVITE.len()));
}

#[test]
fn body_split_across_reads_is_incomplete_until_whole() {
    let headers_only = INVITE.len() - 11;
    for cut in 1..INVITE.len() {
        assert_eq!(
            check_frame(&INVITE[..cut], MAX),
            FrameCheck::Incomplete,
            "cut at {cut}"
        );
    }
    assert_eq!(
        check_frame(&INVITE[..headers_only], MAX),
        FrameCheck::Incomplete
    );
    assert_eq!(check_frame(INVITE, MAX), FrameCheck::Complete(INVITE.len()));
}

#[test]
fn bare_lf_and_mixed_endings_end_the_header_section() {
    let bare = b"OPTIONS sip:1@h SIP/2.0\nl: 2\n\nhiNEXT";
    assert_eq!(check_frame(bare, MAX), FrameCheck::Complete(bare.len() - 4));
    let mixed = b"OPTIONS sip:1@h SIP/2.0\r\nContent-Length: 0\n\r\nNEXT";
    assert_eq!(
        check_frame(mixed, MAX),
        FrameCheck::Complete(mixed.len() - 4)
    );
}

#[test]
fn missing_or_unreadable_content_length_means_no_body() {
    let missing = b"OPTIONS sip:1@h SIP/2.0\r\nTo: <sip:1@h>\r\n\r\nNEXT";
    assert_eq!(
        check_frame(missing, MAX),
        FrameCheck::Complete(missing.len() - 4)
    );
    let unreadable = b"OPTIONS sip:1@h SIP/2.0\r\nContent-Length: ten\r\n\r\nNEXT";
    assert_eq!(
        check_frame(unreadable, MAX),
        FrameCheck::Complete(unreadable.len() - 4)
    );
}

#[test]
fn huge_content_length_is_too_large() {
    let huge = b"INVITE sip:1@h SIP/2.0\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    assert_eq!(check_frame(huge, MAX), FrameCheck::TooLarge);
    let over_cap = b"INVITE sip:1@h SIP/2.0\r\nContent-Length: 5000\r\n\r\n";
    assert_eq!(check_frame(over_cap, MAX), FrameCheck::TooLarge);
    let near_overflow = format!("INVITE sip:1@h SIP/2.0\r\nl: {}\r\n\r\n", usize::MAX - 3);
    assert_eq!(
        check_frame(near_overflow.as_bytes(), usize::MAX),
        FrameCheck::TooLarge
    );
}

#[test]
fn no_header_end_within_the_cap_is_too_large() {
    let endless = [b"OPTIONS sip:1@h SIP/2.0\r\n".as_slice(), &[b'a'; 200]].concat();
    assert_eq!(check_frame(&endless, 100), FrameCheck::TooLarge);
    assert_eq!(check_frame(&endless, 1000), FrameCheck::Incomplete);
    assert_eq!(
        check_frame(OPTIONS, OPTIONS.len()),
        FrameCheck::Complete(OPTIONS.len())
    );
    assert_eq!(
        check_frame(OPTIONS, OPTIONS.len() - 1),
        FrameCheck::TooLarge
    );
}

/// Found by the `sip_parse` fuzz target: a folded `Via` whose continuation line read ` l: 5` was
/// taken for a `Content-Length` by framing (the parser, rightly, reads it as part of the `Via`),
/// so the reply echoing that `Via` did not frame as the one message it is.
#[test]
fn a_folded_line_is_part_of_the_previous_header_not_a_content_length() {
    let folded = b"OPTIONS sip:1@h SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n l: 5\r\n\r\nNEXT";
    let headers_end = folded.len() - b"NEXT".len();
    assert_eq!(check_frame(folded, MAX), FrameCheck::Complete(headers_end));
    let tab_folded = b"OPTIONS sip:1@h SIP/2.0\r\nVia: h\r\n\tContent-Length: 4\r\n\r\nNEXT";
    assert_eq!(
        check_frame(tab_folded, MAX),
        FrameCheck::Complete(tab_folded.len() - 4)
    );
    // A real Content-Length after the folded line still counts.
    let both = b"OPTIONS sip:1@h SIP/2.0\r\nVia: h\r\n l: 9\r\nl: 4\r\n\r\nBODY";
    assert_eq!(check_frame(both, MAX), FrameCheck::Complete(both.len()));
}

/// The lengths of the messages the stream loop frames from `stream` in reads of `read` bytes,
/// and how it ended; [`frame_stream`] asserts at every step that the [`StreamFramer`] answers as
/// [`check_frame`] does.
fn framed_by_framer(stream: &[u8], read: usize, max: usize) -> (Vec<usize>, StreamEnd) {
    let (messages, end) = frame_stream(stream, &[read.max(1)], max);
    (messages.iter().map(Vec::len).collect(), end)
}

#[test]
fn the_stream_framer_answers_as_check_frame_whatever_the_read_sizes() {
    // Blank lines of every ending, split at every point by one-byte reads.
    let stream = [
        OPTIONS,
        b"\r\n",
        INVITE,
        b"REGISTER sip:a SIP/2.0\n\nMESSAGE sip:a SIP/2.0\r\n\nBYE sip:a SIP/2.0\n\r\n",
    ]
    .concat();
    let expected = (
        vec![OPTIONS.len(), INVITE.len(), 24, 24, 20],
        StreamEnd::Leftover(Vec::new()),
    );
    for read in [1, 2, 3, 5, 64, stream.len()] {
        assert_eq!(
            framed_by_framer(&stream, read, MAX),
            expected,
            "reads of {read}"
        );
    }
    // Over the cap in the header section, and by its body.
    let refused = (Vec::new(), StreamEnd::TooLarge);
    assert_eq!(framed_by_framer(&[b'a'; 100], 7, 64), refused);
    assert_eq!(framed_by_framer(INVITE, 1, INVITE.len() - 1), refused);
}

#[test]
fn the_stream_framer_does_not_search_again_what_it_has_searched() {
    let mut framer = StreamFramer::default();
    let mut buffer = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n".repeat(100);
    assert_eq!(framer.check(&buffer, MAX), FrameCheck::Incomplete);
    // Against the contract, a blank line appears in bytes it has already searched: check_frame
    // sees it, the framer (which only looks at the last 3 of them again) does not.
    buffer[40..44].copy_from_slice(b"\r\n\r\n");
    buffer.extend_from_slice(b"More: y\r\n");
    assert_eq!(check_frame(&buffer, MAX), FrameCheck::Complete(44));
    assert_eq!(framer.check(&buffer, MAX), FrameCheck::Incomplete);
    // Once the header section has ended, only the body's length is awaited.
    let mut framer = StreamFramer::default();
    let split = INVITE.len() - 3;
    assert_eq!(framer.check(&INVITE[..split], MAX), FrameCheck::Incomplete);
    let mut altered = INVITE.to_vec();
    altered[..7].copy_from_slice(b"XXXXXXX");
    assert_eq!(
        framer.check(&altered, MAX),
        FrameCheck::Complete(INVITE.len())
    );
}

proptest! {
    #[test]
    fn the_stream_framer_agrees_with_check_frame_on_any_bytes(
        lines in proptest::collection::vec("[a-zA-Z:0-9 \\r\\n-]{0,20}", 0..12),
        read in 1usize..40,
        max in 0usize..400,
    ) {
        // frame_stream asserts the agreement at every step.
        let stream = lines.concat();
        let by_framer = framed_by_framer(stream.as_bytes(), read, max);
        let at_once = framed_by_framer(stream.as_bytes(), stream.len(), max);
        prop_assert_eq!(by_framer, at_once);
    }
    #[test]
    fn never_panics_and_complete_lengths_are_in_bounds(
        buf in proptest::collection::vec(any::<u8>(), 0..512),
        max in 0usize..600,
    ) {
        match check_frame(&buf, max) {
            FrameCheck::Complete(length) => {
                prop_assert!(length > 0);
                prop_assert!(length <= buf.len());
                prop_assert!(length <= max);
            }
            FrameCheck::Skip(count) => {
                prop_assert!(count > 0);
                prop_assert!(count <= buf.len());
            }
            FrameCheck::Incomplete | FrameCheck::TooLarge => {}
        }
    }

    #[test]
    fn sip_like_streams_frame_in_bounds(
        lines in proptest::collection::vec("[a-zA-Z:0-9 \\r\\n-]{0,20}", 0..12),
        max in 0usize..400,
    ) {
        let buf = lines.concat();
        if let FrameCheck::Complete(length) = check_frame(buf.as_bytes(), max) {
            prop_assert!(length > 0 && length <= buf.len() && length <= max);
        }
    }
}
