//! The BGP blackhole feed with real routers, in namespaces of our own (attacker ─ router ─
//! honeypot): BIRD 2 learns a captured attacker's /32 and /128 with the BLACKHOLE community,
//! installs them as kernel blackholes, and with reverse-path filtering stops forwarding the
//! attacker's next probe; a listed address is captured but never announced; the table comes back
//! whole after BIRD restarts and when it asks for a route refresh; an IP that ages out of the
//! policy is withdrawn, and at the cap the least recently seen goes first; GoBGP, connecting to
//! the daemon's listening socket, receives the same routes, and what it announces is counted and
//! ignored; FRR, with README's policy, accepts them too.
//!
//! These tests need root (network namespaces), `bird`/`birdc`, `gobgpd`/`gobgp`, FRR's `bgpd`
//! and `vtysh`, `nft` and `curl`; they skip (saying why) without them unless
//! `SENTRYPEER_REQUIRE_ROOT` is set, as in CI.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::support::bgp::{
    ATTACKER, ATTACKER_MORE, ATTACKER_NEVER, ATTACKER_V6, ATTACKER_V6_NEVER, BGPD, Bird, DAEMON_AS,
    Frr, GoBgp, HONEYPOT, HONEYPOT_V6, ROUTER, ROUTER_AS, Topology, api_json, bgp_ready,
    eventually, fixture, seen_count, start_daemon, tcp_probe, udp_probe,
};
use crate::support::daemon::WAIT;
use crate::support::sip::options;

/// A router's config from `tests/fixtures/bgp/`, with the addresses and AS numbers (and `extra`)
/// filled in.
fn router_config(name: &str, extra: &[(&str, String)]) -> String {
    let mut values = vec![
        ("ROUTER", ROUTER.to_owned()),
        ("HONEYPOT", HONEYPOT.to_owned()),
        ("ROUTER_AS", ROUTER_AS.to_string()),
        ("DAEMON_AS", DAEMON_AS.to_string()),
    ];
    values.extend_from_slice(extra);
    fixture(name, &values)
}

fn bird_config() -> String {
    router_config("bird.conf", &[])
}

/// A TCP probe from the attacker's IPv4 and IPv6 addresses; the routes they become: (family,
/// prefix, next hop).
fn probe_from_both_families(
    net: &Topology,
    port: u16,
) -> [(&'static str, String, &'static str); 2] {
    for (source, honeypot) in [(ATTACKER, HONEYPOT), (ATTACKER_V6, HONEYPOT_V6)] {
        tcp_probe(&net.attacker, source, target(honeypot, port)).expect("probe");
    }
    [
        ("ipv4", format!("{ATTACKER}/32"), "192.0.2.1"),
        ("ipv6", format!("{ATTACKER_V6}/128"), "100::1"),
    ]
}

/// The daemon's `[bgp]` table with one peer (the router), and `extra` TOML after it.
fn daemon_config(peer: &str, extra: &str) -> String {
    format!(
        "[bgp]\nenabled = true\nlocal_as = {DAEMON_AS}\nrouter_id = \"{HONEYPOT}\"\n{extra}\n\
         [[bgp.peer]]\naddress = \"{ROUTER}\"\nremote_as = {ROUTER_AS}\n{peer}\n"
    )
}

fn target(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse::<IpAddr>().expect("address"), port)
}

