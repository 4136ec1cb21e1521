//! Peer-to-peer sharing between several of our own nodes: a probe captured by one node is served
//! by a node that only knows it through a third; catch-up only for contributors; the identity
//! survives a restart; mDNS finds a peer on a LAN of our own namespaces. Untrusted input is in
//! `p2p_untrusted.rs`, floods and slow peers in `p2p_load.rs`.

use std::time::Instant;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::http::curl;
use crate::support::namespaces::{new_ns, send_udp_from};
use crate::support::p2p::{
    mdns_node_in, node, node_health, sharing_node, udp_address_of, wait_for_subscriber,
};
use crate::support::prerequisites::firewall_ready;
use crate::support::sip::{options, udp_client, udp_exchange};
use crate::support::sip_tools::svmap;

/// A sharing node without honeypot (`-R`) with the JSON log and syslog on (to a socket the test
/// reads), plus `extra` flags; and that socket.
fn logging_node(bootstrap: &str, extra: &[&str]) -> (Daemon, std::os::unix::net::UnixDatagram) {
    let builder = sharing_node(Some(bootstrap), extra);
    let syslog_path = builder.dir().join("syslog.sock");
    let syslog = std::os::unix::net::UnixDatagram::bind(&syslog_path).expect("bind syslog");
    syslog.set_nonblocking(true).expect("non-blocking");
    let daemon = builder
        .args(["-R", "-j", "-s", "--syslog-address"])
        .args([syslog_path.display().to_string()])
        .start();
    (daemon, syslog)
}

/// Every syslog line that arrived.
fn syslog_lines(socket: &std::os::unix::net::UnixDatagram) -> Vec<String> {
    let mut lines = Vec::new();
    let mut datagram = [0u8; 4096];
    while let Ok(length) = socket.recv(&mut datagram) {
        lines.push(String::from_utf8_lossy(&datagram[..length]).into_owned());
    }
    lines
}

