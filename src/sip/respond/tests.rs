//! Tests of the reply policy: who gets no reply, header echo, our To tag and the size tiers.

use proptest::prelude::*;

use super::*;
use crate::sip::parse::parse;

const OPTIONS: &[u8] = b"OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:50999;branch=z9hG4bK-abc\r\n\
From: \"Smoke\" <sip:smoke@127.0.0.1>;tag=from1\r\n\
To: <sip:1000@127.0.0.1>\r\n\
Call-ID: call-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
User-Agent: test\r\n\
Content-Length: 0\r\n\r\n";

fn reply_to(input: &[u8], source: &str, max_reply_bytes: Option<usize>) -> Option<String> {
    let personality = Personality::default();
    let ctx = ReplyContext {
        source: source.parse().expect("valid address"),
        max_reply_bytes,
        personality: &personality,
    };
    respond(&parse(input), &ctx).map(|reply| String::from_utf8(reply).expect("UTF-8 reply"))
}

fn replace(input: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(input.to_vec())
        .expect("UTF-8")
        .replacen(from, to, 1)
        .into_bytes()
}

#[test]
fn options_gets_an_rfc_shaped_200_ok() {
    let reply = reply_to(OPTIONS, "127.0.0.1:50999", None).expect("a reply");
    let tag = dialog_tag(b"call-1@127.0.0.1", Some(b"from1"));
    let expected = format!(
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:50999;branch=z9hG4bK-abc\r\n\
From: \"Smoke\" <sip:smoke@127.0.0.1>;tag=from1\r\n\
To: <sip:1000@127.0.0.1>;tag={tag}\r\n\
Call-ID: call-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Server: FPBX-16.0.33(18.13.0)\r\n\
Allow: OPTIONS, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, REGISTER, REFER, MESSAGE\r\n\
Accept: application/sdp\r\n\
Supported: 100rel, timer, replaces, norefersub\r\n\
Content-Length: 0\r\n\r\n"
    );
    assert_eq!(reply, expected);
    assert_eq!(tag.len(), 16);
}

#[test]
fn reply_parses_back_as_a_response() {
    let reply = reply_to(OPTIONS, "192.0.2.1:5060", None).expect("a reply");
    let probe = parse(reply.as_bytes());
    assert_eq!(probe.kind, MessageKind::Response);
    assert_eq!(probe.status_code, Some(200));
    assert_eq!(probe.content_length(), Some(0));
    assert!(probe.body.is_empty());
    assert!(probe.headers_complete);
    assert_eq!(probe.cseq_method(), Some("OPTIONS"));
}

#[test]
fn no_reply_to_responses_ack_empty_or_malformed_messages() {
    let ack = replace(OPTIONS, "OPTIONS sip", "ACK sip");
    assert_eq!(reply_to(&ack, "192.0.2.1:5060", None), None);
    let response = replace(
        OPTIONS,
        "OPTIONS sip:1000@127.0.0.1 SIP/2.0",
        "SIP/2.0 200 OK",
    );
    assert_eq!(reply_to(&response, "192.0.2.1:5060", None), None);
    assert_eq!(reply_to(b"", "192.0.2.1:5060", None), None);
    assert_eq!(reply_to(b"\r\n\r\n", "192.0.2.1:5060", None), None);
    let malformed = replace(OPTIONS, "SIP/2.0\r\nVia", "HTTP/1.1\r\nVia");
    assert_eq!(reply_to(&malformed, "192.0.2.1:5060", None), None);
}

#[test]
fn every_non_ack_method_is_answered() {
    for method in [
        "INVITE",
        "REGISTER",
        "BYE",
        "CANCEL",
        "SUBSCRIBE",
        "MESSAGE",
        "FOO",
    ] {
        let request = replace(OPTIONS, "OPTIONS sip", &format!("{method} sip"));
        assert!(
            reply_to(&request, "192.0.2.1:5060", None).is_some(),
            "{method}"
        );
    }
}

#[test]
fn no_reply_without_every_transaction_header() {
    for header in ["Via:", "From:", "To:", "Call-ID:", "CSeq:"] {
        let without = replace(OPTIONS, header, "X-Removed:");
        assert_eq!(reply_to(&without, "192.0.2.1:5060", None), None, "{header}");
    }
    let empty_call_id = replace(OPTIONS, "Call-ID: call-1@127.0.0.1", "Call-ID:");
    assert_eq!(reply_to(&empty_call_id, "192.0.2.1:5060", None), None);
}

#[test]
fn no_reply_to_spoofed_looking_sources() {
    for source in [
        "192.0.2.1:0",
        "0.0.0.0:5060",
        "255.255.255.255:5060",
        "224.0.0.1:5060",
        "[::]:5060",
    ] {
        assert_eq!(reply_to(OPTIONS, source, None), None, "{source}");
    }
    for source in [
        "[ff02::1]:5060",
        "[::ffff:0.0.0.0]:5060",
        "[::ffff:239.1.1.1]:5060",
    ] {
        assert_eq!(reply_to(OPTIONS, source, None), None, "{source}");
    }
    assert!(reply_to(OPTIONS, "[2001:db8::1]:5060", None).is_some());
}

