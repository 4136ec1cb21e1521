//! Tests of the reply writer: the canned bytes, the transaction echo, our To tag, the size forms
//! and the header-injection guard.

use proptest::prelude::*;

use super::*;
use crate::sip::parse::{MessageKind, parse};

const OPTIONS: &[u8] = b"OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:50999;branch=z9hG4bK-abc\r\n\
From: \"Smoke\" <sip:smoke@127.0.0.1>;tag=from1\r\n\
To: <sip:1000@127.0.0.1>\r\n\
Call-ID: call-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
User-Agent: test\r\n\
Content-Length: 0\r\n\r\n";

fn transaction(input: &[u8], source: &str) -> Option<Transaction> {
    let source = source.parse().expect("valid address");
    Transaction::from_request(&parse(input), source, |call_id, tag| {
        format!("t{}-{}", call_id.len(), tag.map_or(0, <[u8]>::len))
    })
}

fn replace(input: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(input.to_vec())
        .expect("UTF-8")
        .replacen(from, to, 1)
        .into_bytes()
}

fn sample_response() -> Response {
    Response::new(401, "Unauthorized").with([
        Field::bytes(
            "WWW-Authenticate",
            b"Digest realm=\"asterisk\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"".to_vec(),
            Keep::Always,
        )
        .with_short(b"Digest realm=\"asterisk\",nonce=\"abc\"".to_vec()),
        Field::bytes("Allow", b"INVITE, ACK".to_vec(), Keep::Optional),
        Field::bytes("Server", b"FPBX-16.0.33(18.13.0)".to_vec(), Keep::Identity),
    ])
}

