//! Tests of the parser: start lines, header lines, folding, caps, accessors and properties.

use proptest::prelude::*;

use super::*;

fn text(bytes: Option<&[u8]>) -> Option<&str> {
    bytes.map(|bytes| std::str::from_utf8(bytes).expect("test values are UTF-8"))
}

const SVMAP: &[u8] = b"OPTIONS sip:100@1.1.1.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.5:5060;branch=z9hG4bK-1;rport\r\n\
To: \"sipvicious\"<sip:100@1.1.1.1>\r\n\
From: \"sipvicious\"<sip:100@1.1.1.1>;tag=6137\r\n\
User-Agent: friendly-scanner\r\n\
Call-ID: 7938565634\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n";

#[test]
fn empty_and_whitespace_only_input_is_empty() {
    for input in [&b""[..], b"\r\n", b"\r\n\r\n", b" \t\n "] {
        let probe = parse(input);
        assert_eq!(probe.kind, MessageKind::Empty, "{input:?}");
        assert_eq!(probe.defect, None);
        assert!(probe.headers.is_empty());
        assert_eq!(probe.raw, input);
    }
}

#[test]
fn a_scanner_request_is_read_fully() {
    let probe = parse(SVMAP);
    assert_eq!(probe.kind, MessageKind::Request);
    assert_eq!(probe.defect, None);
    assert_eq!(probe.method, Some("OPTIONS"));
    assert_eq!(text(probe.request_uri), Some("sip:100@1.1.1.1"));
    assert_eq!(text(probe.called_number()), Some("100"));
    assert_eq!(text(probe.request_uri_user()), Some("100"));
    assert_eq!(text(probe.user_agent()), Some("friendly-scanner"));
    assert_eq!(text(probe.call_id()), Some("7938565634"));
    assert_eq!(
        text(probe.from()),
        Some("\"sipvicious\"<sip:100@1.1.1.1>;tag=6137")
    );
    assert_eq!(
        text(probe.via()),
        Some("SIP/2.0/UDP 192.168.1.5:5060;branch=z9hG4bK-1;rport")
    );
    assert_eq!(text(probe.cseq()), Some("1 OPTIONS"));
    assert_eq!(probe.cseq_method(), Some("OPTIONS"));
    assert_eq!(probe.content_length(), Some(0));
    assert_eq!(probe.headers.len(), 7);
    assert!(probe.headers_complete);
    assert!(probe.body.is_empty());
}

#[test]
fn leading_line_breaks_are_skipped() {
    let input = [b"\r\n\n\r\n".as_slice(), SVMAP].concat();
    let probe = parse(&input);
    assert_eq!(probe.kind, MessageKind::Request);
    assert_eq!(probe.method, Some("OPTIONS"));
}

#[test]
fn responses_are_read_not_rejected() {
    let probe = parse(b"SIP/2.0 404 Not Found\r\nTo: <sip:1@h>;tag=x\r\nUser-Agent: pbx\r\n\r\n");
    assert_eq!(probe.kind, MessageKind::Response);
    assert_eq!(probe.status_code, Some(404));
    assert_eq!(probe.method, None);
    assert_eq!(text(probe.called_number()), Some("1"));
    assert_eq!(text(probe.user_agent()), Some("pbx"));
}

