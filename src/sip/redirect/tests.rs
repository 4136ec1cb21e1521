//! Tests of the redirect server: what each method gets, the INVITE transaction's timers
//! (Timer G doubling to T2, Timer H, the ACK, Timer I), CANCEL before and after the answer,
//! the size limit, and how a dip is read from a request.

use std::cell::Cell;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::parse::parse;

const SOURCE: &str = "127.0.0.1:5060";

fn request(method: &str, cseq_method: &str, number: &str, branch: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} sip:{number}@127.0.0.1:5070 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@127.0.0.1>;tag=from1\r\n\
         To: <sip:{number}@127.0.0.1>\r\n\
         Call-ID: call-{branch}@127.0.0.1\r\n\
         CSeq: 7 {cseq_method}\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn invite(branch: &str) -> Vec<u8> {
    request("INVITE", "INVITE", "0044123", branch, "")
}

fn server(reliable: bool) -> RedirectServer {
    let capacity = NonZeroUsize::new(4).expect("non-zero");
    RedirectServer::new(DipRules::default(), [7; 16], capacity, reliable)
}

fn declined(_: &Dip) -> Answer {
    Answer {
        code: 603,
        contact: None,
        verdict: "blocked; key=number".into(),
    }
}

/// Handles `bytes` from [`SOURCE`] at `now` with no size limit.
fn handle(server: &mut RedirectServer, bytes: &[u8], now: Instant) -> Handled {
    handle_limited(server, bytes, now, None)
}

fn handle_limited(
    server: &mut RedirectServer,
    bytes: &[u8],
    now: Instant,
    limit: Option<usize>,
) -> Handled {
    let probe = parse(bytes);
    let source: SocketAddr = SOURCE.parse().expect("address");
    let request = Request {
        probe: &probe,
        source,
        max_reply_bytes: limit,
    };
    server.handle(&request, now, declined)
}

fn status_line(reply: &Outgoing) -> String {
    let text = String::from_utf8_lossy(&reply.bytes);
    text.lines().next().unwrap_or_default().to_owned()
}

fn text(reply: &Outgoing) -> String {
    String::from_utf8_lossy(&reply.bytes).into_owned()
}

#[test]
fn an_invite_gets_the_decided_answer_with_its_verdict_header() {
    let mut server = server(false);
    let handled = handle(&mut server, &invite("z9hG4bK-1"), Instant::now());
    assert_eq!(handled.outcome, Outcome::Dip);
    let [reply] = handled.replies.as_slice() else {
        panic!("one reply: {handled:?}");
    };
    assert_eq!(status_line(reply), "SIP/2.0 603 Decline");
    assert_eq!(reply.status, Some(603));
    let reply = text(reply);
    assert!(reply.contains("X-SentryPeer-Verdict: blocked; key=number\r\n"));
    assert!(reply.contains("CSeq: 7 INVITE\r\n"));
    assert!(reply.contains(";received=127.0.0.1") || reply.contains(";rport=5060"));
    assert!(
        reply.contains("To: <sip:0044123@127.0.0.1>;tag="),
        "{reply}"
    );
    assert_eq!(server.transactions(), 1);
}

#[test]
fn a_redirect_carries_its_contact() {
    let mut server = server(false);
    let bytes = invite("z9hG4bK-2");
    let probe = parse(&bytes);
    let request = Request {
        probe: &probe,
        source: SOURCE.parse().expect("address"),
        max_reply_bytes: None,
    };
    let handled = server.handle(&request, Instant::now(), |_| Answer {
        code: 302,
        contact: Some("sip:uas@127.0.0.1:5090".into()),
        verdict: "clean".into(),
    });
    let reply = text(&handled.replies[0]);
    assert!(
        reply.starts_with("SIP/2.0 302 Moved Temporarily\r\n"),
        "{reply}"
    );
    assert!(
        reply.contains("Contact: <sip:uas@127.0.0.1:5090>\r\n"),
        "{reply}"
    );
}

#[test]
fn udp_retransmits_on_timer_g_doubling_to_t2_until_timer_h() {
    let mut server = server(false);
    let start = Instant::now();
    let first = handle(&mut server, &invite("z9hG4bK-3"), start).replies[0].clone();
    let mut at = start;
    let mut intervals = Vec::new();
    let mut sent = 0;
    while let Some(due) = server.next_due() {
        intervals.push(due - at);
        at = due;
        let fired = server.due(due);
        for retransmission in &fired.retransmissions {
            assert_eq!(retransmission.bytes, first.bytes, "byte for byte");
            assert_eq!(retransmission.destination, SOURCE.parse().expect("address"));
        }
        sent += fired.retransmissions.len();
        if fired.timed_out > 0 {
            break;
        }
    }
    assert_eq!(
        intervals[..5],
        [T1, T1 * 2, T1 * 4, T2, T2],
        "500 ms doubling, capped at 4 s"
    );
    assert_eq!(at - start, TIMER_H, "gives up after 64*T1");
    assert!(sent >= 9, "{sent} retransmissions");
    assert_eq!(server.transactions(), 0);
}

