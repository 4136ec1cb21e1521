//! Tests of the PBX state machine: per-method replies, REGISTER attempt counting and its bounds,
//! INVITE dialogs with their timers and cancellation, and the UDP size rule on every datagram.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::sip::parse::parse;
use crate::sip::personality::{CallOutcome, PersonalitySettings};
use crate::sip::respond::CANNED_REPLY;

mod golden;

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

/// Credentials as svcrack or SIPp send them (never checked).
pub(super) const PROXY_AUTH: &str = "Proxy-Authorization: Digest username=\"105\",realm=\"asterisk\",\
nonce=\"x\",uri=\"sip:192.0.2.1\",response=\"00000000000000000000000000000000\",algorithm=MD5";
pub(super) const AUTH: &str = "Authorization: Digest username=\"105\",realm=\"asterisk\",\
nonce=\"x\",uri=\"sip:192.0.2.1\",response=\"00000000000000000000000000000000\",algorithm=MD5";

pub(super) fn pbx(name: &str, now: Instant) -> Pbx {
    let settings = PersonalitySettings {
        name: name.to_owned(),
        ..PersonalitySettings::default()
    };
    Pbx::new(settings.resolve().expect("built in"), KEY, now)
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

fn text(outgoing: &Outgoing) -> String {
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
fn register_is_404_off_plan_401_without_credentials_403_then_200_at_the_nth_attempt() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let unknown = udp(
        &mut pbx,
        &request("REGISTER", "1747613575", "r0", 1, &[], ""),
        now,
    );
    assert_eq!(statuses(&unknown), [Some(404)]);
    let challenge = udp(&mut pbx, &request("REGISTER", "105", "r1", 1, &[], ""), now);
    assert_eq!(statuses(&challenge), [Some(401)]);
    assert!(text(&challenge.immediate[0]).contains("WWW-Authenticate: Digest realm=\"asterisk\""));
    assert_eq!(pbx.registration_counters(), 0, "a challenge keeps no state");
    let attempt = |pbx: &mut Pbx, cseq| {
        let plan = udp(
            pbx,
            &request("REGISTER", "105", "r1", cseq, &[AUTH], ""),
            now,
        );
        statuses(&plan)
    };
    assert_eq!(attempt(&mut pbx, 2), [Some(403)]);
    assert_eq!(attempt(&mut pbx, 3), [Some(403)]);
    let cracked = udp(
        &mut pbx,
        &request("REGISTER", "105", "r1", 4, &[AUTH, "Expires: 60"], ""),
        now,
    );
    assert_eq!(statuses(&cracked), [Some(200)]);
    let reply = text(&cracked.immediate[0]);
    assert!(
        reply.contains("\r\nFrom: \"105\" <sip:105@192.0.2.1>;tag=tag-r1\r\n"),
        "svcrack reads its tag: {reply}"
    );
    assert!(
        reply.contains("\r\nContact: <sip:105@198.51.100.7:5062>;expires=60\r\nExpires: 60\r\n"),
        "{reply}"
    );
    assert_eq!(attempt(&mut pbx, 5), [Some(200)], "stays cracked");
    let again = udp(&mut pbx, &request("REGISTER", "105", "r1", 6, &[], ""), now);
    assert_eq!(
        statuses(&again),
        [Some(401)],
        "no credentials, a new challenge"
    );
}

#[test]
fn attempts_count_per_source_and_extension_and_expire_when_idle() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let attempt = |pbx: &mut Pbx, user: &str, source: &str, at: Instant| {
        let bytes = request("REGISTER", user, "r", 2, &[AUTH], "");
        statuses(&handle_from(pbx, &bytes, source, None, at))
    };
    assert_eq!(attempt(&mut pbx, "105", SOURCE, now), [Some(403)]);
    assert_eq!(attempt(&mut pbx, "105", SOURCE, now), [Some(403)]);
    assert_eq!(
        attempt(&mut pbx, "106", SOURCE, now),
        [Some(403)],
        "other extension"
    );
    assert_eq!(
        attempt(&mut pbx, "105", "203.0.113.9:5060", now),
        [Some(403)],
        "other source"
    );
    assert_eq!(pbx.registration_counters(), 3);
    let later = now + REGISTRATION_IDLE_EXPIRY;
    assert_eq!(
        attempt(&mut pbx, "105", SOURCE, later),
        [Some(403)],
        "forgotten when idle"
    );
    assert_eq!(pbx.registration_counters(), 1, "idle counters dropped");
    assert_eq!(attempt(&mut pbx, "105", SOURCE, later), [Some(403)]);
    assert_eq!(attempt(&mut pbx, "105", SOURCE, later), [Some(200)]);
}