#[test]
fn malformed_start_line_still_yields_headers() {
    let probe = parse(b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\nTo: <sip:5@h>\r\n\r\n");
    assert_eq!(probe.kind, MessageKind::Malformed);
    assert_eq!(probe.defect, Some(ParseDefect::NotSipProtocol));
    assert_eq!(probe.method, None);
    assert_eq!(text(probe.user_agent()), Some("curl/8"));
    assert_eq!(text(probe.called_number()), Some("5"));
    assert!(probe.headers_complete);

    let garbage = parse(b"hello world");
    assert_eq!(garbage.kind, MessageKind::Malformed);
    assert_eq!(garbage.defect, Some(ParseDefect::BadStartLine));
    let truncated = parse(b"OPTIONS sip:100@1.1.1.1 SI");
    assert_eq!(truncated.defect, Some(ParseDefect::BadStartLine));
}

#[test]
fn missing_blank_line_is_accepted() {
    let probe = parse(b"OPTIONS sip:1@h SIP/2.0\nTo: <sip:1@h>\nUser-Agent: x");
    assert_eq!(probe.kind, MessageKind::Request);
    assert!(!probe.headers_complete);
    assert_eq!(text(probe.user_agent()), Some("x"));
    assert!(probe.body.is_empty());
    let start_line_only = parse(b"OPTIONS sip:1@h SIP/2.0");
    assert_eq!(start_line_only.kind, MessageKind::Request);
    assert!(start_line_only.headers.is_empty());
}

#[test]
fn body_is_everything_after_the_blank_line() {
    let probe = parse(b"INVITE sip:1@h SIP/2.0\r\nl: 5\r\n\r\nv=0\r\n\r\nmore");
    assert_eq!(probe.body, b"v=0\r\n\r\nmore");
    assert_eq!(probe.content_length(), Some(5));
}

#[test]
fn folded_lines_extend_the_previous_value_in_place() {
    let input = b"OPTIONS sip:1@h SIP/2.0\r\nSubject: first\r\n  second\r\n\tthird\r\nTo: <sip:2@h>\r\n\r\n";
    let probe = parse(input);
    assert_eq!(
        probe.header("subject"),
        Some(&b"first\r\n  second\r\n\tthird"[..])
    );
    assert_eq!(text(probe.called_number()), Some("2"));
    let empty_first = parse(b"OPTIONS sip:1@h SIP/2.0\nSubject:\n folded\n\n");
    assert_eq!(empty_first.header("Subject"), Some(&b"folded"[..]));
    let orphan = parse(b"OPTIONS sip:1@h SIP/2.0\n continued\nnot a header\n more\n\n");
    assert!(orphan.headers.is_empty());
}

#[test]
fn lines_without_a_colon_are_skipped() {
    let probe = parse(b"OPTIONS sip:1@h SIP/2.0\r\njunk line\r\nTo: <sip:3@h>\r\n\r\n");
    assert_eq!(probe.headers.len(), 1);
    assert_eq!(text(probe.called_number()), Some("3"));
}

#[test]
fn header_lookup_is_case_insensitive_and_knows_compact_forms() {
    let probe = parse(
        b"OPTIONS sip:1@h SIP/2.0\r\nv: one\r\nVIA: two\r\nvia : three\r\nt: <sip:4@h>\r\n\
i: cid\r\nf: <sip:x@h>;tag=1\r\nl: 0\r\nk: timer\r\nc: application/sdp\r\nm: <sip:c@h>\r\n\r\n",
    );
    let vias: Vec<&[u8]> = probe.headers_named("Via").collect();
    assert_eq!(vias, vec![&b"one"[..], b"two", b"three"]);
    assert_eq!(text(probe.via()), Some("one"));
    assert_eq!(text(probe.called_number()), Some("4"));
    assert_eq!(text(probe.call_id()), Some("cid"));
    assert_eq!(text(probe.from()), Some("<sip:x@h>;tag=1"));
    assert_eq!(probe.content_length(), Some(0));
    assert_eq!(text(probe.header("Supported")), Some("timer"));
    assert_eq!(text(probe.header("content-type")), Some("application/sdp"));
    assert_eq!(text(probe.header("Contact")), Some("<sip:c@h>"));
    assert!(probe.headers[0].has_name("VIA"));
}

#[test]
fn user_agent_is_none_when_absent_or_empty() {
    assert_eq!(parse(b"OPTIONS sip:1@h SIP/2.0\r\n\r\n").user_agent(), None);
    assert_eq!(
        parse(b"OPTIONS sip:1@h SIP/2.0\r\nUser-agent:\r\n\r\n").user_agent(),
        None
    );
    assert_eq!(
        parse(b"OPTIONS sip:1@h SIP/2.0\r\nUser-agent:   \r\n\r\n").user_agent(),
        None
    );
}

#[test]
fn called_number_follows_the_original_rules() {
    let number = |to: &str| {
        let input = format!("INVITE sip:0044@h SIP/2.0\r\nTo: {to}\r\n\r\n");
        parse(input.as_bytes()).called_number().map(<[u8]>::to_vec)
    };
    assert_eq!(
        number("<sip:+441234567890@h>"),
        Some(b"+441234567890".to_vec())
    );
    assert_eq!(number("<sip:@1.1.1.1>"), None);
    assert_eq!(number("<sip:1.1.1.1>"), None);
    assert_eq!(number("<tel:+4412345>"), Some(b"+4412345".to_vec()));
    assert_eq!(
        parse(b"INVITE sip:0044@h SIP/2.0\r\n\r\n").called_number(),
        None
    );
}

#[test]
fn header_count_is_capped() {
    let mut input = b"OPTIONS sip:1@h SIP/2.0\r\n".to_vec();
    for index in 0..(MAX_HEADERS + 50) {
        input.extend_from_slice(format!("X-{index}: v\r\n").as_bytes());
    }
    input.extend_from_slice(b"To: <sip:late@h>\r\n\r\nbody");
    let probe = parse(&input);
    assert_eq!(probe.headers.len(), MAX_HEADERS);
    assert_eq!(probe.called_number(), None);
    assert!(probe.headers_complete);
    assert_eq!(probe.body, b"body");
}

#[test]
fn cseq_method_needs_a_token() {
    let cseq = |value: &str| {
        let input = format!("OPTIONS sip:1@h SIP/2.0\r\nCSeq: {value}\r\n\r\n");
        parse(input.as_bytes()).cseq_method().map(str::to_owned)
    };
    assert_eq!(cseq("1 INVITE"), Some("INVITE".to_owned()));
    assert_eq!(cseq("  22   BYE  "), Some("BYE".to_owned()));
    assert_eq!(cseq("1"), None);
    assert_eq!(cseq("1 \u{e9}"), None);
}

/// A header value generator: printable, no leading or trailing whitespace.
const VALUE: &str = "[a-zA-Z0-9./_-]([a-zA-Z0-9 ./_-]{0,30}[a-zA-Z0-9./_-])?";

fn build_request(method: &str, user: &str, agent: &str, line_ends_crlf: &[bool]) -> Vec<u8> {
    let lines = [
        format!("{method} sip:{user}@203.0.113.1 SIP/2.0"),
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-p".to_owned(),
        "From: <sip:p@192.0.2.1>;tag=1".to_owned(),
        format!("To: \"x\" <sip:{user}@203.0.113.1>"),
        "Call-ID: prop@192.0.2.1".to_owned(),
        format!("CSeq: 1 {method}"),
        format!("User-Agent: {agent}"),
        "Content-Length: 0".to_owned(),
        String::new(),
    ];
    let mut message = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        message.extend_from_slice(line.as_bytes());
        let crlf = line_ends_crlf.get(index).copied().unwrap_or(true);
        message.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    message
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let probe = parse(&input);
        let _ = (probe.called_number(), probe.request_uri_user(), probe.user_agent());
        let _ = (probe.cseq_method(), probe.content_length(), probe.headers_named("Via").count());
        prop_assert!(probe.headers.len() <= MAX_HEADERS);
        prop_assert_eq!(probe.kind == MessageKind::Malformed, probe.defect.is_some());
    }

    #[test]
    fn sip_shaped_bytes_never_panic(
        lines in proptest::collection::vec("[A-Za-z:;<>@\"=, \\t\\r\\n/.0-9+-]{0,40}", 0..10),
    ) {
        let input = lines.join("\r\n");
        let probe = parse(input.as_bytes());
        let _ = (probe.called_number(), probe.request_uri_user(), probe.user_agent());
    }

    #[test]
    fn well_formed_requests_parse_back(
        method in "[A-Z]{3,10}",
        user in "\\+?[0-9a-z]{1,15}",
        agent in VALUE,
        line_ends_crlf in proptest::collection::vec(any::<bool>(), 9),
    ) {
        let message = build_request(&method, &user, &agent, &line_ends_crlf);
        let probe = parse(&message);
        prop_assert_eq!(probe.kind, MessageKind::Request);
        prop_assert_eq!(probe.method, Some(method.as_str()));
        prop_assert_eq!(probe.called_number(), Some(user.as_bytes()));
        prop_assert_eq!(probe.request_uri_user(), Some(user.as_bytes()));
        prop_assert_eq!(probe.user_agent(), Some(agent.as_bytes()));
        prop_assert_eq!(probe.cseq_method(), Some(method.as_str()));
        prop_assert!(probe.headers_complete);
    }

    #[test]
    fn carriage_returns_do_not_change_fields(
        method in "[A-Z]{3,10}",
        user in "\\+?[0-9]{1,15}",
        agent in VALUE,
        line_ends_crlf in proptest::collection::vec(any::<bool>(), 9),
    ) {
        let mixed = build_request(&method, &user, &agent, &line_ends_crlf);
        let crlf = build_request(&method, &user, &agent, &[true; 9]);
        let bare_lf: Vec<u8> = crlf.iter().copied().filter(|&byte| byte != b'\r').collect();
        let expected = parse(&crlf);
        for variant in [&mixed, &bare_lf] {
            let probe = parse(variant);
            prop_assert_eq!(probe.kind, expected.kind);
            prop_assert_eq!(probe.method, expected.method);
            prop_assert_eq!(probe.called_number(), expected.called_number());
            prop_assert_eq!(probe.user_agent(), expected.user_agent());
            prop_assert_eq!(probe.call_id(), expected.call_id());
            prop_assert_eq!(probe.headers.len(), expected.headers.len());
            prop_assert_eq!(probe.headers_complete, expected.headers_complete);
        }
    }
}