#[test]
fn the_ack_stops_retransmissions_and_later_acks_and_invites_are_absorbed() {
    let mut server = server(false);
    let start = Instant::now();
    handle(&mut server, &invite("z9hG4bK-4"), start);
    let ack = request("ACK", "ACK", "0044123", "z9hG4bK-4", "");
    let acked = handle(&mut server, &ack, start + Duration::from_millis(100));
    assert_eq!(acked.outcome, Outcome::Absorbed);
    assert!(acked.replies.is_empty());
    let again = handle(&mut server, &ack, start + Duration::from_millis(200));
    assert_eq!(again.outcome, Outcome::Absorbed);
    let late_invite = handle(&mut server, &invite("z9hG4bK-4"), start);
    assert_eq!(late_invite.outcome, Outcome::Absorbed);
    let fired = server.due(start + T1);
    assert!(fired.retransmissions.is_empty(), "no Timer G after the ACK");
    server.due(start + T1 + T4);
    assert_eq!(server.transactions(), 0, "Timer I ends it");
}

#[test]
fn a_retransmitted_invite_gets_the_same_response_without_a_new_decision() {
    let mut server = server(false);
    let now = Instant::now();
    let first = handle(&mut server, &invite("z9hG4bK-5"), now);
    let decided = Cell::new(0);
    let bytes = invite("z9hG4bK-5");
    let probe = parse(&bytes);
    let request = Request {
        probe: &probe,
        source: SOURCE.parse().expect("address"),
        max_reply_bytes: None,
    };
    let again = server.handle(&request, now, |dip| {
        decided.set(decided.get() + 1);
        declined(dip)
    });
    assert_eq!(again.outcome, Outcome::Retransmission);
    assert_eq!(again.replies[0].bytes, first.replies[0].bytes);
    assert_eq!(decided.get(), 0);
}

#[test]
fn cancel_before_the_answer_gets_200_and_487_after_it_200_only() {
    let mut server = server(false);
    let now = Instant::now();
    let cancel = request("CANCEL", "CANCEL", "0044123", "z9hG4bK-6", "");
    let handled = handle(&mut server, &cancel, now);
    assert_eq!(handled.outcome, Outcome::Cancel { answered: false });
    let lines: Vec<String> = handled.replies.iter().map(status_line).collect();
    assert_eq!(
        lines,
        ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"],
        "in that order"
    );
    assert!(text(&handled.replies[1]).contains("CSeq: 7 INVITE\r\n"));
    // The INVITE, arriving after its CANCEL, gets the 487 again.
    let late = handle(&mut server, &invite("z9hG4bK-6"), now);
    assert_eq!(late.outcome, Outcome::Retransmission);
    assert_eq!(
        status_line(&late.replies[0]),
        "SIP/2.0 487 Request Terminated"
    );

    handle(&mut server, &invite("z9hG4bK-7"), now);
    let cancel = request("CANCEL", "CANCEL", "0044123", "z9hG4bK-7", "");
    let handled = handle(&mut server, &cancel, now);
    assert_eq!(handled.outcome, Outcome::Cancel { answered: true });
    assert_eq!(handled.replies.len(), 1);
    assert_eq!(status_line(&handled.replies[0]), "SIP/2.0 200 OK");
}

#[test]
fn options_get_200_other_methods_405_and_a_mismatched_cseq_400() {
    let mut server = server(false);
    let now = Instant::now();
    let options = handle(
        &mut server,
        &request("OPTIONS", "OPTIONS", "ping", "z9hG4bK-8", ""),
        now,
    );
    assert_eq!(options.outcome, Outcome::KeepAlive);
    assert!(text(&options.replies[0]).starts_with("SIP/2.0 200 OK\r\n"));
    assert!(text(&options.replies[0]).contains("Allow: INVITE, ACK, CANCEL, OPTIONS\r\n"));
    for method in ["REGISTER", "BYE", "MESSAGE", "FROB"] {
        let handled = handle(
            &mut server,
            &request(method, method, "1", "z9hG4bK-9", ""),
            now,
        );
        assert_eq!(handled.outcome, Outcome::NotAllowed, "{method}");
        let reply = text(&handled.replies[0]);
        assert!(reply.starts_with("SIP/2.0 405 Method Not Allowed\r\n"));
        assert!(reply.contains("Allow: INVITE, ACK, CANCEL, OPTIONS\r\n"));
    }
    let mismatched = handle(
        &mut server,
        &request("INVITE", "BYE", "1", "z9hG4bK-10", ""),
        now,
    );
    assert_eq!(mismatched.outcome, Outcome::BadRequest);
    assert!(text(&mismatched.replies[0]).starts_with("SIP/2.0 400 Bad Request\r\n"));
    assert_eq!(server.transactions(), 0, "only dips are kept");
}