#[test]
fn registration_counters_are_bounded_and_evict_the_least_recent() {
    let now = Instant::now();
    let limits = StateLimits {
        registrations: NonZeroUsize::new(4).expect("non-zero"),
        dialogs: NonZeroUsize::new(4).expect("non-zero"),
    };
    let personality = Personality {
        auth_attempts: 2,
        ..Personality::default()
    };
    let mut pbx = Pbx::with_limits(personality, KEY, now, limits);
    let attempt = |pbx: &mut Pbx, user: u32| {
        let bytes = request("REGISTER", &user.to_string(), "r", 2, &[AUTH], "");
        statuses(&udp(pbx, &bytes, now))
    };
    assert_eq!(attempt(&mut pbx, 100), [Some(403)]);
    for user in 101..=199 {
        attempt(&mut pbx, user);
        assert!(pbx.registration_counters() <= 4);
    }
    assert_eq!(pbx.registration_counters(), 4);
    assert_eq!(
        attempt(&mut pbx, 100),
        [Some(403)],
        "evicted, counts from 1 again"
    );
    assert_eq!(attempt(&mut pbx, 199), [Some(200)], "recent one kept");
}

#[test]
fn nonces_differ_per_source_window_and_key() {
    let now = Instant::now();
    let pbx_a = pbx("freepbx", now);
    let other_key = Pbx::new(Personality::default(), [1; 16], now);
    let ip: IpAddr = "198.51.100.7".parse().expect("ip");
    let nonce = pbx_a.nonce(ip, now);
    assert_eq!(nonce.len(), 16);
    assert_eq!(nonce, pbx_a.nonce(ip, now + Duration::from_secs(299)));
    assert_ne!(nonce, pbx_a.nonce(ip, now + Duration::from_secs(300)));
    assert_ne!(nonce, pbx_a.nonce("198.51.100.8".parse().expect("ip"), now));
    assert_ne!(nonce, other_key.nonce(ip, now));
}

#[test]
fn unauthenticated_invite_gets_one_407_no_bigger_than_the_request_and_no_state() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let invite = request("INVITE", "0046812118532", "c1", 1, &[], OFFER);
    let plan = udp(&mut pbx, &invite, now);
    assert_eq!(statuses(&plan), [Some(407)]);
    assert!(plan.timers.is_empty() && pbx.dialog_count() == 0);
    assert!(plan.immediate[0].bytes.len() <= invite.len());
    assert!(text(&plan.immediate[0]).contains("Proxy-Authenticate: Digest realm=\"asterisk\""));
    let small = request("INVITE", "0046812118532", "c1", 1, &[], "");
    let small_plan = udp(&mut pbx, &small, now);
    assert!(
        small_plan.immediate.len() <= 1
            && small_plan
                .immediate
                .iter()
                .all(|o| o.bytes.len() <= small.len())
    );
}