#[test]
fn bird_blackholes_a_captured_attacker_and_reverse_path_filtering_stops_its_next_probe() {
    if !bgp_ready(&["bird", "birdc", "nft"]) {
        return;
    }
    let net = Topology::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let bird = Bird::start(&net.router, dir.path(), &bird_config());
    let config = daemon_config(
        "",
        &format!("never_announce = [\"{ATTACKER_NEVER}\", \"{ATTACKER_V6_NEVER}/128\"]"),
    );
    let (daemon, port, api) = start_daemon(&net.honeypot, dir.path(), &config, &[]);
    let deadline = Instant::now() + WAIT;
    assert!(
        daemon.wait_for_line("BGP session established", deadline),
        "{}\n{}",
        daemon.log_text(),
        bird.log_text()
    );

    // The listed address first, then the attacker: once the attacker's route is in, the listed
    // one (captured before it) would be too if it were announced.
    for (source, honeypot) in [
        (ATTACKER_NEVER, HONEYPOT),
        (ATTACKER_V6_NEVER, HONEYPOT_V6),
        (ATTACKER, HONEYPOT),
        (ATTACKER_V6, HONEYPOT_V6),
    ] {
        tcp_probe(&net.attacker, source, target(honeypot, port))
            .unwrap_or_else(|e| panic!("probe from {source}: {e}"));
    }
    for prefix in [format!("{ATTACKER}/32"), format!("{ATTACKER_V6}/128")] {
        assert!(
            eventually(deadline, || bird.has_route(&prefix)),
            "BIRD never learned {prefix}\n{}\n{}",
            bird.log_text(),
            daemon.log_text()
        );
        let route = bird.route(&prefix);
        assert!(route.contains("blackhole"), "{route}");
        assert!(
            route.contains("BGP.community: (65535,666) (65535,65281)"),
            "{route}"
        );
        assert!(
            route.contains(&format!("BGP.as_path: {DAEMON_AS}")),
            "{route}"
        );
    }
    assert!(
        bird.route(&format!("{ATTACKER}/32"))
            .contains("BGP.next_hop: 192.0.2.1")
    );
    assert!(
        bird.route(&format!("{ATTACKER_V6}/128"))
            .contains("BGP.next_hop: 100::1")
    );
    for listed in [
        format!("{ATTACKER_NEVER}/32"),
        format!("{ATTACKER_V6_NEVER}/128"),
    ] {
        assert!(!bird.has_route(&listed), "{listed} was announced");
    }
    assert_eq!(
        seen_count(&net.honeypot, api, ATTACKER_NEVER),
        1,
        "listed, yet captured"
    );

    // BIRD put them in the kernel as blackholes.
    for ip in [ATTACKER, ATTACKER_V6] {
        assert!(
            eventually(deadline, || net
                .router_kernel_route(ip)
                .starts_with("blackhole")),
            "kernel route for {ip}: {:?}",
            net.router_kernel_route(ip)
        );
    }

    // The API says what is announced to whom; health shows the session.
    let routes = api_json(&net.honeypot, api, "/api/v1/bgp/routes");
    let prefixes: Vec<&str> = (routes["routes"].as_array().expect("routes").iter())
        .map(|route| route["prefix"].as_str().expect("prefix"))
        .collect();
    assert_eq!(prefixes.len(), 2, "{routes}");
    for prefix in [format!("{ATTACKER}/32"), format!("{ATTACKER_V6}/128")] {
        assert!(prefixes.contains(&prefix.as_str()), "{routes}");
    }
    assert_eq!(routes["routes"][0]["announced_to"][0], ROUTER, "{routes}");
    assert_eq!(routes["sessions"][0]["state"], "established", "{routes}");
    let health = api_json(&net.honeypot, api, "/api/v1/health");
    assert_eq!(health["bgp"]["routes"], 2, "{health}");
    assert_eq!(health["bgp"]["sessions"][0]["prefixes_sent"], 2, "{health}");

    // With uRPF the router drops what the blackholed sources send. A probe from each, then one
    // from each listed address on the same path: once the listed ones' arrive, the attacker's
    // would have too.
    net.enable_rp_filter();
    let probe = options("100", "UDP", "after-blackhole", "after");
    for (source, honeypot) in [
        (ATTACKER, HONEYPOT),
        (ATTACKER_V6, HONEYPOT_V6),
        (ATTACKER_NEVER, HONEYPOT),
        (ATTACKER_V6_NEVER, HONEYPOT_V6),
    ] {
        udp_probe(&net.attacker, source, target(honeypot, port), &probe)
            .unwrap_or_else(|e| panic!("UDP from {source}: {e}"));
    }
    for listed in [ATTACKER_NEVER, ATTACKER_V6_NEVER] {
        assert!(
            eventually(deadline, || seen_count(&net.honeypot, api, listed) == 2),
            "the listed address's second probe never arrived"
        );
    }
    for blackholed in [ATTACKER, ATTACKER_V6] {
        assert_eq!(
            seen_count(&net.honeypot, api, blackholed),
            1,
            "{blackholed}'s probe got through the router"
        );
    }
    assert!(
        tcp_probe(&net.attacker, ATTACKER, target(HONEYPOT, port)).is_err(),
        "a TCP connection from the blackholed attacker"
    );
}