#[test]
fn peer_records_reach_the_json_log_and_syslog_only_when_asked() {
    let a = node(None, &[]);
    let a_address = a.p2p_address();
    let (quiet, quiet_syslog) = logging_node(&a_address, &[]);
    let (loud, loud_syslog) = logging_node(
        &a_address,
        &["--json-log-include-peer-data", "--syslog-include-peer-data"],
    );
    wait_for_subscriber(&a, &quiet);
    wait_for_subscriber(&a, &loud);

    let udp = a.udp.expect("A listens for SIP");
    udp_exchange(
        &udp_client(),
        udp,
        options("100", "UDP", "friendly-scanner", "peer-data").as_bytes(),
    );
    for node in [&quiet, &loud] {
        node.wait_for_stored(1);
        let api = node.api.expect("API on");
        assert_eq!(
            curl(api, "/ip-addresses/127.0.0.1?origin=peer", &[]).status,
            200
        );
    }
    // Stopping drains every queue: what is not in the log now never will be.
    let quiet = quiet.stop();
    quiet.assert_clean_exit();
    assert!(quiet.json_log().is_empty(), "peer data left out by default");
    assert!(syslog_lines(&quiet_syslog).is_empty());

    let loud = loud.stop();
    loud.assert_clean_exit();
    let logged = loud.json_log();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["origin"], format!("peer:{}", a.peer_id()));
    let lines = syslog_lines(&loud_syslog);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("Source IP: 127.0.0.1, Method: OPTIONS"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_probe_captured_by_a_is_served_by_c_which_only_knows_b() {
    let a = node(None, &[]);
    let a_address = a.p2p_address();
    let b = node(Some(&a_address), &[]);
    let b_address = b.p2p_address();
    // C is a pure sharing node (-R): no honeypot, still stores and serves the API, and logs
    // what its peers share.
    let c = node(
        Some(&b_address),
        &["-R", "-j", "--json-log-include-peer-data"],
    );
    wait_for_subscriber(&a, &b);
    wait_for_subscriber(&b, &c);

    let udp = a.udp.expect("A listens for SIP");
    let scan = svmap(udp, a.dir());
    assert!(scan.status.success());
    c.wait_for_logged("peer record accepted", 1);
    c.wait_for_stored(1);

    let api = c.api.expect("C serves the API");
    assert_eq!(curl(api, "/ip-addresses/127.0.0.1", &[]).status, 200);
    assert_eq!(
        curl(api, "/ip-addresses/127.0.0.1?origin=peer", &[]).status,
        200
    );
    assert_eq!(
        curl(api, "/ip-addresses/127.0.0.1?origin=local", &[]).status,
        404
    );
    let health = node_health(&c);
    assert_eq!(health["p2p"]["peer_id"], c.peer_id());
    assert!(health["p2p"]["accepted_records"].as_u64() >= Some(1));

    let a_peer = a.peer_id();
    let stopped = c.stop();
    stopped.assert_clean_exit();
    let log = stopped.json_log();
    assert!(!log.is_empty());
    assert_eq!(
        log[0]["origin"],
        format!("peer:{a_peer}"),
        "peer data is marked"
    );
    assert_eq!(log[0]["sip_user_agent"], "friendly-scanner");
    let origin: String = stopped
        .db()
        .query_row("SELECT origin FROM honey LIMIT 1", [], |row| row.get(0))
        .expect("stored");
    assert_eq!(origin, format!("peer:{a_peer}"));
    // Never re-published as C's own: A never accepted a record about its own probe.
    assert_eq!(a.count_logged("peer record accepted"), 0);
    b.stop().assert_clean_exit();
    a.stop().assert_clean_exit();
}

#[test]
fn catch_up_goes_to_contributors_and_not_to_freeloaders() {
    let a = node(None, &[]);
    let a_address = a.p2p_address();
    let a_udp = a.udp.expect("UDP");
    udp_exchange(
        &udp_client(),
        a_udp,
        options("0046812118532", "UDP", "before-you-joined", "early").as_bytes(),
    );
    a.wait_for_stored(1);
    // Pushed to nobody (no peer yet): only catch-up can deliver it now.
    a.wait_for_logged("records not pushed", 1);

    // A freeloader joins and never captures anything: refused.
    let freeloader = node(Some(&a_address), &[]);
    freeloader.wait_for_logged("catch-up refused by peer", 1);
    a.wait_for_logged("catch-up refused", 1);

    // A newcomer that captures (and so shares) one probe is served the window.
    let newcomer = node(Some(&a_address), &[]);
    wait_for_subscriber(&a, &newcomer);
    let newcomer_udp = newcomer.udp.expect("UDP");
    udp_exchange(
        &udp_client(),
        newcomer_udp,
        options("100", "UDP", "newcomer", "late").as_bytes(),
    );
    a.wait_for_logged("peer record accepted", 1);
    newcomer.wait_for_logged("caught up", 1);
    let api = newcomer.api.expect("API");
    newcomer.wait_for_stored(2);
    let answer = curl(api, "/numbers/0046812118532?origin=peer", &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);

    let freeloader_api = freeloader.api.expect("API");
    assert_eq!(
        curl(freeloader_api, "/numbers/0046812118532", &[]).status,
        404,
        "the freeloader got nothing by catch-up"
    );
    for daemon in [newcomer, freeloader, a] {
        daemon.stop().assert_clean_exit();
    }
}

#[test]
fn the_identity_survives_a_restart() {
    let first = node(None, &[]);
    let peer_id = first.peer_id();
    assert!(peer_id.starts_with("12D3KooW"), "{peer_id}");
    let stopped = first.stop();
    stopped.assert_clean_exit();
    let db = stopped.path("sentrypeer.db");
    let second = Daemon::builder()
        .without_defaults()
        .args([
            "-N",
            "-p",
            "--sip-listen-address",
            "127.0.0.1:0",
            "--p2p-listen-address",
            "127.0.0.1:0",
            "-f",
        ])
        .args([db.display().to_string()])
        .start();
    assert_eq!(second.peer_id(), peer_id);
    second.stop().assert_clean_exit();
}

/// Two hosts on one LAN (two network namespaces of ours joined by a veth pair), no bootstrap
/// node: mDNS finds the peer, and a probe captured on one host is shared with the other.
#[test]
fn mdns_finds_a_peer_on_the_lan_without_a_bootstrap_node() {
    if !firewall_ready(&[]) {
        return;
    }
    let first = new_ns();
    let second = new_ns();
    first
        .connect(&second, &["192.0.2.1/24"], &["192.0.2.7/24"])
        .expect("veth pair between our namespaces");
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let one = mdns_node_in(&first, dirs[0].path(), "first");
    let two = mdns_node_in(&second, dirs[1].path(), "second");
    let deadline = Instant::now() + WAIT;
    assert!(
        one.wait_for_line("sentrypeer ready", deadline),
        "{}",
        one.log_text()
    );
    assert!(
        two.wait_for_line("peer connected", deadline),
        "mDNS found no peer:\n{}",
        two.log_text()
    );
    // The first host pushes to the second only once it knows the second takes its records.
    assert!(
        one.wait_for_line("peer subscribed", deadline),
        "{}",
        one.log_text()
    );
    let port = udp_address_of(&one).port();
    let target = std::net::SocketAddr::new("192.0.2.1".parse().expect("ip"), port);
    send_udp_from(&second, target, &options("100", "UDP", "lan-probe", "lan")).expect("probe");
    assert!(
        two.wait_for_line("peer record accepted", deadline),
        "the second host never got the first host's record:\n{}",
        two.log_text()
    );
}
