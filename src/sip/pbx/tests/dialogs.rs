//! INVITE dialogs: the challenge, ringing, answer and our BYE; hang-up, CANCEL, retransmission,
//! outcomes, bounds and expiry.

use super::*;

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
    let invite = request(
        "INVITE",
        "0046812118532",
        "c2",
        2,
        &[&proxy_auth(&pbx, now)],
        OFFER,
    );
    let plan = udp(&mut pbx, &invite, now);
    assert_eq!(statuses(&plan), [Some(100), Some(183)]);
    assert!(plan.source_proven, "our nonce proves the source");
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
    let ack = request("ACK", "0046812118532", "c2", 2, &[], "");
    let ack = with_our_tag(&pbx, &ack, SOURCE);
    assert!(udp(&mut pbx, &ack, now).is_empty());
    let bye = pbx.fire(hang_up, now + Duration::from_secs(23));
    assert_eq!(statuses(&bye), [None]);
    let bye = text(&bye.immediate[0]);
    let source_ip = SOURCE.parse::<SocketAddr>().expect("address").ip();
    let to_tag = pbx.keyed.to_tag(b"c2", Some(b"tag-c2"), source_ip);
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
    assert!(
        plan.immediate.is_empty() && plan.screening.withheld == 2 && !plan.source_proven,
        "generic: no challenge; an unproven UDP caller gets no provisional responses when \
         the answer would not fit after them: {plan:?}"
    );
    let answered = pbx.fire(&plan.timers[0], now + Duration::from_secs(2));
    assert_eq!(statuses(&answered), [Some(200)]);
    let tagged = |pbx: &Pbx, method, cseq| {
        with_our_tag(pbx, &request(method, "900", "c3", cseq, &[], ""), SOURCE)
    };
    let ack = tagged(&pbx, "ACK", 1);
    assert!(
        udp(&mut pbx, &ack, now).source_proven,
        "our To tag proves it"
    );
    let bye = tagged(&pbx, "BYE", 2);
    assert_eq!(statuses(&udp(&mut pbx, &bye, now)), [Some(200)]);
    assert!(
        pbx.fire(&answered.timers[0], now + Duration::from_secs(12))
            .is_empty()
    );
    let again = tagged(&pbx, "BYE", 3);
    let again = udp(&mut pbx, &again, now);
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
    let ack = with_our_tag(&pbx, &request("ACK", "900", "c5", 1, &[], ""), SOURCE);
    assert!(udp(&mut pbx, &ack, now).is_empty());
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
        let ack = with_our_tag(&pbx, &request("ACK", "900", "c8", 1, &[], ""), SOURCE);
        udp(&mut pbx, &ack, now);
        assert_eq!(pbx.dialog_count(), 0);
    }
}

#[test]
fn dialogs_are_bounded_expire_and_old_timers_never_touch_a_new_dialog() {
    let now = Instant::now();
    let limits = StateLimits {
        registrations: NonZeroUsize::MIN,
        dialogs: NonZeroUsize::new(2).expect("non-zero"),
        proven_sources: NonZeroUsize::MIN,
    };
    let mut pbx = Pbx::with_limits(
        Personality::builtin("generic").expect("built in"),
        KEY,
        now,
        limits,
    );
    let first = stream(
        &mut pbx,
        &request("INVITE", "900", "d1", 1, &[], OFFER),
        now,
    );
    for call in ["d2", "d3", "d4"] {
        stream(
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
    let recreated = stream(
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
    let bye = stream(
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
