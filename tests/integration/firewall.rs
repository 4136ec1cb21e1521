//! Self-tests of the firewall harness (`support::bouncer`, `support::namespaces`): the real
//! CrowdSec bouncer against the LAPI stub in each of its modes, with real packets dropped between
//! two of our namespaces; and the blocklist feed formats against the real `ipset` and `nft`.
//!
//! These tests skip (saying why on stderr) when not root or when `ip`, `nft`, `ipset` or
//! `crowdsec-firewall-bouncer` is missing; set `SENTRYPEER_REQUIRE_FIREWALL=1` to make that a
//! failure instead. Packages: `crowdsec-firewall-bouncer ipset nftables iproute2` (and
//! `iptables` for the iptables mode), installed with `--no-install-recommends` so that the
//! `crowdsec` agent is not pulled in.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::support::bouncer::lapi_stub::LapiStub;
use crate::support::bouncer::{
    BouncerMode, NFT_CHAIN_V4, NFT_TABLE_V4, decision_json, fixture, ipset_restore_accepts,
    is_blocked, nft_apply, nft_chain_packets, nft_check_accepts, nft_ruleset, poll_until,
    run_bouncer, stream_body,
};
use crate::support::daemon::WAIT;
use crate::support::namespaces::{new_ns, send_udp_from};
use crate::support::prerequisites::{REQUIRE_FIREWALL, firewall_ready, on_path};

const API_KEY: &str = "sentrypeer-test-key-0123456789abcdef";

fn v4_attacker() -> IpAddr {
    IpAddr::from([192, 0, 2, 7])
}

fn v6_attacker() -> IpAddr {
    "2001:db8::7".parse().expect("IPv6 address")
}

/// The whole chain with real packets: a stub LAPI in a "server" namespace serves one ban for
/// 192.0.2.7 (and 2001:db8::7), the real bouncer there puts it in its nftables set, the
/// "attacker" namespace's datagrams from 192.0.2.7 stop arriving, and a `deleted` entry lifts
/// the ban.
#[test]
fn bouncer_nftables_blocks_the_stub_decision_and_lifts_it() {
    if !firewall_ready(BouncerMode::Nftables.tools()) {
        return;
    }
    let server = new_ns();
    let attacker = new_ns();
    server
        .connect(
            &attacker,
            &["192.0.2.1/24", "2001:db8::1/64"],
            &["192.0.2.7/24", "2001:db8::7/64"],
        )
        .expect("veth between our namespaces");
    let mut stub = LapiStub::start(&server, API_KEY);
    let server_udp = SocketAddr::new(IpAddr::from([192, 0, 2, 1]), stub.udp_port);
    let deadline = Instant::now() + WAIT;

    // Before any ban the attacker gets through.
    send_udp_from(&attacker, server_udp, "sentrypeer firewall test").expect("send from attacker");
    assert!(
        stub.wait_for_datagrams_from(v4_attacker(), 1, deadline),
        "no datagram from 192.0.2.7 before the ban\n{}",
        stub.process.log_text()
    );

    let bans = [
        decision_json(1, v4_attacker(), "167h59m10s"),
        decision_json(2, v6_attacker(), "1h"),
    ];
    stub.push(&stream_body(&bans, &[]));
    let bouncer = run_bouncer(&server, &stub.url(), API_KEY, BouncerMode::Nftables);
    for ip in [v4_attacker(), v6_attacker()] {
        assert!(
            bouncer.wait_for_blocked(ip, deadline),
            "{ip} not blocked\n{}\n{}\nruleset:\n{}",
            bouncer.log_text(),
            stub.process.log_text(),
            nft_ruleset(&server)
        );
    }
    let ruleset = nft_ruleset(&server);
    assert!(
        ruleset.contains("table ip crowdsec {")
            && ruleset.contains("ip saddr @crowdsec-blacklists counter packets")
            && ruleset.contains("table ip6 crowdsec6 {"),
        "unexpected ruleset:\n{ruleset}"
    );

    // What it asked: start-up call first, then plain polls, with key and user agent.
    assert!(
        stub.wait_for_requests(2, deadline),
        "no poll after start-up"
    );
    let requests = stub.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, "/v1/decisions/stream?startup=true");
    assert_eq!(requests[1].target, "/v1/decisions/stream?");
    for request in &requests {
        assert_eq!(request.header("X-Api-Key"), Some(API_KEY));
        assert!(
            request
                .header("User-Agent")
                .is_some_and(|ua| ua.starts_with("crowdsec-firewall-bouncer/")),
            "{request:?}"
        );
        assert!(
            request.target.starts_with("/v1/decisions/stream?"),
            "unexpected call {request:?}"
        );
    }

    // Now the attacker's datagram is dropped by the bouncer's rule: the drop counter moves and
    // the stub never sees it.
    let dropped_before =
        nft_chain_packets(&server, "ip", NFT_TABLE_V4, NFT_CHAIN_V4).expect("drop chain");
    send_udp_from(&attacker, server_udp, "sentrypeer firewall test").expect("send from attacker");
    assert!(
        poll_until(deadline, || {
            nft_chain_packets(&server, "ip", NFT_TABLE_V4, NFT_CHAIN_V4)
                .is_some_and(|n| n > dropped_before)
        }),
        "drop counter did not move\n{}",
        nft_ruleset(&server)
    );
    assert_eq!(
        stub.datagrams_from(v4_attacker()),
        1,
        "a datagram got through"
    );

    // A deleted decision lifts the ban.
    stub.push(&stream_body(&[], &[decision_json(1, v4_attacker(), "1h")]));
    assert!(
        bouncer.wait_for_unblocked(v4_attacker(), deadline),
        "ban not lifted\n{}",
        bouncer.log_text()
    );
    assert!(is_blocked(&server, v6_attacker()), "the other ban stays");

    let (status, log) = bouncer.stop();
    assert!(
        status.success(),
        "bouncer exit {status:?}\n{}",
        log.join("\n")
    );
    assert!(
        !nft_ruleset(&server).contains("crowdsec"),
        "tables left after SIGTERM"
    );
}

