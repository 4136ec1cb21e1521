//! Firewalls consume what the honeypot serves: the stock `crowdsec-firewall-bouncer` blocks an
//! attacker the honeypot saw (in a network namespace pair, packets really dropped), and the
//! ipset and nftables feeds load with `ipset restore` and `nft -f`.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::support::bouncer::{
    BOUNCER, BouncerMode, NFT_CHAIN_V4, NFT_TABLE_V4, ipset_restore_accepts, nft_apply,
    nft_chain_packets, nft_check_accepts, poll_until, run_bouncer,
};
use crate::support::daemon::{Daemon, WAIT, listening_address};
use crate::support::http::curl;
use crate::support::namespaces::{NsProcess, daemon_in, new_ns, send_udp_from};
use crate::support::prerequisites::firewall_ready;
use crate::support::sip::{options, send_from};

#[test]
fn the_stock_crowdsec_bouncer_blocks_an_attacker_the_honeypot_saw() {
    if !firewall_ready(&[BOUNCER, "nft", "svmap"]) {
        return;
    }
    let server = new_ns();
    let attacker = new_ns();
    server
        .connect(&attacker, &["192.0.2.1/24"], &["192.0.2.7/24"])
        .expect("veth pair between our namespaces");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = daemon_in(&server, dir.path());
    // 192.0.2.7 is a documentation address (special-purpose): only a lab flag lets the CrowdSec
    // policy make it a decision.
    command
        .args(["-r", "-N", "--sip-listen-address", "0.0.0.0:0", "-a"])
        .arg("--verdict-include-special-addresses")
        .args([
            "--api-listen-address",
            "127.0.0.1:0",
            "--crowdsec-api-key",
            "bouncer-key",
        ]);
    let daemon = NsProcess::spawn(&server, "sentrypeer", command, false);
    let deadline = Instant::now() + WAIT;
    assert!(
        daemon.wait_for_line("sentrypeer ready", deadline),
        "{}",
        daemon.log_text()
    );
    let lines = daemon.lines();
    let sip_port = listening_address(&lines, "UDP").expect("UDP port").port();
    let api = listening_address(&lines, "API").expect("API address");

    // A real scanner in the attacker's namespace probes the honeypot over the veth.
    let scan = attacker.run("svmap", &["192.0.2.1", "-p", &sip_port.to_string()]);
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    assert!(
        daemon.wait_for_line("stored_total=1", deadline),
        "{}",
        daemon.log_text()
    );

    let bouncer = run_bouncer(
        &server,
        &format!("http://{api}/"),
        "bouncer-key",
        BouncerMode::Nftables,
    );
    let attacker_ip: IpAddr = "192.0.2.7".parse().expect("ip");
    assert!(
        bouncer.wait_for_blocked(attacker_ip, deadline),
        "bouncer never blocked the attacker:\n{}",
        bouncer.log_text()
    );
    let dropped_before = nft_chain_packets(&server, "ip", NFT_TABLE_V4, NFT_CHAIN_V4).unwrap_or(0);
    let target = SocketAddr::new("192.0.2.1".parse().expect("ip"), sip_port);
    send_udp_from(
        &attacker,
        target,
        &options("100", "UDP", "after-ban", "ban"),
    )
    .expect("send");
    let dropped = poll_until(deadline, || {
        nft_chain_packets(&server, "ip", NFT_TABLE_V4, NFT_CHAIN_V4).unwrap_or(0) > dropped_before
    });
    assert!(dropped, "the bouncer's chain dropped the second probe");
    let (status, _) = bouncer.stop();
    assert!(status.success());
    assert_eq!(
        daemon
            .lines()
            .iter()
            .filter(|l| l.contains("probe recorded"))
            .count(),
        1,
        "the banned probe never reached the honeypot"
    );
}

#[test]
fn ipset_and_nftables_feeds_load_into_the_real_tools() {
    if !firewall_ready(&["ipset", "nft", "curl"]) {
        return;
    }
    // Loopback is special-purpose (a lab flag lets it into the feeds) and 127.0.0.1 is the
    // node's own address (never listed): probe from 127.0.0.2.
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["--verdict-include-special-addresses"])
        .start();
    let udp = daemon.udp.expect("UDP");
    let api = daemon.api.expect("API");
    send_from(
        "127.0.0.2",
        udp,
        options("1", "UDP", "feed", "feed").as_bytes(),
    );
    daemon.wait_for_stored(1);
    let fetch = |path: &str| {
        let answer = curl(api, path, &[]);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        answer.body
    };
    let ipset = fetch("/api/v1/feeds/ipset");
    let nft = fetch("/api/v1/feeds/nftables");
    daemon.stop().assert_clean_exit();

    let ns = new_ns();
    // Loading twice proves the file replaces the sets (the swap needs the first load's sets).
    for round in 1..=2 {
        ipset_restore_accepts(&ns, &ipset)
            .unwrap_or_else(|e| panic!("ipset restore, round {round}: {e}\n{ipset}"));
    }
    let listed = ns.run("ipset", &["list", "sentrypeer-v4"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("\n127.0.0.2"),
        "{listed:?}"
    );
    assert!(
        ns.run("ipset", &["list", "sentrypeer-v4-new"])
            .status
            .code()
            != Some(0),
        "temporary set destroyed"
    );

    nft_check_accepts(&ns, &nft).unwrap_or_else(|e| panic!("nft -c: {e}\n{nft}"));
    for round in 1..=2 {
        nft_apply(&ns, &nft).unwrap_or_else(|e| panic!("nft -f, round {round}: {e}\n{nft}"));
    }
    let set = ns.run(
        "nft",
        &["list", "set", "inet", "sentrypeer", "sentrypeer_v4"],
    );
    assert!(
        String::from_utf8_lossy(&set.stdout).contains("127.0.0.2"),
        "{set:?}"
    );
}
