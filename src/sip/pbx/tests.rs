//! Tests of the PBX state machine: per-method replies, REGISTER attempt counting and its bounds,
//! INVITE dialogs with their timers and cancellation, and the UDP size rule on every datagram.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::sip::parse::parse;
use crate::sip::personality::{CallOutcome, Personality};
use crate::sip::respond::CANNED_REPLY;
use crate::sip::uri::{find_param, split_address};

mod dialogs;
mod golden;
mod reflection;
mod register;
mod sizes;

/// Where test requests come from.
pub(super) const SOURCE: &str = "198.51.100.7:5062";
/// Where test requests were sent to.
pub(super) const LOCAL: &str = "192.0.2.1:5060";
/// The key of every test responder.
pub(super) const KEY: [u8; 16] = *b"sentrypeer-tests";

/// A request as a scanner or softphone sends it. `user` is the To user (the called number or
/// the extension); REGISTER uses the registrar URI, other methods `user@` it.
pub(super) fn request(
    method: &str,
    user: &str,
    call_id: &str,
    cseq: u32,
    extra: &[&str],
    body: &str,
) -> Vec<u8> {
    let uri = if method == "REGISTER" {
        "sip:192.0.2.1".to_owned()
    } else {
        format!("sip:{user}@192.0.2.1")
    };
    let caller = if method == "REGISTER" {
        user
    } else {
        "attacker"
    };
    let mut text = format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-{call_id}-{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"{caller}\" <sip:{caller}@192.0.2.1>;tag=tag-{call_id}\r\n\
         To: <sip:{user}@192.0.2.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:{caller}@198.51.100.7:5062>\r\n\
         User-Agent: friendly-scanner\r\n"
    );
    for header in extra {
        text.push_str(header);
        text.push_str("\r\n");
    }
    if !body.is_empty() {
        text.push_str("Content-Type: application/sdp\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

/// The SDP offer of test INVITEs (SIPp's).
pub(super) const OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 198.51.100.7\r\ns=-\r\n\
c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A credentials header (`Authorization` or `Proxy-Authorization`) answering the nonce `pbx`
/// gives `source` at `now`, as svcrack or SIPp send it after our challenge (the password is never
/// checked).
pub(super) fn credentials(header: &str, pbx: &Pbx, source: &str, now: Instant) -> String {
    let ip = source.parse::<SocketAddr>().expect("address").ip();
    format!(
        "{header}: Digest username=\"105\",realm=\"asterisk\",nonce=\"{}\",uri=\"sip:192.0.2.1\",\
         response=\"00000000000000000000000000000000\",algorithm=MD5",
        pbx.nonce(ip, now)
    )
}

/// `Authorization` answering our challenge to [`SOURCE`].
pub(super) fn auth(pbx: &Pbx, now: Instant) -> String {
    credentials("Authorization", pbx, SOURCE, now)
}

/// `Proxy-Authorization` answering our challenge to [`SOURCE`].
pub(super) fn proxy_auth(pbx: &Pbx, now: Instant) -> String {
    credentials("Proxy-Authorization", pbx, SOURCE, now)
}

/// Credentials answering a nonce we never gave (what a blind attacker can send): they count as
/// none.
pub(super) const FOREIGN_AUTH: &str = "Proxy-Authorization: Digest username=\"105\",\
realm=\"asterisk\",nonce=\"x\",uri=\"sip:192.0.2.1\",response=\"00000000000000000000000000000000\"";

/// `bytes` with our `To` tag for a request from `source`, as a caller that received our
/// responses sends `ACK`, `BYE` and in-dialog requests.
pub(super) fn with_our_tag(pbx: &Pbx, bytes: &[u8], source: &str) -> Vec<u8> {
    let probe = parse(bytes);
    let ip = source.parse::<SocketAddr>().expect("address").ip();
    let from_tag = probe
        .from()
        .and_then(|from| find_param(split_address(from).params, b"tag"));
    let tag = pbx
        .keyed
        .to_tag(probe.call_id().expect("Call-ID"), from_tag, ip);
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8 request");
    let start = text.find("\r\nTo: ").expect("a To header") + 2;
    let end = start + text[start..].find("\r\n").expect("end of To");
    format!("{};tag={tag}{}", &text[..end], &text[end..]).into_bytes()
}

pub(super) fn pbx(name: &str, now: Instant) -> Pbx {
    Pbx::new(Personality::builtin(name).expect("built in"), KEY, now)
}

/// Handles a request from [`SOURCE`] as if it came over a stream (no size limit, proven).
pub(super) fn stream(pbx: &mut Pbx, bytes: &[u8], now: Instant) -> ReplyPlan {
    handle_from(pbx, bytes, SOURCE, None, now)
}

pub(super) fn handle_from(
    pbx: &mut Pbx,
    bytes: &[u8],
    source: &str,
    limit: Option<usize>,
    now: Instant,
) -> ReplyPlan {
    let probe = parse(bytes);
    let inbound = Inbound {
        probe: &probe,
        source: source.parse().expect("address"),
        local: LOCAL.parse().expect("address"),
        transport: "UDP",
        max_reply_bytes: limit,
    };
    pbx.handle(&inbound, now)
}

/// Handles a request from [`SOURCE`] with the UDP limit (its own size).
pub(super) fn udp(pbx: &mut Pbx, bytes: &[u8], now: Instant) -> ReplyPlan {
    handle_from(pbx, bytes, SOURCE, Some(bytes.len()), now)
}

pub(super) fn statuses(plan: &ReplyPlan) -> Vec<Option<u16>> {
    plan.immediate
        .iter()
        .map(|outgoing| outgoing.status)
        .collect()
}

pub(super) fn text(outgoing: &Outgoing) -> String {
    String::from_utf8(outgoing.bytes.clone()).expect("UTF-8")
}

#[test]
fn options_get_200_advertising_the_personality() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let plan = handle_from(
        &mut pbx,
        &request("OPTIONS", "100", "o1", 1, &[], ""),
        SOURCE,
        None,
        now,
    );
    assert_eq!(statuses(&plan), [Some(200)]);
    let reply = text(&plan.immediate[0]);
    for header in [
        "Accept: application/sdp, ",
        "Allow: OPTIONS, ",
        "Supported: 100rel",
        "Accept-Language: en",
        "Server: FPBX",
    ] {
        assert!(
            reply.contains(&format!("\r\n{header}")),
            "{header}: {reply}"
        );
    }
    assert!(plan.timers.is_empty());
}

#[test]
fn other_methods_get_what_asterisk_would_send() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let auth = auth(&pbx, now);
    let mut status = |method: &str, extra: &[&str]| {
        statuses(&handle_from(
            &mut pbx,
            &request(method, "100", "m1", 1, extra, ""),
            SOURCE,
            None,
            now,
        ))
    };
    assert_eq!(status("FOO", &[]), [Some(501)]);
    assert_eq!(
        status("options", &[]),
        [Some(501)],
        "methods are case-sensitive"
    );
    assert_eq!(status("INFO", &[]), [Some(405)], "not in freepbx's Allow");
    assert_eq!(status("SUBSCRIBE", &[]), [Some(401)]);
    assert_eq!(status("MESSAGE", &[&auth]), [Some(403)]);
    assert_eq!(
        status("MESSAGE", &[FOREIGN_AUTH]),
        [Some(401)],
        "credentials without our nonce count as none"
    );
    assert_eq!(status("NOTIFY", &[]), [Some(401)]);
    assert_eq!(status("REFER", &[]), [Some(401)]);
    assert_eq!(status("UPDATE", &[]), [Some(481)]);
    assert_eq!(status("PRACK", &[]), [Some(481)]);
    assert_eq!(status("BYE", &[]), [Some(481)]);
    assert_eq!(status("ACK", &[]), Vec::<Option<u16>>::new());
    let not_allowed = handle_from(
        &mut pbx,
        &request("INFO", "100", "m2", 1, &[], ""),
        SOURCE,
        None,
        now,
    );
    assert!(text(&not_allowed.immediate[0]).contains("\r\nAllow: OPTIONS, SUBSCRIBE,"));
    let mut generic = pbx_for_in_dialog(now);
    assert_eq!(statuses(&generic.1), [Some(100), Some(180)]);
    let tagged = with_our_tag(
        &generic.0,
        &request("INFO", "900", "m3", 2, &[], ""),
        SOURCE,
    );
    let info = handle_from(&mut generic.0, &tagged, SOURCE, None, now);
    assert_eq!(statuses(&info), [Some(200)], "in a dialog");
    let untagged = handle_from(
        &mut generic.0,
        &request("INFO", "900", "m3", 5, &[], ""),
        SOURCE,
        None,
        now,
    );
    assert_eq!(statuses(&untagged), [Some(481)], "not our To tag");
    let tagged = with_our_tag(
        &generic.0,
        &request("REFER", "900", "m3", 3, &[], ""),
        SOURCE,
    );
    let refer = handle_from(&mut generic.0, &tagged, SOURCE, None, now);
    assert_eq!(statuses(&refer), [Some(603)]);
    let tagged = with_our_tag(
        &generic.0,
        &request("PRACK", "900", "m3", 4, &[], ""),
        SOURCE,
    );
    let prack = handle_from(&mut generic.0, &tagged, SOURCE, None, now);
    assert_eq!(statuses(&prack), [Some(405)], "not in generic's Allow");
}

fn pbx_for_in_dialog(now: Instant) -> (Pbx, ReplyPlan) {
    let mut generic = pbx("generic", now);
    let plan = stream(
        &mut generic,
        &request("INVITE", "900", "m3", 1, &[], OFFER),
        now,
    );
    (generic, plan)
}

#[test]
fn nothing_for_responses_malformed_input_or_spoofed_sources() {
    let now = Instant::now();
    for name in ["freepbx", "generic", "canned"] {
        let mut pbx = pbx(name, now);
        let response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert!(
            handle_from(&mut pbx, response, SOURCE, None, now).is_empty(),
            "{name}"
        );
        assert!(
            handle_from(&mut pbx, b"\x16\x03\x01garbage", SOURCE, None, now).is_empty(),
            "{name}"
        );
        assert!(
            handle_from(&mut pbx, b"", SOURCE, None, now).is_empty(),
            "{name}"
        );
        let options = request("OPTIONS", "100", "s1", 1, &[], "");
        for spoofed in [
            "0.0.0.0:5060",
            "198.51.100.7:0",
            "255.255.255.255:5060",
            "[ff02::1]:5060",
        ] {
            assert!(
                handle_from(&mut pbx, &options, spoofed, None, now).is_empty(),
                "{name} {spoofed}"
            );
        }
    }
}

#[test]
fn canned_answers_every_request_including_ack_but_never_over_a_small_udp_request() {
    let now = Instant::now();
    let mut pbx = pbx("canned", now);
    for method in ["OPTIONS", "REGISTER", "INVITE", "ACK", "BYE", "FOO"] {
        let bytes = request(method, "100", "k1", 1, &[], "");
        let stream = handle_from(&mut pbx, &bytes, SOURCE, None, now);
        assert_eq!(stream.immediate.len(), 1, "{method}");
        assert_eq!(stream.immediate[0].bytes, CANNED_REPLY, "{method}");
        assert!(bytes.len() < CANNED_REPLY.len());
        assert!(
            udp(&mut pbx, &bytes, now).is_empty(),
            "{method}: {} bytes",
            bytes.len()
        );
    }
    let padding = format!("X-Padding: {}", "a".repeat(400));
    let big = request("OPTIONS", "100", "k2", 1, &[&padding], "");
    assert!(big.len() >= CANNED_REPLY.len());
    assert_eq!(udp(&mut pbx, &big, now).immediate[0].bytes, CANNED_REPLY);
}