#[test]
fn header_injection_gets_no_reply_but_folding_is_copied() {
    let injected = replace(OPTIONS, ";tag=from1", ";tag=from1\rX-Injected: yes");
    assert_eq!(reply_to(&injected, "192.0.2.1:5060", None), None);
    let folded = replace(
        OPTIONS,
        "Call-ID: call-1@127.0.0.1",
        "Call-ID: call-1\r\n @127.0.0.1",
    );
    let reply = reply_to(&folded, "192.0.2.1:5060", None).expect("a reply");
    assert!(reply.contains("Call-ID: call-1\r\n @127.0.0.1\r\n"));
    assert!(is_safe_header_value(b"a\r\n b\n\tc"));
    assert!(!is_safe_header_value(b"a\r\nb"));
    assert!(!is_safe_header_value(b"a\nb"));
    assert!(!is_safe_header_value(b"a\rb"));
    assert!(!is_safe_header_value(b"a\r\n"));
    assert!(!is_safe_header_value(b"a\r\r\n b"));
}

#[test]
fn to_tag_is_stable_per_dialog_and_kept_when_present() {
    let first = reply_to(OPTIONS, "192.0.2.1:5060", None);
    let again = reply_to(OPTIONS, "192.0.2.1:5060", None);
    assert_eq!(first, again);
    assert_ne!(
        dialog_tag(b"call-1", Some(b"a")),
        dialog_tag(b"call-2", Some(b"a"))
    );
    assert_ne!(
        dialog_tag(b"call-1", Some(b"a")),
        dialog_tag(b"call-1", Some(b"b"))
    );
    assert_ne!(
        dialog_tag(b"call-1", None),
        dialog_tag(b"call-1", Some(b""))
    );
    let tagged = replace(
        OPTIONS,
        "To: <sip:1000@127.0.0.1>",
        "To: <sip:1000@127.0.0.1>;tag=theirs",
    );
    let reply = reply_to(&tagged, "192.0.2.1:5060", None).expect("a reply");
    assert!(reply.contains("\r\nTo: <sip:1000@127.0.0.1>;tag=theirs\r\n"));
}

#[test]
fn size_limit_falls_back_to_server_only_then_minimal_then_nothing() {
    let full = reply_to(OPTIONS, "127.0.0.1:50999", None).expect("a reply");
    assert_eq!(
        reply_to(OPTIONS, "127.0.0.1:50999", Some(full.len())),
        Some(full.clone())
    );
    let server_only =
        reply_to(OPTIONS, "127.0.0.1:50999", Some(full.len() - 1)).expect("server only");
    assert!(server_only.contains("\r\nServer: ") && !server_only.contains("Allow:"));
    let minimal =
        reply_to(OPTIONS, "127.0.0.1:50999", Some(server_only.len() - 1)).expect("minimal");
    assert!(minimal.len() < server_only.len());
    assert!(!minimal.contains("Server:") && !minimal.contains("Allow:"));
    assert!(
        minimal.contains("\r\nCSeq: 1 OPTIONS\r\n")
            && minimal.ends_with("Content-Length: 0\r\n\r\n")
    );
    assert_eq!(
        reply_to(OPTIONS, "127.0.0.1:50999", Some(minimal.len())),
        Some(minimal.clone())
    );
    assert_eq!(
        reply_to(OPTIONS, "127.0.0.1:50999", Some(minimal.len() - 1)),
        None
    );
    assert_eq!(reply_to(OPTIONS, "127.0.0.1:50999", Some(0)), None);
}

#[test]
fn unusable_personality_values_are_left_out() {
    let personality = Personality {
        server: "Evil\r\nX-Injected: yes".to_owned(),
        allow: String::new(),
        ..Personality::default()
    };
    let ctx = ReplyContext {
        source: "192.0.2.1:5060".parse().expect("valid address"),
        max_reply_bytes: None,
        personality: &personality,
    };
    let reply = respond(&parse(OPTIONS), &ctx).expect("a reply");
    let reply = String::from_utf8(reply).expect("UTF-8");
    assert!(!reply.contains("Server:") && !reply.contains("Allow:") && !reply.contains("Injected"));
    assert!(reply.contains("Supported: 100rel"));
}

proptest! {
    #[test]
    fn replies_respect_the_limit_and_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        limit in proptest::option::of(0usize..800),
    ) {
        let _ = reply_to_bytes(&input, limit);
    }

    #[test]
    fn replies_to_mutated_requests_respect_the_limit(
        cut in 0usize..OPTIONS.len(),
        insert in "[\\r\\n;,<>\" a-z]{0,8}",
        limit in proptest::option::of(0usize..800),
    ) {
        let mutated = [&OPTIONS[..cut], insert.as_bytes(), &OPTIONS[cut..]].concat();
        if let Some(reply) = reply_to_bytes(&mutated, limit) {
            prop_assert!(limit.is_none_or(|limit| reply.len() <= limit));
            prop_assert!(reply.starts_with(STATUS_LINE));
            prop_assert!(reply.ends_with(b"\r\nContent-Length: 0\r\n\r\n"));
        }
    }
}

fn reply_to_bytes(input: &[u8], max_reply_bytes: Option<usize>) -> Option<Vec<u8>> {
    let personality = Personality::default();
    let ctx = ReplyContext {
        source: "192.0.2.1:5060".parse().expect("valid address"),
        max_reply_bytes,
        personality: &personality,
    };
    let reply = respond(&parse(input), &ctx);
    if let (Some(reply), Some(limit)) = (&reply, max_reply_bytes) {
        assert!(reply.len() <= limit);
    }
    reply
}
