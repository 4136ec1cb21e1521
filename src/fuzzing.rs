//! The bodies of the fuzz targets in `fuzz/`, shared with the corpus replay test so that what CI
//! replays on stable is exactly what libFuzzer runs on nightly.
//!
//! Each function takes arbitrary bytes, must not panic on any input, and asserts the promises of
//! the part it drives; a failed assertion is a bug, which libFuzzer reports as a crash. Nothing in
//! the daemon calls these.
//!
//! | target        | drives                                                                  |
//! |---------------|-------------------------------------------------------------------------|
//! | `sip_parse`   | [`sip::parse`], the event built from it and its JSON line, the reply     |
//! | `sip_framing` | [`sip::check_frame`] in the stream loop, whole and in small chunks       |
//! | `p2p_record`  | a gossip batch, [`SignedRecord::verify`], and bodies signed by a test key |
//! | `config`      | [`Config::from_toml`] and [`Config::validate`]                           |

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use libp2p::identity::Keypair;
use uuid::Uuid;

use crate::config::{Config, ConfigError};
use crate::event::{
    BadActor, Capture, CollectedMethod, MAX_RECORDED_MESSAGE_BYTES, ORIGINAL_JSON_KEYS, Origin,
    Transport,
};
use crate::p2p::Batch;
use crate::p2p::record::{MAX_RECORD_BYTES, MAX_SHARED_MESSAGE_BYTES, SignedRecord};
use crate::sip::{
    self, FrameCheck, Inbound, MAX_HEADERS, MessageKind, Pbx, Personality, StreamFramer,
    check_frame, parse,
};

/// A fuzz target's body: any bytes in, a panic only on a broken invariant.
pub type Target = fn(&[u8]);

/// The fuzz targets, by the name of their directory under `fuzz/corpus/`.
pub const TARGETS: [(&str, Target); 4] = [
    ("sip_parse", sip_parse),
    ("sip_framing", sip_framing),
    ("p2p_record", p2p_record),
    ("config", config),
];

/// Sender of every fuzzed message (a documentation address).
const SOURCE: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
    5060,
);

/// `--p2p-network` the records are checked against.
pub const NETWORK: &str = "sentrypeer";

/// Stream caps the framing target runs with: a small one, so that oversized messages are reached
/// with small inputs, and a realistic one.
const FRAMING_CAPS: [usize; 2] = [64, 1024];

/// Read sizes the framing target feeds a stream in, in turn (a slow sender, then faster ones).
const CHUNK_SIZES: [usize; 6] = [1, 2, 5, 13, 64, 500];