#[test]
fn authorized_call_rings_answers_and_hangs_up_after_the_ack() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let invite = request("INVITE", "0046812118532", "c2", 2, &[PROXY_AUTH], OFFER);
    let plan = udp(&mut pbx, &invite, now);
    assert_eq!(statuses(&plan), [Some(100), Some(183)]);
    assert!(text(&plan.immediate[1]).contains("Content-Type: application/sdp"));
    let [ring] = plan.timers.as_slice() else {
        panic!("one timer: {plan:?}")
    };
    assert_eq!(ring.after, Duration::from_secs(3));
    let answered = pbx.fire(ring, now + ring.after);
    assert_eq!(statuses(&answered), [Some(200)]);
    let ok = text(&answered.immediate[0]);
    assert!(
        ok.contains("\r\nContact: <sip:192.0.2.1:5060>\r\n")
            && ok.contains("\r\nc=IN IP4 192.0.2.1\r\n"),
        "{ok}"
    );
    assert!(answered.immediate[0].bytes.len() <= invite.len());
    let [hang_up] = answered.timers.as_slice() else {
        panic!("one timer")
    };
    assert_eq!(hang_up.after, Duration::from_secs(20));
    assert!(
        udp(
            &mut pbx,
            &request("ACK", "0046812118532", "c2", 2, &[], ""),
            now
        )
        .is_empty()
    );
    let bye = pbx.fire(hang_up, now + Duration::from_secs(23));
    assert_eq!(statuses(&bye), [None]);
    let bye = text(&bye.immediate[0]);
    let to_tag = pbx.keyed.to_tag(b"c2", Some(b"tag-c2"));
    assert!(bye.starts_with("BYE sip:attacker@198.51.100.7:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK"), "{bye}");
    assert!(
        bye.contains(&format!(
            "\r\nFrom: <sip:0046812118532@192.0.2.1>;tag={to_tag}\r\n"
        )),
        "{bye}"
    );
    assert!(
        bye.contains("\r\nTo: \"attacker\" <sip:attacker@192.0.2.1>;tag=tag-c2\r\nCall-ID: c2\r\n"),
        "{bye}"
    );
    assert!(
        bye.contains("\r\nUser-Agent: FPBX-16.0.33(18.13.0)\r\n")
            && bye.ends_with("Content-Length: 0\r\n\r\n")
    );
    assert_eq!(pbx.dialog_count(), 0);
    assert!(
        pbx.fire(hang_up, now + Duration::from_secs(24)).is_empty(),
        "fires once"
    );
}

#[test]
fn caller_hanging_up_cancels_our_bye() {
    let now = Instant::now();
    let mut pbx = pbx("generic", now);
    let plan = udp(
        &mut pbx,
        &request("INVITE", "900", "c3", 1, &[], OFFER),
        now,
    );
    assert_eq!(
        statuses(&plan),
        [Some(100), Some(180)],
        "generic: no challenge"
    );
    let answered = pbx.fire(&plan.timers[0], now + Duration::from_secs(2));
    assert_eq!(statuses(&answered), [Some(200)]);
    udp(&mut pbx, &request("ACK", "900", "c3", 1, &[], ""), now);
    let bye = udp(&mut pbx, &request("BYE", "900", "c3", 2, &[], ""), now);
    assert_eq!(statuses(&bye), [Some(200)]);
    assert!(
        pbx.fire(&answered.timers[0], now + Duration::from_secs(12))
            .is_empty()
    );
    let again = udp(&mut pbx, &request("BYE", "900", "c3", 3, &[], ""), now);
    assert_eq!(statuses(&again), [Some(481)], "dialog gone");
}

#[test]
fn no_bye_to_a_caller_that_never_acked() {
    let now = Instant::now();
    let mut pbx = pbx("generic", now);
    let plan = udp(
        &mut pbx,
        &request("INVITE", "900", "c4", 1, &[], OFFER),
        now,
    );
    let answered = pbx.fire(&plan.timers[0], now + Duration::from_secs(2));
    assert!(
        pbx.fire(&answered.timers[0], now + Duration::from_secs(12))
            .is_empty()
    );
    assert_eq!(pbx.dialog_count(), 0);
}

#[test]
fn cancel_while_ringing_gets_200_and_487_and_stops_the_answer() {
    let now = Instant::now();
    let mut pbx = pbx("generic", now);
    let plan = udp(
        &mut pbx,
        &request("INVITE", "900", "c5", 1, &[], OFFER),
        now,
    );
    let cancel = udp(&mut pbx, &request("CANCEL", "900", "c5", 1, &[], ""), now);
    assert_eq!(statuses(&cancel), [Some(200), Some(487)]);
    assert!(text(&cancel.immediate[1]).contains("\r\nCSeq: 1 INVITE\r\n"));
    assert!(text(&cancel.immediate[0]).contains("\r\nCSeq: 1 CANCEL\r\n"));
    assert!(
        pbx.fire(&plan.timers[0], now + Duration::from_secs(2))
            .is_empty()
    );
    let retransmitted = udp(
        &mut pbx,
        &request("INVITE", "900", "c5", 1, &[], OFFER),
        now,
    );
    assert_eq!(statuses(&retransmitted), [Some(487)]);
    assert!(udp(&mut pbx, &request("ACK", "900", "c5", 1, &[], ""), now).is_empty());
    assert_eq!(pbx.dialog_count(), 0, "ACK of the 487 ends it");
    let unknown = udp(&mut pbx, &request("CANCEL", "900", "c6", 1, &[], ""), now);
    assert_eq!(statuses(&unknown), [Some(481)]);
}