#[test]
fn bird_gets_the_whole_table_again_after_a_restart_and_a_route_refresh() {
    if !bgp_ready(&["bird", "birdc"]) {
        return;
    }
    let net = Topology::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bird = Bird::start(&net.router, dir.path(), &bird_config());
    let (daemon, port, api) = start_daemon(&net.honeypot, dir.path(), &daemon_config("", ""), &[]);
    let deadline = Instant::now() + WAIT;
    let attackers = [ATTACKER, ATTACKER_MORE[0]];
    for source in attackers {
        tcp_probe(&net.attacker, source, target(HONEYPOT, port)).expect("probe");
    }
    let all_there = |bird: &Bird<'_>| {
        attackers
            .iter()
            .all(|ip| bird.has_route(&format!("{ip}/32")))
    };
    assert!(
        eventually(deadline, || all_there(&bird)),
        "{}",
        daemon.log_text()
    );

    bird.restart();
    assert!(!all_there(&bird), "a fresh BIRD starts empty");
    assert!(
        eventually(Instant::now() + WAIT, || all_there(&bird)),
        "the table was not sent again\n{}\n{}",
        bird.protocol(),
        daemon.log_text()
    );
    assert!(
        daemon
            .lines()
            .iter()
            .filter(|l| l.contains("BGP session established"))
            .count()
            >= 2
    );

    // A route refresh from BIRD gets both routes again on the same session.
    let announced = || {
        let health = api_json(&net.honeypot, api, "/api/v1/health");
        health["bgp"]["sessions"][0]["updates_sent"].as_u64()
    };
    let before = announced();
    let reply = bird.reload_in();
    assert!(reply.to_lowercase().contains("reload"), "{reply}");
    assert!(
        eventually(Instant::now() + WAIT, || announced() > before),
        "no UPDATE after the refresh\n{}",
        daemon.log_text()
    );
    assert!(all_there(&bird));
}

#[test]
fn an_ip_that_ages_out_is_withdrawn_and_at_the_cap_the_least_recently_seen_goes_first() {
    if !bgp_ready(&["bird", "birdc"]) {
        return;
    }
    let net = Topology::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let bird = Bird::start(&net.router, dir.path(), &bird_config());
    let config = daemon_config("", "max_routes = 2\n") + "[verdicts.bgp]\nmax_age = \"12s\"\n";
    let (daemon, port, api) = start_daemon(&net.honeypot, dir.path(), &config, &[]);
    let deadline = Instant::now() + WAIT;
    // In order: the first is the least recently seen (same second: the lowest address).
    let attackers = [ATTACKER, ATTACKER_MORE[0], ATTACKER_MORE[1]];
    for source in attackers {
        tcp_probe(&net.attacker, source, target(HONEYPOT, port)).expect("probe");
    }
    let route = |ip: &str| bird.has_route(&format!("{ip}/32"));
    assert!(
        eventually(deadline, || route(attackers[1])
            && route(attackers[2])
            && !route(attackers[0])),
        "at the cap of 2: {:?}\n{}",
        attackers.map(route),
        daemon.log_text()
    );
    let health = api_json(&net.honeypot, api, "/api/v1/health");
    assert!(health["bgp"]["capped"].as_u64() >= Some(1), "{health}");

    // Nothing new from them: past max_age the sweep withdraws them.
    assert!(
        eventually(Instant::now() + WAIT * 2, || !route(attackers[1])
            && !route(attackers[2])),
        "not withdrawn after max_age\n{}",
        daemon.log_text()
    );
    let health = api_json(&net.honeypot, api, "/api/v1/health");
    assert_eq!(health["bgp"]["routes"], 0, "{health}");
    assert!(health["bgp"]["withdrawn"].as_u64() >= Some(2), "{health}");
}