/// [`sip::parse`] on any bytes: the raw bytes are kept, the fields agree with the kind, every
/// borrowed slice points into the input, the event records the message, its JSON line is one valid
/// JSON object, and any reply is one whole response no bigger than a UDP request.
pub fn sip_parse(data: &[u8]) {
    let probe = parse(data);
    assert!(std::ptr::eq(probe.raw, data), "parse keeps the raw bytes");
    assert!(probe.headers.len() <= MAX_HEADERS);
    assert_eq!(probe.kind == MessageKind::Malformed, probe.defect.is_some());
    assert_eq!(probe.kind == MessageKind::Request, probe.method.is_some());
    assert_eq!(
        probe.kind == MessageKind::Request,
        probe.request_uri.is_some()
    );
    assert_eq!(
        probe.kind == MessageKind::Response,
        probe.status_code.is_some()
    );
    for header in &probe.headers {
        assert!(!header.name.is_empty(), "a header has a name");
        assert!(is_within(header.name, data) && is_within(header.value, data));
    }
    assert!(is_within(probe.body, data));
    for field in [
        probe.called_number(),
        probe.request_uri_user(),
        probe.user_agent(),
        probe.call_id(),
        probe.via(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(is_within(field, data));
    }
    let _ = (probe.cseq_method(), probe.content_length());

    let event = BadActor::from_probe(&probe, &capture());
    let recorded = data.get(..data.len().min(MAX_RECORDED_MESSAGE_BYTES));
    let decoded = String::from_utf8_lossy(recorded.unwrap_or_default());
    assert!(
        decoded.starts_with(&event.sip_message)
            && event.sip_message.len() <= MAX_RECORDED_MESSAGE_BYTES,
        "the message is recorded as decoded, at most the cap after decoding"
    );
    assert_eq!(
        event.sip_message.len() < decoded.len(),
        crate::event::message_is_cut(data),
        "a cut is told"
    );
    check_event_json(&event);

    for name in ["freepbx", "generic", "canned"] {
        let Ok(personality) = Personality::builtin(name) else {
            continue;
        };
        let canned = name == "canned";
        for max_reply_bytes in [Some(data.len()), None] {
            check_reply_plan(&probe, &personality, max_reply_bytes, canned);
        }
    }
}

/// Every message a personality plans for `probe`, now and when its timers fire, is a response
/// (or our `BYE`), only ever for a request, one framed message (the original's canned reply
/// excepted: it has no blank line), and over UDP never bigger than the request; over UDP from a
/// source that has not shown it receives our replies, all of them together are not either.
fn check_reply_plan(
    probe: &sip::Probe<'_>,
    personality: &Personality,
    max_reply_bytes: Option<usize>,
    canned: bool,
) {
    let now = Instant::now();
    let mut pbx = Pbx::new(personality.clone(), [7; 16], now);
    let inbound = Inbound {
        probe,
        source: SOURCE,
        local: capture().destination,
        transport: if max_reply_bytes.is_some() {
            "UDP"
        } else {
            "TCP"
        },
        max_reply_bytes,
    };
    let plan = pbx.handle(&inbound, now);
    let proven = plan.source_proven;
    let mut outgoing = plan.immediate;
    for timer in &plan.timers {
        outgoing.extend(pbx.fire(timer, now + timer.after).immediate);
    }
    if let Some(limit) = max_reply_bytes.filter(|_| !proven) {
        let total: usize = outgoing.iter().map(|message| message.bytes.len()).sum();
        assert!(
            total <= limit,
            "an unproven UDP source gets back at most what it sent"
        );
    }
    if !outgoing.is_empty() {
        assert_eq!(
            probe.kind,
            MessageKind::Request,
            "only requests are answered"
        );
    }
    for message in outgoing {
        let reply = &message.bytes;
        if let Some(limit) = max_reply_bytes {
            assert!(
                reply.len() <= limit,
                "a UDP message is never bigger than the request"
            );
        }
        let expected = match message.status {
            Some(_) => MessageKind::Response,
            None => MessageKind::Request,
        };
        assert_eq!(parse(reply).kind, expected);
        if !canned {
            assert_eq!(
                check_frame(reply, usize::MAX),
                FrameCheck::Complete(reply.len()),
                "a reply is exactly one framed message"
            );
        }
    }
}

/// [`sip::check_frame`] on any bytes, alone and driving the stream loop the TCP and TLS
/// listeners run: lengths stay within the buffer and the cap, the buffer never holds more than
/// the cap without being refused, and the messages framed do not depend on how the bytes arrived.
pub fn sip_framing(data: &[u8]) {
    for cap in [0, 64, 1024, usize::MAX] {
        match check_frame(data, cap) {
            FrameCheck::Skip(count) => {
                assert!(count > 0 && count <= data.len());
                assert!(data.iter().take(count).all(|&b| b == b'\r' || b == b'\n'));
            }
            FrameCheck::Complete(length) => {
                assert!(length > 0 && length <= data.len() && length <= cap);
            }
            FrameCheck::Incomplete => assert!(data.len() <= cap),
            FrameCheck::TooLarge => assert!(!data.is_empty()),
        }
    }
    for cap in FRAMING_CAPS {
        let at_once = frame_stream(data, &[data.len().max(1)], cap);
        let in_chunks = frame_stream(data, &CHUNK_SIZES, cap);
        assert_eq!(
            at_once, in_chunks,
            "framing does not depend on how the bytes arrive"
        );
    }
}

/// How a stream ended in [`frame_stream`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The sender closed with these bytes not yet a whole message.
    Leftover(Vec<u8>),
    /// A message would pass the cap; the connection is closed.
    TooLarge,
}

/// Feeds `data` to the stream loop `chunk_sizes` bytes at a time (cycling) with cap `cap`, as
/// `transport::stream` does (a [`StreamFramer`], checked against [`check_frame`] at every
/// step), and returns the messages it framed and how it ended.
pub(crate) fn frame_stream(
    data: &[u8],
    chunk_sizes: &[usize],
    cap: usize,
) -> (Vec<Vec<u8>>, StreamEnd) {
    let mut buffer: Vec<u8> = Vec::new();
    let mut framer = StreamFramer::default();
    let mut messages = Vec::new();
    let mut rest = data;
    let mut sizes = chunk_sizes.iter().cycle();
    loop {
        loop {
            let check = framer.check(&buffer, cap);
            assert_eq!(
                check,
                check_frame(&buffer, cap),
                "the framer's memory changes nothing"
            );
            match check {
                FrameCheck::Skip(count) => {
                    assert!(count > 0 && count <= buffer.len());
                    buffer.drain(..count);
                }
                FrameCheck::Complete(length) => {
                    assert!(length > 0 && length <= buffer.len() && length <= cap);
                    messages.push(buffer.drain(..length).collect());
                }
                FrameCheck::Incomplete => {
                    assert!(
                        buffer.len() <= cap,
                        "an unrefused buffer stays within the cap"
                    );
                    break;
                }
                FrameCheck::TooLarge => return (messages, StreamEnd::TooLarge),
            }
        }
        if rest.is_empty() {
            return (messages, StreamEnd::Leftover(buffer));
        }
        let size = sizes.next().copied().unwrap_or(1).min(rest.len());
        let (chunk, after) = rest.split_at(size);
        buffer.extend_from_slice(chunk);
        rest = after;
    }
}