/// One header line of a generated request: its long name, compact form if any, and value.
struct GeneratedHeader {
    long: &'static str,
    compact: Option<&'static str>,
    value: String,
}

/// Writes `name` in mixed case from `case_bits` (bit i set = upper-case letter i).
fn mixed_case(name: &str, case_bits: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if case_bits >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// A value folded onto a continuation line before its first space, when it has one.
fn folded(value: &str, fold_with_tab: bool, line_end: &str) -> String {
    match value.split_once(' ') {
        Some((head, tail)) => {
            let indent = if fold_with_tab { "\t" } else { " " };
            format!("{head}{line_end}{indent}{tail}")
        }
        None => value.to_owned(),
    }
}

/// The value with its folds undone: line breaks removed and every run of SP/HT one SP (RFC 3261
/// §7.3.1: folded whitespace means one space).
fn unfolded(value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(value.len());
    for &byte in value.iter().filter(|&&byte| byte != b'\r' && byte != b'\n') {
        let blank = byte == b' ' || byte == b'\t';
        if blank && out.last() == Some(&b' ') {
            continue;
        }
        out.push(if blank { b' ' } else { byte });
    }
    out
}

proptest! {
    #[test]
    fn requests_in_any_header_order_case_and_form_give_back_their_fields(
        method in "[A-Z]{3,10}",
        user in "\\+?[0-9]{1,15}",
        uri_user in "[0-9]{1,12}",
        agent in "[a-zA-Z0-9./_-]{1,12}( [a-zA-Z0-9./_-]{1,12}){0,2}",
        call_id in "[a-zA-Z0-9.@-]{1,30}",
        order in Just((0..8usize).collect::<Vec<_>>()).prop_shuffle(),
        case_bits in any::<u64>(),
        compact in proptest::collection::vec(any::<bool>(), 8),
        fold in proptest::collection::vec(any::<bool>(), 8),
        fold_with_tab in any::<bool>(),
        space_before_colon in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let line_end = if crlf { "\r\n" } else { "\n" };
        let headers = [
            GeneratedHeader { long: "Via", compact: Some("v"), value: "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-1".to_owned() },
            GeneratedHeader { long: "From", compact: Some("f"), value: "\"scanner\" <sip:100@198.51.100.7>;tag=a1".to_owned() },
            GeneratedHeader { long: "To", compact: Some("t"), value: format!("\"x\" <sip:{user}@203.0.113.1>") },
            GeneratedHeader { long: "Call-ID", compact: Some("i"), value: call_id.clone() },
            GeneratedHeader { long: "CSeq", compact: None, value: format!("1 {method}") },
            GeneratedHeader { long: "User-Agent", compact: None, value: agent.clone() },
            GeneratedHeader { long: "Max-Forwards", compact: None, value: "70".to_owned() },
            GeneratedHeader { long: "Contact", compact: Some("m"), value: "<sip:100@198.51.100.7:5060>".to_owned() },
        ];
        let mut message = format!("{method} sip:{uri_user}@203.0.113.1 SIP/2.0{line_end}");
        for &index in &order {
            let header = &headers[index];
            let name = match header.compact {
                Some(short) if compact[index] => short.to_owned(),
                _ => mixed_case(header.long, case_bits.rotate_left(index as u32 * 8)),
            };
            let colon = if space_before_colon { " :" } else { ":" };
            // CSeq is left unfolded: its method is checked as a token.
            let value = if fold[index] && header.long != "CSeq" {
                folded(&header.value, fold_with_tab, line_end)
            } else {
                header.value.clone()
            };
            message.push_str(&format!("{name}{colon} {value}{line_end}"));
        }
        message.push_str(line_end);

        let probe = parse(message.as_bytes());
        prop_assert!(std::ptr::eq(probe.raw, message.as_bytes()));
        prop_assert_eq!(probe.kind, MessageKind::Request);
        prop_assert_eq!(probe.method, Some(method.as_str()));
        prop_assert_eq!(probe.headers.len(), headers.len());
        prop_assert!(probe.headers_complete);
        prop_assert_eq!(probe.called_number(), Some(user.as_bytes()));
        prop_assert_eq!(probe.request_uri_user(), Some(uri_user.as_bytes()));
        prop_assert_eq!(probe.call_id(), Some(call_id.as_bytes()));
        prop_assert_eq!(probe.cseq_method(), Some(method.as_str()));
        prop_assert_eq!(probe.user_agent().map(unfolded), Some(agent.into_bytes()));
        prop_assert_eq!(probe.body, b"");
    }

    #[test]
    fn arbitrary_bytes_keep_every_fuzzing_invariant(
        input in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        crate::fuzzing::sip_parse(&input);
        crate::fuzzing::sip_framing(&input);
    }
}