/// ipset mode: the bouncer only fills sets that exist (the helper creates them).
#[test]
fn bouncer_ipset_mode_fills_the_sets() {
    if !firewall_ready(BouncerMode::Ipset.tools()) {
        return;
    }
    let ns = new_ns();
    let mut stub = LapiStub::start(&ns, API_KEY);
    stub.push(&stream_body(
        &[
            decision_json(1, v4_attacker(), "1h"),
            decision_json(2, v6_attacker(), "1h"),
        ],
        &[],
    ));
    let bouncer = run_bouncer(&ns, &stub.url(), API_KEY, BouncerMode::Ipset);
    let deadline = Instant::now() + WAIT;
    for ip in [v4_attacker(), v6_attacker()] {
        assert!(
            bouncer.wait_for_blocked(ip, deadline),
            "{ip} not in the ipset\n{}",
            bouncer.log_text()
        );
    }
    let (status, log) = bouncer.stop();
    assert!(
        status.success(),
        "bouncer exit {status:?}\n{}",
        log.join("\n")
    );
}

/// iptables mode (only where the `iptables` package is installed).
#[test]
fn bouncer_iptables_mode_blocks_the_stub_decision() {
    if !on_path("iptables") && std::env::var_os(REQUIRE_FIREWALL).is_none() {
        eprintln!("iptables mode skipped: iptables is not installed");
        return;
    }
    if !firewall_ready(BouncerMode::Iptables.tools()) {
        return;
    }
    let ns = new_ns();
    let mut stub = LapiStub::start(&ns, API_KEY);
    stub.push(&stream_body(&[decision_json(1, v4_attacker(), "1h")], &[]));
    let bouncer = run_bouncer(&ns, &stub.url(), API_KEY, BouncerMode::Iptables);
    assert!(
        bouncer.wait_for_blocked(v4_attacker(), Instant::now() + WAIT),
        "not blocked\n{}",
        bouncer.log_text()
    );
    let rules = ns.run("iptables", &["-S", "INPUT"]);
    assert!(
        String::from_utf8_lossy(&rules.stdout).contains("--match-set crowdsec-blacklists src"),
        "no INPUT rule: {rules:?}"
    );
    let (status, log) = bouncer.stop();
    assert!(
        status.success(),
        "bouncer exit {status:?}\n{}",
        log.join("\n")
    );
}

