//! Reflection: a source that has not shown it receives our replies (a spoofed victim) never gets
//! more bytes than it sent, whatever it sends; credentials without our nonce and `ACK`s without
//! our `To` tag change nothing; and `source_proven`, the proof the transport passes on, is true
//! exactly for streams, our nonce, our tag, and sources that showed one of those recently.

use super::*;

/// Bytes of every datagram a plan sends now and through its timers (fired when due), with
/// `ack` (if any) arriving after each timer as a blind attacker would send it (its bytes are not
/// counted as received, which only makes the tests stricter).
fn bytes_out(pbx: &mut Pbx, plan: &ReplyPlan, ack: &[u8], now: Instant) -> usize {
    let mut total: usize = plan.immediate.iter().map(|o| o.bytes.len()).sum();
    for timer in &plan.timers {
        let later = now + timer.after;
        let fired = pbx.fire(timer, later);
        if !ack.is_empty() {
            total += udp(pbx, ack, later)
                .immediate
                .iter()
                .map(|o| o.bytes.len())
                .sum::<usize>();
        }
        total += bytes_out(pbx, &fired, ack, later);
    }
    total
}

/// What a blind attacker spoofing a victim sends in one conversation: it knows its own
/// `Call-ID` and `From` tag, never our nonce or our `To` tag.
fn blind_conversations() -> Vec<Vec<Vec<u8>>> {
    let invite = |call: &str, extra: &[&str], body: &str| {
        request("INVITE", "0046812118532", call, 1, extra, body)
    };
    vec![
        vec![invite("b1", &[], OFFER)],
        vec![invite("b2", &[FOREIGN_AUTH], OFFER)],
        vec![invite("b3", &[FOREIGN_AUTH], "")],
        vec![
            invite("b4", &[FOREIGN_AUTH], OFFER),
            invite("b4", &[FOREIGN_AUTH], OFFER),
            invite("b4", &[FOREIGN_AUTH], OFFER),
        ],
        vec![
            invite("b5", &[FOREIGN_AUTH], OFFER),
            request("CANCEL", "0046812118532", "b5", 1, &[], ""),
        ],
        vec![
            invite("b6", &[FOREIGN_AUTH], OFFER),
            request("BYE", "0046812118532", "b6", 2, &[], ""),
        ],
        vec![request("REGISTER", "105", "b7", 1, &[FOREIGN_AUTH], "")],
        vec![request("OPTIONS", "100", "b8", 1, &[], "")],
        vec![request("SUBSCRIBE", "100", "b9", 1, &[FOREIGN_AUTH], "")],
        vec![request("FOO", "100", "b10", 1, &[], "")],
    ]
}

#[test]
fn a_spoofed_source_never_gets_more_bytes_than_it_sent() {
    for name in ["freepbx", "generic", "canned"] {
        for conversation in blind_conversations() {
            let now = Instant::now();
            let mut pbx = pbx(name, now);
            let call_id = parse(&conversation[0])
                .call_id()
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            let call_id = String::from_utf8(call_id).expect("ASCII");
            let blind_ack = request("ACK", "0046812118532", &call_id, 1, &[], "");
            let (mut sent, mut received) = (0, 0);
            for message in &conversation {
                sent += message.len();
                let plan = udp(&mut pbx, message, now);
                assert!(!plan.source_proven, "{name} {call_id}: nothing proves it");
                received += bytes_out(&mut pbx, &plan, &blind_ack, now);
            }
            assert!(
                received <= sent,
                "{name} {call_id}: {received} bytes out for {sent} in"
            );
        }
    }
}

#[test]
fn a_blind_ack_neither_confirms_the_call_nor_brings_our_bye() {
    let now = Instant::now();
    let mut pbx = pbx("generic", now);
    let plan = udp(
        &mut pbx,
        &request("INVITE", "900", "k1", 1, &[], OFFER),
        now,
    );
    let answered = pbx.fire(&plan.timers[0], now + Duration::from_secs(2));
    assert_eq!(
        statuses(&answered),
        [Some(200)],
        "the answer fits the budget"
    );
    let blind = udp(&mut pbx, &request("ACK", "900", "k1", 1, &[], ""), now);
    assert!(blind.is_empty() && blind.screening.foreign_to_tag && !blind.source_proven);
    let bye = pbx.fire(&answered.timers[0], now + Duration::from_secs(12));
    assert!(
        bye.immediate.is_empty(),
        "no BYE to a source that never saw our 200"
    );
    let blind_bye = udp(&mut pbx, &request("BYE", "900", "k1", 2, &[], ""), now);
    assert_eq!(statuses(&blind_bye), [Some(481)]);
}