#[test]
fn garbage_responses_and_unknown_acks_get_nothing() {
    let mut server = server(false);
    let now = Instant::now();
    let inputs: [&[u8]; 5] = [
        b"",
        b"\x00\xff garbage",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-x\r\n\r\n",
        b"INVITE sip:1@h SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n",
        &request("ACK", "ACK", "1", "z9hG4bK-never", ""),
    ];
    for input in inputs {
        let handled = handle(&mut server, input, now);
        assert!(handled.replies.is_empty(), "{input:?}");
        assert_eq!(handled.outcome, Outcome::Ignored, "{input:?}");
    }
}

#[test]
fn a_reply_never_exceeds_the_limit_and_always_says_why() {
    let bytes = invite("z9hG4bK-11");
    let full = handle(&mut server(false), &bytes, Instant::now()).replies[0].clone();
    let limit = full.bytes.len() - 1;
    let mut server = server(false);
    let handled = handle_limited(&mut server, &bytes, Instant::now(), Some(limit));
    let reply = &handled.replies[0];
    assert!(reply.bytes.len() <= limit);
    assert!(text(reply).contains("X-SentryPeer-Verdict: blocked; key=number\r\n"));
    assert!(
        text(reply).contains("\r\nv: SIP/2.0/UDP"),
        "compact names to fit"
    );
    let tiny = handle_limited(&mut server, &invite("z9hG4bK-12"), Instant::now(), Some(40));
    assert_eq!(tiny.outcome, Outcome::TooLarge);
    assert!(tiny.replies.is_empty());
}

#[test]
fn reliable_transports_never_retransmit_and_forget_on_ack() {
    let mut server = server(true);
    let now = Instant::now();
    handle(&mut server, &invite("z9hG4bK-13"), now);
    assert!(server.due(now + T1 * 8).retransmissions.is_empty());
    let ack = request("ACK", "ACK", "0044123", "z9hG4bK-13", "");
    assert_eq!(handle(&mut server, &ack, now).outcome, Outcome::Absorbed);
    assert_eq!(server.transactions(), 0);
}

#[test]
fn transactions_are_bounded_and_count_evictions() {
    let mut server = server(false);
    let now = Instant::now();
    for branch in 0..10 {
        handle(&mut server, &invite(&format!("z9hG4bK-cap{branch}")), now);
    }
    assert_eq!(server.transactions(), 4);
    assert_eq!(server.evicted(), 6);
}

#[test]
fn rfc_2543_requests_match_by_call_id_from_tag_and_cseq() {
    let mut server = server(false);
    let now = Instant::now();
    handle(&mut server, &invite("old-style"), now);
    let ack = request("ACK", "ACK", "0044123", "old-style", "");
    assert_eq!(handle(&mut server, &ack, now).outcome, Outcome::Absorbed);
}

#[test]
fn refusals_are_stateless_and_never_answer_an_ack() {
    let server = server(false);
    let bytes = invite("z9hG4bK-14");
    let probe = parse(&bytes);
    let source = SOURCE.parse().expect("address");
    let request = Request {
        probe: &probe,
        source,
        max_reply_bytes: None,
    };
    let refused = server.refuse(&request, 403).expect("a 403");
    assert!(refused.starts_with(b"SIP/2.0 403 Forbidden\r\n"));
    let ack = request_bytes_ack();
    let probe = parse(&ack);
    let request = Request {
        probe: &probe,
        source,
        max_reply_bytes: None,
    };
    assert_eq!(server.refuse(&request, 403), None);
}

fn request_bytes_ack() -> Vec<u8> {
    request("ACK", "ACK", "1", "z9hG4bK-15", "")
}

fn dip_of(number: &str, extra: &str, rules: &DipRules) -> Dip {
    let bytes = request("INVITE", "INVITE", number, "z9hG4bK-d", extra);
    read_dip(&parse(&bytes), rules)
}

#[test]
fn a_dip_reads_the_number_in_its_forms_and_the_callers_ip() {
    let rules = DipRules {
        source_ip_header: Some("X-Source-IP".into()),
        strip_prefixes: vec!["9".into()],
        international_prefix: Some("00".into()),
    };
    let dip = dip_of("9+44-20-7946;npdi", "X-Source-IP: 203.0.113.9\r\n", &rules);
    assert_eq!(dip.numbers, ["+44207946", "0044207946"]);
    assert_eq!(dip.caller_ip, Some("203.0.113.9".parse().expect("ip")));
    let dip = dip_of("0044123", "X-Source-IP: [2001:db8::1]:5060\r\n", &rules);
    assert_eq!(dip.numbers, ["0044123", "+44123"]);
    assert_eq!(dip.caller_ip, Some("2001:db8::1".parse().expect("ip")));
    let dip = dip_of("9", "X-Source-IP: not an ip\r\n", &rules);
    assert_eq!(dip.numbers, ["9"], "a prefix is not stripped to nothing");
    assert_eq!(dip.caller_ip, None);
    let numbers_only = DipRules::default();
    let dip = dip_of("112", "X-Source-IP: 203.0.113.9\r\n", &numbers_only);
    assert_eq!(dip.numbers, ["112"]);
    assert_eq!(dip.caller_ip, None, "no header configured");
}
