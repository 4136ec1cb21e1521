//! The UDP size rule, property-tested: no datagram of a plan, or of the timers it leads to, is
//! bigger than the request.

use super::*;

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
        let ours = [proxy_auth(&pbx, now), auth(&pbx, now)];
        let extra: Vec<&str> = if credentials { ours.iter().map(String::as_str).collect() } else { Vec::new() };
        let body = if with_body { OFFER } else { "" };
        let bytes = request(method, &user, "p1", 1, &extra, body);
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