#[test]
fn invite_credentials_without_our_nonce_are_challenged_like_none() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let invite = request("INVITE", "0046812118532", "n1", 1, &[FOREIGN_AUTH], OFFER);
    let plan = udp(&mut pbx, &invite, now);
    assert_eq!(statuses(&plan), [Some(407)]);
    assert!(plan.timers.is_empty() && pbx.dialog_count() == 0);
    assert!(plan.screening.foreign_nonce && !plan.source_proven);
    let stale_but_recent = credentials("Proxy-Authorization", &pbx, SOURCE, now);
    let next_window = now + Duration::from_secs(301);
    let retried = request(
        "INVITE",
        "0046812118532",
        "n1",
        2,
        &[&stale_but_recent],
        OFFER,
    );
    let plan = udp(&mut pbx, &retried, next_window);
    assert_eq!(
        statuses(&plan),
        [Some(100), Some(183)],
        "the previous window's nonce still answers our challenge"
    );
}

#[test]
fn source_proven_is_shown_by_a_stream_our_nonce_or_our_tag_and_remembered_for_a_while() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let options = request("OPTIONS", "100", "p1", 1, &[], "");
    let other = "203.0.113.9:5060";
    assert!(
        !udp(&mut pbx, &options, now).source_proven,
        "UDP alone proves nothing"
    );
    assert!(
        stream(&mut pbx, &options, now).source_proven,
        "a stream's handshake does"
    );
    let mut fresh = pbx_with_nothing_proven(now);
    let register = request("REGISTER", "105", "p2", 1, &[&auth(&fresh, now)], "");
    assert!(udp(&mut fresh, &register, now).source_proven, "our nonce");
    assert!(udp(&mut fresh, &options, now).source_proven, "remembered");
    assert!(
        !handle_from(&mut fresh, &options, other, Some(options.len()), now).source_proven,
        "per source IP"
    );
    let later = now + PROVEN_SOURCE_EXPIRY;
    assert!(!udp(&mut fresh, &options, later).source_proven, "forgotten");

    let mut fresh = pbx_with_nothing_proven(now);
    let tagged = with_our_tag(&fresh, &request("BYE", "100", "p3", 2, &[], ""), SOURCE);
    let from_elsewhere = handle_from(&mut fresh, &tagged, other, Some(tagged.len()), now);
    assert!(
        !from_elsewhere.source_proven,
        "our tag for another IP is not a proof"
    );
    assert!(
        udp(&mut fresh, &tagged, now).source_proven,
        "our tag for this IP"
    );
    let response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\r\n";
    let answered = udp(&mut fresh, response, now);
    assert!(
        answered.is_empty() && answered.source_proven,
        "any message of a proven source"
    );
}

#[test]
fn proven_sources_are_bounded() {
    let now = Instant::now();
    let limits = StateLimits {
        proven_sources: NonZeroUsize::new(3).expect("non-zero"),
        ..StateLimits::default()
    };
    let mut pbx = Pbx::with_limits(Personality::default(), KEY, now, limits);
    let options = request("OPTIONS", "100", "q1", 1, &[], "");
    for last in 1..=10u8 {
        let source = format!("198.51.100.{last}:5060");
        handle_from(&mut pbx, &options, &source, None, now);
        assert!(pbx.proven_sources() <= 3);
    }
    assert_eq!(pbx.proven_sources(), 3);
}

fn pbx_with_nothing_proven(now: Instant) -> Pbx {
    pbx("freepbx", now)
}

proptest! {
    #[test]
    fn any_blind_sequence_gets_back_at_most_what_it_sent(
        personality in prop::sample::select(vec!["freepbx", "generic", "canned"]),
        steps in proptest::collection::vec(
            prop::sample::select(vec!["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO"]),
            1..8,
        ),
        with_body in any::<bool>(),
        foreign_credentials in any::<bool>(),
    ) {
        let now = Instant::now();
        let mut pbx = pbx(personality, now);
        let extra: &[&str] = if foreign_credentials { &[FOREIGN_AUTH] } else { &[] };
        let body = if with_body { OFFER } else { "" };
        let (mut sent, mut received) = (0, 0);
        for (step, method) in steps.iter().enumerate() {
            let cseq = u32::try_from(step).unwrap_or(0) + 1;
            let bytes = request(method, "105", "r1", cseq, extra, body);
            sent += bytes.len();
            let plan = udp(&mut pbx, &bytes, now);
            received += bytes_out(&mut pbx, &plan, b"", now);
        }
        prop_assert!(received <= sent, "{received} out for {sent} in");
    }
}