#[test]
fn retransmitted_invite_repeats_without_new_timers() {
    let now = Instant::now();
    let mut pbx = pbx("generic", now);
    let invite = request("INVITE", "900", "c7", 1, &[], OFFER);
    let first = udp(&mut pbx, &invite, now);
    let again = udp(&mut pbx, &invite, now);
    assert_eq!(statuses(&again), [Some(100)]);
    assert!(again.timers.is_empty());
    let answered = pbx.fire(&first.timers[0], now + Duration::from_secs(2));
    let after_answer = udp(&mut pbx, &invite, now);
    assert_eq!(
        after_answer.immediate, answered.immediate,
        "the 200 OK again"
    );
    let reinvite = udp(
        &mut pbx,
        &request("INVITE", "900", "c7", 2, &[], OFFER),
        now,
    );
    assert_eq!(statuses(&reinvite), [Some(200)]);
}

#[test]
fn configured_outcome_rejects_and_the_ack_ends_the_dialog() {
    for (outcome, code) in [
        (CallOutcome::Busy, 486),
        (CallOutcome::Unavailable, 503),
        (CallOutcome::Decline, 603),
    ] {
        let now = Instant::now();
        let mut personality = Personality::builtin("generic").expect("built in");
        personality.invite.outcome = outcome;
        let mut pbx = Pbx::new(personality, KEY, now);
        let plan = udp(
            &mut pbx,
            &request("INVITE", "900", "c8", 1, &[], OFFER),
            now,
        );
        let rejected = pbx.fire(&plan.timers[0], now + Duration::from_secs(2));
        assert_eq!(statuses(&rejected), [Some(code)]);
        assert!(rejected.timers.is_empty());
        udp(&mut pbx, &request("ACK", "900", "c8", 1, &[], ""), now);
        assert_eq!(pbx.dialog_count(), 0);
    }
}

#[test]
fn dialogs_are_bounded_expire_and_old_timers_never_touch_a_new_dialog() {
    let now = Instant::now();
    let limits = StateLimits {
        registrations: NonZeroUsize::MIN,
        dialogs: NonZeroUsize::new(2).expect("non-zero"),
    };
    let mut pbx = Pbx::with_limits(
        Personality::builtin("generic").expect("built in"),
        KEY,
        now,
        limits,
    );
    let first = udp(
        &mut pbx,
        &request("INVITE", "900", "d1", 1, &[], OFFER),
        now,
    );
    for call in ["d2", "d3", "d4"] {
        udp(
            &mut pbx,
            &request("INVITE", "900", call, 1, &[], OFFER),
            now,
        );
        assert!(pbx.dialog_count() <= 2);
    }
    assert!(
        pbx.fire(&first.timers[0], now + Duration::from_secs(2))
            .is_empty(),
        "evicted"
    );
    let recreated = udp(
        &mut pbx,
        &request("INVITE", "900", "d1", 1, &[], OFFER),
        now,
    );
    assert_eq!(statuses(&recreated), [Some(100), Some(180)], "a new dialog");
    assert!(
        pbx.fire(&first.timers[0], now + Duration::from_secs(2))
            .is_empty(),
        "old id"
    );
    assert_eq!(
        statuses(&pbx.fire(&recreated.timers[0], now + Duration::from_secs(2))),
        [Some(200)]
    );
    let much_later = now + Duration::from_secs(3600);
    let bye = udp(
        &mut pbx,
        &request("BYE", "900", "d1", 2, &[], ""),
        much_later,
    );
    assert_eq!(statuses(&bye), [Some(481)], "expired");
}