/// A refused start-up call (wrong key: 403) ends the bouncer on its own, with status 0, and the
/// API's `message` in its log: a test must look at the log, not the exit status.
#[test]
fn bouncer_gives_up_when_the_startup_call_fails() {
    if !firewall_ready(BouncerMode::Nftables.tools()) {
        return;
    }
    let ns = new_ns();
    let stub = LapiStub::start(&ns, API_KEY);
    let bouncer = run_bouncer(&ns, &stub.url(), "wrong-key", BouncerMode::Nftables);
    let status = bouncer
        .process
        .wait_exit(Instant::now() + WAIT)
        .unwrap_or_else(|| panic!("bouncer kept running\n{}", bouncer.log_text()));
    assert!(status.success(), "{status:?}");
    let log = bouncer.log_text();
    assert!(log.contains("API error: access forbidden"), "{log}");
    assert_eq!(stub.requests().len(), 1, "{log}");
    assert!(!nft_ruleset(&ns).contains("crowdsec"), "tables left behind");
}

/// The recommended feed files load (and the sets then hold the addresses); broken ones fail.
#[test]
fn blocklist_feed_formats_are_accepted_by_ipset_and_nft() {
    if !firewall_ready(&["ipset", "nft"]) {
        return;
    }
    let ns = new_ns();
    let read = |name: &str| std::fs::read_to_string(fixture(name)).expect("fixture");

    let ipset = read("blocklist-sample.ipset");
    ipset_restore_accepts(&ns, &ipset).expect("sample ipset file");
    ipset_restore_accepts(&ns, &ipset).expect("sample ipset file, again (idempotent)");
    for (set, ip) in [
        ("sentrypeer-v4", "192.0.2.7"),
        ("sentrypeer-v4", "198.51.100.23"),
        ("sentrypeer-v6", "2001:db8::7"),
        ("sentrypeer-v6", "2001:db8:1::23"),
    ] {
        assert!(
            ns.run("ipset", &["test", set, ip]).status.success(),
            "{ip} not in {set}"
        );
    }
    for broken in [
        // IPv6 in an IPv4 set.
        "create bad-a hash:ip family inet -exist\nadd bad-a 2001:db8::7\n",
        // Not an address.
        "create bad-b hash:ip family inet -exist\nadd bad-b 192.0.2.300\n",
        // A duplicate without -exist (which, once given on any line, holds for every later
        // line of the same restore).
        "create bad-c hash:ip family inet\nadd bad-c 192.0.2.7\nadd bad-c 192.0.2.7\n",
        // Unknown command.
        "create bad-d hash:ip family inet -exist\nblock bad-d 192.0.2.7\n",
    ] {
        let result = ipset_restore_accepts(&ns, broken);
        assert!(result.is_err(), "accepted broken ipset input:\n{broken}");
    }

    let nft = read("blocklist-sample.nft");
    nft_check_accepts(&ns, &nft).expect("sample nft file");
    assert!(
        !nft_ruleset(&ns).contains("sentrypeer"),
        "nft -c applied something"
    );
    nft_apply(&ns, &nft).expect("apply sample nft file");
    nft_apply(&ns, &nft).expect("apply sample nft file again (idempotent)");
    for (set, ip) in [
        ("blocklist-v4", "192.0.2.7"),
        ("blocklist-v4", "198.51.100.23"),
        ("blocklist-v6", "2001:db8::7"),
        ("blocklist-v6", "2001:db8:1::23"),
    ] {
        let element = format!("{{ {ip} }}");
        assert!(
            ns.run(
                "nft",
                &["get", "element", "inet", "sentrypeer", set, &element]
            )
            .status
            .success(),
            "{ip} not in {set}"
        );
    }
    for broken in [
        // An empty element list is a syntax error: leave the line out instead.
        "add table inet t\nadd set inet t s { type ipv4_addr; }\nadd element inet t s { }\n",
        // IPv6 in an IPv4 set.
        "add table inet t\nadd set inet t s { type ipv4_addr; }\nadd element inet t s { 2001:db8::7 }\n",
        // Not an address.
        "add table inet t\nadd set inet t s { type ipv4_addr; }\nadd element inet t s { 192.0.2.300 }\n",
        // Elements for a table that does not exist.
        "add element inet nosuch s { 192.0.2.7 }\n",
    ] {
        let result = nft_check_accepts(&ns, broken);
        assert!(result.is_err(), "accepted broken nft input:\n{broken}");
    }
}