#[test]
fn gobgp_receives_the_same_routes_and_what_it_announces_is_ignored() {
    if !bgp_ready(&["gobgpd", "gobgp"]) {
        return;
    }
    let net = Topology::new();
    let dir = tempfile::tempdir().expect("temp dir");
    // The daemon waits for GoBGP to connect to its listening socket.
    let config = daemon_config("passive = true", "listen_address = \"0.0.0.0:0\"");
    let (daemon, port, api) = start_daemon(&net.honeypot, dir.path(), &config, &[]);
    let bgp_port = crate::support::daemon::listening_address(&daemon.lines(), "BGP")
        .expect("BGP port")
        .port();
    let gobgp = GoBgp::start(
        &net.router,
        dir.path(),
        &router_config("gobgpd.toml", &[("HONEYPOT_PORT", bgp_port.to_string())]),
    );
    let deadline = Instant::now() + WAIT;
    assert!(
        daemon.wait_for_line("BGP session established", deadline),
        "{}\n{}",
        daemon.log_text(),
        gobgp.log_text()
    );
    for (family, prefix, next_hop) in probe_from_both_families(&net, port) {
        assert!(
            eventually(deadline, || gobgp.path(family, &prefix).is_some()),
            "GoBGP never learned {prefix}\n{}",
            gobgp.run(&["global", "rib", "-a", family])
        );
        let path = gobgp.path(family, &prefix).expect("path").to_string();
        // 65535:666 and NO_EXPORT as 32-bit values; AS path; next hop.
        assert!(
            path.contains("\"communities\":[4294902426,4294967041]"),
            "{path}"
        );
        assert!(path.contains(&format!("\"asns\":[{DAEMON_AS}]")), "{path}");
        assert!(
            path.contains(&format!("\"nexthop\":\"{next_hop}\"")),
            "{path}"
        );
    }

    // GoBGP announces a route of its own: counted, never announced on nor listed.
    let added = gobgp.run(&["global", "rib", "add", "-a", "ipv4", "10.99.0.0/24"]);
    assert!(!added.contains("error"), "{added}");
    assert!(
        eventually(deadline, || {
            api_json(&net.honeypot, api, "/api/v1/health")["bgp"]["sessions"][0]
                ["prefixes_received_ignored"]
                .as_u64()
                >= Some(1)
        }),
        "the received prefix was not counted"
    );
    let routes = api_json(&net.honeypot, api, "/api/v1/bgp/routes");
    assert!(!routes.to_string().contains("10.99.0.0"), "{routes}");
    assert_eq!(
        routes["routes"].as_array().map(Vec::len),
        Some(2),
        "{routes}"
    );
}

#[test]
fn frr_accepts_the_routes_with_the_readme_policy() {
    if !bgp_ready(&["vtysh", BGPD]) {
        return;
    }
    let net = Topology::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let frr = Frr::start(
        &net.router,
        dir.path(),
        &router_config("frr.conf", &[]),
        ROUTER,
    );
    let (daemon, port, _api) = start_daemon(&net.honeypot, dir.path(), &daemon_config("", ""), &[]);
    let deadline = Instant::now() + WAIT;
    assert!(
        daemon.wait_for_line("BGP session established", deadline),
        "{}\n{}",
        daemon.log_text(),
        frr.log_text()
    );
    for (family, prefix, next_hop) in probe_from_both_families(&net, port) {
        assert!(
            eventually(deadline, || !frr.route(family, &prefix).is_null()),
            "FRR never accepted {prefix}\n{}\n{}",
            frr.vtysh(&format!("show bgp {family} unicast")),
            daemon.log_text()
        );
        let path = &frr.route(family, &prefix)["paths"][0];
        // FRR names 65535:666 (RFC 7999) and NO_EXPORT.
        assert_eq!(
            path["community"]["list"],
            serde_json::json!(["blackhole", "noExport"]),
            "{path}"
        );
        assert_eq!(path["valid"], true, "{path}");
        assert_eq!(path["aspath"]["string"], DAEMON_AS.to_string(), "{path}");
        assert_eq!(path["origin"], "IGP", "{path}");
        assert!(path["nexthops"].to_string().contains(next_hop), "{path}");
    }
}