/// Bytes from a peer, read three ways: as a gossip batch (each record verified), as one signed
/// record, and as a record body signed with [`test_key`] so the checks after the signature are
/// reached too. A record that verifies gives an event whose fields are within their caps, stored
/// as coming from the node that signed it, and whose kept record verifies again to the same event.
pub fn p2p_record(data: &[u8]) {
    if let Ok(batch) = serde_json::from_slice::<Batch>(data) {
        for record in &batch.records {
            check_record(record);
        }
    }
    let text = String::from_utf8_lossy(data);
    check_record(&text);
    let Ok(signature) = test_key().sign(text.as_bytes()) else {
        panic!("an ed25519 key always signs");
    };
    let signed = SignedRecord {
        body: text.into_owned(),
        signature: hex::encode(signature),
    };
    check_record(&signed.to_json());
}

/// The key the `p2p_record` target signs bodies with (fixed, so the seed corpus can hold bodies
/// naming its PeerId).
pub fn test_key() -> &'static Keypair {
    static KEY: OnceLock<Keypair> = OnceLock::new();
    KEY.get_or_init(|| match Keypair::ed25519_from_bytes([0x5e; 32]) {
        Ok(key) => key,
        Err(error) => panic!("32 bytes are an ed25519 secret key: {error}"),
    })
}

/// The "now" records are checked at, and the retention window they must fall in: fixed, so a
/// corpus file gives the same verdict on every run.
pub fn record_window() -> (Timestamp, SignedDuration) {
    (
        Timestamp::constant(1_767_225_600, 0), // 2026-01-01T00:00:00Z
        SignedDuration::from_hours(24 * 3650),
    )
}

fn check_record(text: &str) {
    let (now, retention) = record_window();
    let verified = SignedRecord::verify(text, NETWORK, Some(retention), now);
    let (author, event) = match verified {
        Ok(verified) => verified,
        Err(error) => {
            assert_one_line(&error.to_string());
            return;
        }
    };
    assert!(text.len() <= MAX_RECORD_BYTES);
    assert!(event.sip_message.len() <= MAX_SHARED_MESSAGE_BYTES);
    for field in [
        &event.called_number,
        &event.sip_method,
        &event.sip_user_agent,
    ] {
        assert!(field.len() <= 1024);
    }
    let Origin::Peer(origin) = &event.origin else {
        panic!("a verified record is stored as a peer's");
    };
    assert_eq!(origin.peer_id, author.to_base58());
    let Some(kept) = origin.signed_record.as_deref() else {
        panic!("a verified record keeps what was signed");
    };
    match SignedRecord::verify(kept, NETWORK, Some(retention), now) {
        Ok((again_author, again)) => {
            assert_eq!(again_author, author);
            assert_eq!(again, event, "the kept record verifies to the same event");
        }
        Err(error) => panic!("the kept record of a verified one is refused: {error}"),
    }
    check_event_json(&event);
}

/// TOML text as an operator's config file: parsing and validation end in a value or in an error
/// of one line (it is printed as `sentrypeer: <error>`), never in a panic.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Config::from_toml(&text, Path::new("fuzz.toml")) {
        Ok(config) => {
            if let Err(error) = crate::app::Settings::from_config(&config) {
                assert_one_line(&error.to_string());
            }
        }
        Err(error) => {
            assert_one_line(&error.to_string());
            if let ConfigError::Parse {
                line: Some(line), ..
            } = error
            {
                assert!(line >= 1 && line <= text.split('\n').count());
            }
        }
    }
}

/// The event's JSON line: one line, a valid JSON object, the 13 original keys first and in order,
/// every value a string that reads back as the field it came from.
fn check_event_json(event: &BadActor) {
    let line = event.to_json_line();
    assert!(!line.contains('\n'), "one JSON log line per event");
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str(&line) else {
        panic!("the event's JSON line is not a JSON object: {line}");
    };
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(
        keys.get(..ORIGINAL_JSON_KEYS.len()),
        Some(&ORIGINAL_JSON_KEYS[..])
    );
    assert!(object.values().all(serde_json::Value::is_string));
    for (key, field) in [
        ("called_number", &event.called_number),
        ("sip_method", &event.sip_method),
        ("sip_user_agent", &event.sip_user_agent),
        ("sip_message", &event.sip_message),
    ] {
        assert_eq!(
            object.get(key).and_then(|v| v.as_str()),
            Some(field.as_str())
        );
    }
}

fn assert_one_line(message: &str) {
    assert!(
        !message.contains(['\n', '\r']),
        "error message is one line: {message:?}"
    );
}

/// Whether `part` is a slice of `whole` (empty slices anywhere count).
fn is_within(part: &[u8], whole: &[u8]) -> bool {
    part.is_empty()
        || whole.as_ptr_range().start <= part.as_ptr() && {
            let end = part.as_ptr_range().end;
            end <= whole.as_ptr_range().end
        }
}

fn capture() -> Capture {
    Capture {
        node_id: Uuid::nil(),
        collected_method: CollectedMethod::Responsive,
        transport: Transport::Udp,
        source: SOURCE,
        destination: SocketAddr::from(([192, 0, 2, 10], 5060)),
    }
}

#[cfg(test)]
mod tests;