#[test]
fn oversized_transaction_headers_get_a_stateless_486() {
    let now = Instant::now();
    let mut pbx = pbx("generic", now);
    let long_call_id = "x".repeat(MAX_DIALOG_HEADER_BYTES);
    let plan = handle_from(
        &mut pbx,
        &request("INVITE", "900", &long_call_id, 1, &[], OFFER),
        SOURCE,
        None,
        now,
    );
    assert_eq!(statuses(&plan), [Some(486)]);
    assert_eq!(pbx.dialog_count(), 0);
}

#[test]
fn other_methods_get_what_asterisk_would_send() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
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
    assert_eq!(status("MESSAGE", &[AUTH]), [Some(403)]);
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
    let info = handle_from(
        &mut generic.0,
        &request("INFO", "900", "m3", 2, &[], ""),
        SOURCE,
        None,
        now,
    );
    assert_eq!(statuses(&info), [Some(200)], "in a dialog");
    let refer = handle_from(
        &mut generic.0,
        &request("REFER", "900", "m3", 3, &[], ""),
        SOURCE,
        None,
        now,
    );
    assert_eq!(statuses(&refer), [Some(603)]);
    let prack = handle_from(
        &mut generic.0,
        &request("PRACK", "900", "m3", 4, &[], ""),
        SOURCE,
        None,
        now,
    );
    assert_eq!(statuses(&prack), [Some(405)], "not in generic's Allow");
}

fn pbx_for_in_dialog(now: Instant) -> (Pbx, ReplyPlan) {
    let mut generic = pbx("generic", now);
    let plan = udp(
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

/// Every datagram of a plan, and of every timer it leads to, fits in `limit`. After each timer
/// the caller's `ack` arrives (so an answered call goes on to our `BYE`).
fn assert_plan_fits(pbx: &mut Pbx, plan: ReplyPlan, limit: usize, ack: &[u8], now: Instant) {
    for outgoing in &plan.immediate {
        assert!(
            outgoing.bytes.len() <= limit,
            "{} > {limit}",
            outgoing.bytes.len()
        );
    }
    for timer in &plan.timers {
        let later = now + timer.after;
        let next = pbx.fire(timer, later);
        assert!(udp(pbx, ack, later).is_empty(), "ACK is never answered");
        assert_plan_fits(pbx, next, limit, ack, later);
    }
}

fn methods() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "OPTIONS",
        "REGISTER",
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "SUBSCRIBE",
        "NOTIFY",
        "INFO",
        "FOO",
    ])
}

proptest! {
    #[test]
    fn no_udp_datagram_is_bigger_than_its_request(
        method in methods(),
        user in "(100|105|1000|0046812118532|x)",
        personality in prop::sample::select(vec!["freepbx", "generic", "canned"]),
        credentials in any::<bool>(),
        cut in 0usize..400,
        insert in "[\\r\\n;,<>\" a-z0-9]{0,12}",
        with_body in any::<bool>(),
    ) {
        let now = Instant::now();
        let mut pbx = pbx(personality, now);
        let extra: &[&str] = if credentials { &[PROXY_AUTH, AUTH] } else { &[] };
        let body = if with_body { OFFER } else { "" };
        let bytes = request(method, &user, "p1", 1, extra, body);
        let cut = cut.min(bytes.len());
        let mutated = [&bytes[..cut], insert.as_bytes(), &bytes[cut..]].concat();
        let plan = udp(&mut pbx, &mutated, now);
        let ack = request("ACK", &user, "p1", 1, &[], "");
        let ack = if personality == "canned" { Vec::new() } else { ack };
        assert_plan_fits(&mut pbx, plan, mutated.len(), &ack, now);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_outgrow_the_request(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        personality in prop::sample::select(vec!["freepbx", "generic", "canned"]),
    ) {
        let now = Instant::now();
        let mut pbx = pbx(personality, now);
        let plan = udp(&mut pbx, &input, now);
        assert_plan_fits(&mut pbx, plan, input.len(), b"", now);
    }
}