#[test]
fn canned_reply_is_the_originals_729_bytes() {
    assert_eq!(CANNED_REPLY.len(), 729);
    assert!(CANNED_REPLY.starts_with(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5061\r\n"));
    assert!(CANNED_REPLY.ends_with(b"Server: FPBX-16.0.33(18.13.0)\r\nContent-Length:  0\r\n"));
    assert!(!CANNED_REPLY.contains(&0));
    assert_eq!(canned_reply(None).as_deref(), Some(CANNED_REPLY));
    assert_eq!(canned_reply(Some(729)).as_deref(), Some(CANNED_REPLY));
    assert_eq!(
        canned_reply(Some(728)),
        None,
        "never bigger than a UDP request"
    );
}

#[test]
fn full_response_echoes_the_transaction_then_its_headers() {
    let transaction = transaction(OPTIONS, "127.0.0.1:50999").expect("a transaction");
    let reply = write_response(&transaction, &sample_response(), None).expect("a reply");
    let expected = "SIP/2.0 401 Unauthorized\r\n\
Via: SIP/2.0/UDP 127.0.0.1:50999;branch=z9hG4bK-abc\r\n\
From: \"Smoke\" <sip:smoke@127.0.0.1>;tag=from1\r\n\
To: <sip:1000@127.0.0.1>;tag=t16-5\r\n\
Call-ID: call-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
WWW-Authenticate: Digest realm=\"asterisk\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"\r\n\
Allow: INVITE, ACK\r\n\
Server: FPBX-16.0.33(18.13.0)\r\n\
Content-Length: 0\r\n\r\n";
    assert_eq!(String::from_utf8(reply).expect("UTF-8"), expected);
}

#[test]
fn shrinking_drops_advertisement_then_server_then_goes_compact_then_gives_up() {
    let transaction = transaction(OPTIONS, "127.0.0.1:50999").expect("a transaction");
    let response = sample_response();
    let text = |limit| write_response(&transaction, &response, limit).map(String::from_utf8);
    let full = text(None).expect("full").expect("UTF-8");
    let with_server = text(Some(full.len() - 1)).expect("smaller").expect("UTF-8");
    assert!(with_server.contains("\r\nServer: ") && !with_server.contains("Allow:"));
    let essential = text(Some(with_server.len() - 1))
        .expect("smaller")
        .expect("UTF-8");
    assert!(!essential.contains("Server:") && essential.contains("qop=\"auth\""));
    assert!(essential.contains("\r\nVia: ") && essential.contains("\r\nCall-ID: "));
    // The compact form with Server is tried next, but here it is not smaller than this one.
    let compact_with_server = text(Some(essential.len() - 1))
        .expect("smaller")
        .expect("UTF-8");
    assert!(
        compact_with_server.contains("\r\nv: SIP/2.0/UDP"),
        "{compact_with_server}"
    );
    let compact = if compact_with_server.contains("Server:") {
        text(Some(compact_with_server.len() - 1))
            .expect("smaller")
            .expect("UTF-8")
    } else {
        compact_with_server
    };
    assert!(compact.contains("\r\nv: SIP/2.0/UDP") && compact.contains("\r\ni: call-1@"));
    assert!(!compact.contains("Server:"));
    assert!(compact.contains("\r\nCSeq: 1 OPTIONS\r\n") && compact.ends_with("\r\nl: 0\r\n\r\n"));
    assert!(compact.contains("WWW-Authenticate: Digest realm=\"asterisk\",nonce=\"abc\"\r\n"));
    assert_eq!(text(Some(compact.len())), Some(Ok(compact.clone())));
    assert_eq!(text(Some(compact.len() - 1)), None);
    let parsed = parse(compact.as_bytes());
    assert_eq!(
        (parsed.kind, parsed.status_code),
        (MessageKind::Response, Some(401))
    );
    assert_eq!(parsed.call_id(), Some(&b"call-1@127.0.0.1"[..]));
}

#[test]
fn a_short_server_survives_in_the_compact_form() {
    let transaction = transaction(OPTIONS, "127.0.0.1:50999").expect("a transaction");
    let response =
        Response::new(200, "OK").with([Field::bytes("Server", b"PBX".to_vec(), Keep::Identity)]);
    let text = |limit| write_response(&transaction, &response, limit).map(String::from_utf8);
    let with_server = text(None).expect("full").expect("UTF-8");
    let essential = text(Some(with_server.len() - 1))
        .expect("smaller")
        .expect("UTF-8");
    assert!(!essential.contains("Server:") && essential.contains("\r\nCall-ID: "));
    let compact_with_server = text(Some(essential.len() - 1))
        .expect("smaller")
        .expect("UTF-8");
    assert!(
        compact_with_server.contains("\r\nServer: PBX\r\n")
            && compact_with_server.contains("\r\ni: ")
    );
}

#[test]
fn body_gets_its_type_and_exact_length_and_a_short_form() {
    let transaction = transaction(OPTIONS, "127.0.0.1:50999").expect("a transaction");
    let response = Response::new(200, "OK").with_body(Body {
        content_type: "application/sdp",
        full: b"v=0\r\ns=long\r\n".to_vec(),
        short: b"v=0\r\n".to_vec(),
    });
    let full = write_response(&transaction, &response, None).expect("full");
    let full = String::from_utf8(full).expect("UTF-8");
    assert!(
        full.ends_with(
            "Content-Type: application/sdp\r\nContent-Length: 13\r\n\r\nv=0\r\ns=long\r\n"
        )
    );
    let compact = write_response(&transaction, &response, Some(full.len() - 1)).expect("compact");
    let compact = String::from_utf8(compact).expect("UTF-8");
    assert!(
        compact.ends_with("c: application/sdp\r\nl: 5\r\n\r\nv=0\r\n"),
        "{compact}"
    );
}

#[test]
fn our_to_tag_is_added_only_when_the_request_has_none() {
    let added = transaction(OPTIONS, "127.0.0.1:50999").expect("a transaction");
    assert_eq!(added.to(), b"<sip:1000@127.0.0.1>;tag=t16-5");
    let tagged = replace(
        OPTIONS,
        "To: <sip:1000@127.0.0.1>",
        "To: <sip:1000@127.0.0.1>;tag=theirs",
    );
    let kept = transaction(&tagged, "127.0.0.1:50999").expect("a transaction");
    assert_eq!(kept.to(), b"<sip:1000@127.0.0.1>;tag=theirs");
    let untagged_from = replace(OPTIONS, ";tag=from1", "");
    let no_from_tag = transaction(&untagged_from, "127.0.0.1:50999").expect("a transaction");
    assert_eq!(no_from_tag.to(), b"<sip:1000@127.0.0.1>;tag=t16-0");
}

#[test]
fn no_transaction_without_every_mandatory_header_or_with_injection() {
    for header in ["Via:", "From:", "To:", "Call-ID:", "CSeq:"] {
        let without = replace(OPTIONS, header, "X-Removed:");
        assert_eq!(transaction(&without, "192.0.2.1:5060"), None, "{header}");
    }
    let empty_call_id = replace(OPTIONS, "Call-ID: call-1@127.0.0.1", "Call-ID:");
    assert_eq!(transaction(&empty_call_id, "192.0.2.1:5060"), None);
    let injected = replace(OPTIONS, ";tag=from1", ";tag=from1\rX-Injected: yes");
    assert_eq!(transaction(&injected, "192.0.2.1:5060"), None);
    let folded = replace(
        OPTIONS,
        "Call-ID: call-1@127.0.0.1",
        "Call-ID: call-1\r\n @127.0.0.1",
    );
    let kept = transaction(&folded, "192.0.2.1:5060").expect("folding is copied");
    assert_eq!(kept.call_id(), b"call-1\r\n @127.0.0.1");
    assert!(is_safe_header_value(b"a\r\n b\n\tc"));
    for unsafe_value in [&b"a\r\nb"[..], b"a\nb", b"a\rb", b"a\r\n", b"a\r\r\n b"] {
        assert!(!is_safe_header_value(unsafe_value), "{unsafe_value:?}");
    }
}

#[test]
fn every_via_is_echoed_and_only_the_top_one_rewritten() {
    let two_vias = replace(
        OPTIONS,
        "Via: SIP/2.0/UDP 127.0.0.1:50999;branch=z9hG4bK-abc\r\n",
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a;rport\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-b\r\n",
    );
    let transaction = transaction(&two_vias, "203.0.113.5:4000").expect("a transaction");
    let reply = write_response(&transaction, &Response::new(200, "OK"), None).expect("a reply");
    let reply = String::from_utf8(reply).expect("UTF-8");
    assert!(reply.contains(
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a;rport=4000;received=203.0.113.5\r\n\
         Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-b\r\n"
    ));
}

#[test]
fn configured_text_with_line_breaks_or_empty_is_left_out() {
    assert!(Field::text("Server", "Evil\r\nX-Injected: yes", Keep::Identity).is_none());
    assert!(Field::text("Server", "", Keep::Identity).is_none());
    assert!(Field::text("Server", "PBX 1.0", Keep::Identity).is_some());
}

#[test]
fn spoofed_looking_sources_are_not_answerable() {
    for source in [
        "192.0.2.1:0",
        "0.0.0.0:5060",
        "255.255.255.255:5060",
        "224.0.0.1:5060",
        "[::]:5060",
        "[ff02::1]:5060",
        "[::ffff:0.0.0.0]:5060",
        "[::ffff:239.1.1.1]:5060",
    ] {
        assert!(
            !is_answerable_source(source.parse().expect("address")),
            "{source}"
        );
    }
    assert!(is_answerable_source(
        "[2001:db8::1]:5060".parse().expect("address")
    ));
}

proptest! {
    #[test]
    fn written_replies_respect_the_limit_and_parse_back(
        cut in 0usize..OPTIONS.len(),
        insert in "[\\r\\n;,<>\" a-z]{0,8}",
        limit in proptest::option::of(0usize..800),
    ) {
        let mutated = [&OPTIONS[..cut], insert.as_bytes(), &OPTIONS[cut..]].concat();
        if let Some(transaction) = transaction(&mutated, "192.0.2.1:5060")
            && let Some(reply) = write_response(&transaction, &sample_response(), limit)
        {
            prop_assert!(limit.is_none_or(|limit| reply.len() <= limit));
            let parsed = parse(&reply);
            prop_assert_eq!(parsed.kind, MessageKind::Response);
            prop_assert_eq!(parsed.status_code, Some(401));
            prop_assert!(parsed.headers_complete);
        }
    }
}
