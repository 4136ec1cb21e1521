//! Golden tests over the raw probe captures in `tests/fixtures/sip/`: what each parses to, and
//! the reply the default (`freepbx`) personality gives each request (status line, echoed
//! headers, our To tag, `received`/`rport`, and every smaller form down to the UDP limit).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Inbound, MessageKind, Pbx, Personality, Probe, parse};

/// One fixture and what it must give.
struct Case {
    name: &'static str,
    bytes: &'static [u8],
    kind: MessageKind,
    method: Option<&'static str>,
    called_number: Option<&'static [u8]>,
    request_uri_user: Option<&'static [u8]>,
    user_agent: Option<&'static [u8]>,
    /// For requests: where it came from and the top Via our reply must carry.
    reply: Option<ExpectedReply>,
}

struct ExpectedReply {
    /// Status code and reason of the reply.
    status: &'static str,
    source: &'static str,
    top_via: &'static str,
    /// Whether the request's To has no tag, so ours is added.
    adds_to_tag: bool,
}

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/fixtures/sip/", $name))
    };
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "svmap_options.sip",
            bytes: fixture!("svmap_options.sip"),
            kind: MessageKind::Request,
            method: Some("OPTIONS"),
            called_number: Some(b"100"),
            request_uri_user: Some(b"100"),
            user_agent: Some(b"friendly-scanner"),
            reply: Some(ExpectedReply {
                status: "200 OK",
                source: "203.0.113.50:5060",
                top_via: "SIP/2.0/UDP 192.168.1.5:5060;branch=z9hG4bK-1393786542;rport=5060;received=203.0.113.50",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "sipsak_options.sip",
            bytes: fixture!("sipsak_options.sip"),
            kind: MessageKind::Request,
            method: Some("OPTIONS"),
            called_number: Some(b"asterisk"),
            request_uri_user: Some(b"asterisk"),
            user_agent: Some(b"sipsak 0.9.7"),
            reply: Some(ExpectedReply {
                status: "200 OK",
                source: "127.0.1.1:56940",
                top_via: "SIP/2.0/UDP 127.0.1.1:56940;branch=z9hG4bK.1c882828;rport=56940;alias;received=127.0.1.1",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "sipp_invite_sdp.sip",
            bytes: fixture!("sipp_invite_sdp.sip"),
            kind: MessageKind::Request,
            method: Some("INVITE"),
            called_number: Some(b"service"),
            request_uri_user: Some(b"service"),
            user_agent: None,
            reply: Some(ExpectedReply {
                status: "407 Proxy Authentication Required",
                source: "127.0.1.1:5061",
                top_via: "SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-4242-1-0",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "register.sip",
            bytes: fixture!("register.sip"),
            kind: MessageKind::Request,
            method: Some("REGISTER"),
            called_number: Some(b"1001"),
            request_uri_user: None,
            user_agent: Some(b"PolycomVVX-VVX_410-UA/5.9.0.9373"),
            reply: Some(ExpectedReply {
                status: "404 Not Found",
                source: "198.51.100.7:5070",
                top_via: "SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bK-3f1a9c;rport=5070;received=198.51.100.7",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "bare_lf_options.sip",
            bytes: fixture!("bare_lf_options.sip"),
            kind: MessageKind::Request,
            method: Some("OPTIONS"),
            called_number: Some(b"100"),
            request_uri_user: Some(b"100"),
            user_agent: Some(b"lf-scanner/1.0"),
            reply: Some(ExpectedReply {
                status: "200 OK",
                source: "192.0.2.20:5060",
                top_via: "SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-lf1",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "invite_international_number.sip",
            bytes: fixture!("invite_international_number.sip"),
            kind: MessageKind::Request,
            method: Some("INVITE"),
            called_number: Some(b"+441234567890"),
            request_uri_user: Some(b"00441234567890"),
            user_agent: Some(b"eyeBeam release 1011d stamp 40820"),
            reply: Some(ExpectedReply {
                status: "407 Proxy Authentication Required",
                source: "192.0.2.99:5060",
                top_via: "SIP/2.0/UDP 192.0.2.55:5060;branch=z9hG4bK-5a9d0e;received=192.0.2.99",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "compact_form_options.sip",
            bytes: fixture!("compact_form_options.sip"),
            kind: MessageKind::Request,
            method: Some("OPTIONS"),
            called_number: Some(b"200"),
            request_uri_user: Some(b"200"),
            user_agent: Some(b"sipcli/v1.8"),
            reply: Some(ExpectedReply {
                status: "200 OK",
                source: "192.0.2.9:40000",
                top_via: "SIP/2.0/TCP 192.0.2.9:40000;branch=z9hG4bK776asdhds",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "non_utf8_user_agent.sip",
            bytes: fixture!("non_utf8_user_agent.sip"),
            kind: MessageKind::Request,
            method: Some("OPTIONS"),
            called_number: Some(b"999"),
            request_uri_user: Some(b"999"),
            user_agent: Some(b"caf\xe9 scanner \xff"),
            reply: Some(ExpectedReply {
                status: "200 OK",
                source: "192.0.2.77:5060",
                top_via: "SIP/2.0/UDP 192.0.2.77:5060;branch=z9hG4bK-e9",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "proxied_bye.sip",
            bytes: fixture!("proxied_bye.sip"),
            kind: MessageKind::Request,
            method: Some("BYE"),
            called_number: Some(b"alice"),
            request_uri_user: Some(b"alice"),
            user_agent: None,
            reply: Some(ExpectedReply {
                status: "481 Call/Transaction Does Not Exist",
                source: "198.51.100.1:5060",
                top_via: "SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bK2d4790.1;received=198.51.100.1, \
                          SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK74bf9",
                adds_to_tag: false,
            }),
        },
        Case {
            name: "tpot_smoke_options.sip",
            bytes: fixture!("tpot_smoke_options.sip"),
            kind: MessageKind::Request,
            method: Some("OPTIONS"),
            called_number: Some(b"1000"),
            request_uri_user: Some(b"1000"),
            user_agent: Some(b"tpot-sentrypeer-smoke/sentrypeer-udp-1763731200-4242"),
            reply: Some(ExpectedReply {
                status: "200 OK",
                source: "172.18.0.1:50999",
                top_via: "SIP/2.0/UDP 127.0.0.1:50999;branch=z9hG4bK-sentrypeer-udp-1763731200-4242;received=172.18.0.1",
                adds_to_tag: true,
            }),
        },
        Case {
            name: "response_200_ok.sip",
            bytes: fixture!("response_200_ok.sip"),
            kind: MessageKind::Response,
            method: None,
            called_number: Some(b"100"),
            request_uri_user: None,
            user_agent: Some(b"some-pbx"),
            reply: None,
        },
        Case {
            name: "garbage.sip",
            bytes: fixture!("garbage.sip"),
            kind: MessageKind::Malformed,
            method: None,
            called_number: None,
            request_uri_user: None,
            user_agent: None,
            reply: None,
        },
        Case {
            name: "http_get.sip",
            bytes: fixture!("http_get.sip"),
            kind: MessageKind::Malformed,
            method: None,
            called_number: None,
            request_uri_user: None,
            user_agent: Some(b"Mozilla/5.0 zgrab/0.x"),
            reply: None,
        },
    ]
}

/// The first datagram the default personality sends back, as text.
fn reply(probe: &Probe<'_>, source: &str, max_reply_bytes: Option<usize>) -> Option<String> {
    let source: SocketAddr = source.parse().expect("valid address");
    let now = Instant::now();
    let mut pbx = Pbx::new(Personality::default(), [7; 16], now);
    let inbound = Inbound {
        probe,
        source,
        local: "192.0.2.1:5060".parse().expect("valid address"),
        transport: "UDP",
        max_reply_bytes,
    };
    let plan = pbx.handle(&inbound, now);
    // Replies are built from ASCII fixtures' echoed headers, so they are UTF-8.
    plan.immediate
        .into_iter()
        .next()
        .map(|outgoing| String::from_utf8(outgoing.bytes).expect("UTF-8 reply"))
}

fn header_lines<'r>(message: &'r str, name: &str) -> Vec<&'r str> {
    let prefix = format!("{name}: ");
    message
        .split("\r\n")
        .filter_map(|line| line.strip_prefix(prefix.as_str()))
        .collect()
}

#[test]
fn fixtures_parse_to_the_expected_fields() {
    for case in cases() {
        let probe = parse(case.bytes);
        assert_eq!(probe.kind, case.kind, "{}", case.name);
        assert_eq!(probe.method, case.method, "{}", case.name);
        assert_eq!(probe.called_number(), case.called_number, "{}", case.name);
        assert_eq!(
            probe.request_uri_user(),
            case.request_uri_user,
            "{}",
            case.name
        );
        assert_eq!(probe.user_agent(), case.user_agent, "{}", case.name);
        assert_eq!(probe.raw, case.bytes, "{}", case.name);
    }
}

#[test]
fn fixture_requests_get_rfc_shaped_replies() {
    for case in cases() {
        let probe = parse(case.bytes);
        let Some(expected) = case.reply else {
            assert_eq!(
                reply(&probe, "192.0.2.200:5060", None),
                None,
                "{}",
                case.name
            );
            continue;
        };
        let full = reply(&probe, expected.source, None).expect(case.name);
        let (head, body) = full.split_once("\r\n\r\n").expect(case.name);
        assert!(body.is_empty(), "{}", case.name);
        assert!(
            head.starts_with(&format!("SIP/2.0 {}\r\n", expected.status)),
            "{}: {head}",
            case.name
        );
        assert_eq!(
            header_lines(&full, "Content-Length"),
            vec!["0"],
            "{}",
            case.name
        );

        let request_vias: Vec<String> = probe
            .headers_named("Via")
            .map(|via| String::from_utf8_lossy(via).into_owned())
            .collect();
        let reply_vias = header_lines(&full, "Via");
        assert_eq!(reply_vias.len(), request_vias.len(), "{}", case.name);
        assert_eq!(reply_vias[0], expected.top_via, "{}", case.name);
        assert_eq!(reply_vias[1..], request_vias[1..], "{}", case.name);

        let echoed =
            |value: Option<&[u8]>| String::from_utf8_lossy(value.expect(case.name)).into_owned();
        assert_eq!(
            header_lines(&full, "From"),
            vec![echoed(probe.from())],
            "{}",
            case.name
        );
        assert_eq!(
            header_lines(&full, "Call-ID"),
            vec![echoed(probe.call_id())],
            "{}",
            case.name
        );
        assert_eq!(
            header_lines(&full, "CSeq"),
            vec![echoed(probe.cseq())],
            "{}",
            case.name
        );
        let reply_to = header_lines(&full, "To");
        let request_to = echoed(probe.to());
        if expected.adds_to_tag {
            let tag = reply_to[0]
                .strip_prefix(&format!("{request_to};tag="))
                .expect(case.name);
            assert!(
                tag.len() == 16 && tag.bytes().all(|byte| byte.is_ascii_hexdigit()),
                "{}",
                case.name
            );
        } else {
            assert_eq!(reply_to, vec![request_to], "{}", case.name);
        }
        assert_eq!(
            header_lines(&full, "Server"),
            vec!["FPBX-16.0.33(18.13.0)"],
            "{}",
            case.name
        );
        assert_smaller_forms_keep_the_transaction(&probe, expected.source, &full, case.name);
    }
}

/// Shrinks the limit one byte under each reply until nothing fits: every smaller form has the
/// same status line and transaction headers (read back with our parser, compact names included),
/// and the smallest still fits in the limit it was made for.
fn assert_smaller_forms_keep_the_transaction(
    probe: &Probe<'_>,
    source: &str,
    full: &str,
    name: &str,
) {
    let status_line = full.split("\r\n").next().unwrap_or_default().to_owned();
    let full_reply = parse(full.as_bytes());
    let mut forms = vec![full.to_owned()];
    while let Some(smaller) = reply(probe, source, Some(forms.last().map_or(0, String::len) - 1)) {
        assert!(
            smaller.len() < forms.last().map_or(0, String::len),
            "{name}"
        );
        forms.push(smaller);
    }
    assert!(forms.len() >= 2, "{name}: at least one smaller form");
    for form in &forms {
        assert!(
            form.starts_with(&format!("{status_line}\r\n")),
            "{name}: {form}"
        );
        let parsed = parse(form.as_bytes());
        assert_eq!(parsed.kind, MessageKind::Response, "{name}");
        assert!(parsed.headers_complete && parsed.body.is_empty(), "{name}");
        assert_eq!(parsed.content_length(), Some(0), "{name}");
        for header in ["Via", "From", "To", "Call-ID", "CSeq"] {
            let values: Vec<&[u8]> = parsed.headers_named(header).collect();
            let expected: Vec<&[u8]> = full_reply.headers_named(header).collect();
            assert_eq!(values, expected, "{name}: {header}");
        }
    }
}

#[test]
fn full_replies_use_full_header_names_even_for_compact_requests() {
    let probe = parse(fixture!("compact_form_options.sip"));
    let full = reply(&probe, "192.0.2.9:40000", None).expect("a reply");
    for name in ["Via", "From", "To", "Call-ID", "CSeq", "Content-Length"] {
        assert_eq!(header_lines(&full, name).len(), 1, "{name}");
    }
    assert!(!full.contains("\r\nv: ") && !full.contains("\r\nf: ") && !full.contains("\r\ni: "));
}

#[test]
fn tpot_smoke_probe_gets_200_ok_within_the_request_size() {
    let request = fixture!("tpot_smoke_options.sip");
    let probe = parse(request);
    for source in [
        "127.0.0.1:50999",
        "172.18.0.1:50999",
        "[::ffff:172.18.0.1]:41234",
    ] {
        let udp = reply(&probe, source, Some(request.len())).expect(source);
        let status_line = udp.split("\r\n").next().unwrap_or_default();
        assert!(status_line.contains("200 OK"), "{source}");
        assert!(udp.len() <= request.len(), "{source}");
        assert!(
            udp.contains("\r\nServer: FPBX-16.0.33(18.13.0)\r\n"),
            "{source}"
        );
        let tcp = reply(&probe, source, None).expect(source);
        assert!(
            tcp.starts_with("SIP/2.0 200 OK\r\n") && tcp.contains("\r\n\r\n"),
            "{source}"
        );
    }
}

#[test]
fn udp_sized_replies_to_scanners_still_go_out() {
    for case in cases() {
        if let Some(expected) = case.reply {
            let probe = parse(case.bytes);
            let udp = reply(&probe, expected.source, Some(case.bytes.len()));
            assert!(
                udp.is_some_and(|reply| reply.len() <= case.bytes.len()
                    && reply.starts_with(&format!("SIP/2.0 {}", expected.status))),
                "{}",
                case.name
            );
        }
    }
}
