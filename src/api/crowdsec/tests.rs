//! Decision ids and Go durations.

use std::net::IpAddr;

use super::*;

#[test]
fn durations_are_go_formatted() {
    assert_eq!(
        go_duration(SignedDuration::from_secs(604_799)),
        "167h59m59s"
    );
    assert_eq!(go_duration(SignedDuration::from_secs(61)), "1m1s");
    assert_eq!(go_duration(SignedDuration::from_secs(5)), "5s");
    assert_eq!(go_duration(SignedDuration::from_secs(-5)), "0s");
}

#[test]
fn a_decision_is_a_ban_of_one_ip() {
    let ip: IpAddr = "192.0.2.7".parse().expect("ip");
    let decision = decision(ip, SignedDuration::from_hours(23));
    assert_eq!(decision.duration, "23h0m0s");
    assert_eq!(
        (decision.value.as_str(), decision.scope, decision.kind),
        ("192.0.2.7", "Ip", "ban")
    );
    assert_eq!(decision.id, decision_id(ip));
}

#[test]
fn each_ip_has_one_positive_id_for_ever() {
    let ip = |text: &str| text.parse::<IpAddr>().expect("ip");
    assert_eq!(decision_id(ip("0.0.0.0")), 1);
    assert_eq!(decision_id(ip("192.0.2.7")), 0xC000_0207 + 1);
    assert_eq!(decision_id(ip("255.255.255.255")), 1 << 32);
    // IPv4-mapped IPv6 is the same IP, so the same decision.
    assert_eq!(
        decision_id(ip("::ffff:192.0.2.7")),
        decision_id(ip("192.0.2.7"))
    );
    let v6 = [ip("::1"), ip("2001:db8::7"), ip("2001:db8::8"), ip("::")];
    for address in v6 {
        let id = decision_id(address);
        assert!(id > 1 << 32, "{address}: {id}");
        assert_eq!(id, decision_id(address), "a function of the address");
    }
    let distinct: std::collections::BTreeSet<i64> = v6.iter().map(|a| decision_id(*a)).collect();
    assert_eq!(distinct.len(), v6.len());
    // Fixed keys: the same id in every run and version (a bouncer keeps ids across restarts).
    assert_eq!(decision_id(ip("2001:db8::7")), EXPECTED_2001_DB8_7);
}

/// `decision_id("2001:db8::7")`, fixed once: it must never change.
const EXPECTED_2001_DB8_7: i64 = 2_947_012_479_276_450_274;
