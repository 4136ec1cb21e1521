//! Firewalls consume what the honeypot serves: the stock `crowdsec-firewall-bouncer` blocks an
//! attacker the honeypot saw (in a network namespace pair, packets really dropped), and the
//! ipset and nftables feeds load with `ipset restore` and `nft -f`.

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Instant;

use crate::firewall::{
    BouncerMode, FIREWALL_WAIT, NFT_CHAIN_V4, NFT_TABLE_V4, NetNs, NsProcess, firewall_ready,
    ipset_restore_accepts, nft_apply, nft_chain_packets, nft_check_accepts, run_bouncer,
    send_udp_from,
};
use crate::harness::{Daemon, options, udp_client, udp_exchange};

/// The address after `listening for <what> on ` in the daemon's log.
fn listening(lines: &[String], what: &str) -> Option<SocketAddr> {
    let marker = format!("listening for {what} on ");
    lines
        .iter()
        .find_map(|line| line.split(&marker).nth(1)?.trim().parse().ok())
}

#[test]
fn the_stock_crowdsec_bouncer_blocks_an_attacker_the_honeypot_saw() {
    if !firewall_ready(&[crate::firewall::BOUNCER, "nft", "svmap"]) {
        return;
    }
    let server = NetNs::new().expect("server namespace");
    let attacker = NetNs::new().expect("attacker namespace");
    server
        .connect(&attacker, &["192.0.2.1/24"], &["192.0.2.7/24"])
        .expect("veth pair between our namespaces");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = server.command(env!("CARGO_BIN_EXE_sentrypeer"));
    command
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("RUST_LOG", "sentrypeer=debug,info")
        .args(["-r", "-N", "--sip-listen-address", "0.0.0.0:0", "-a"])
        .args([
            "--api-listen-address",
            "127.0.0.1:0",
            "--crowdsec-api-key",
            "bouncer-key",
        ]);
    let daemon = NsProcess::spawn(&server, "sentrypeer", command, false);
    let deadline = Instant::now() + FIREWALL_WAIT;
    assert!(
        daemon.wait_for_line("sentrypeer ready", deadline),
        "{}",
        daemon.log_text()
    );
    let lines = daemon.lines();
    let sip_port = listening(&lines, "UDP").expect("UDP port").port();
    let api = listening(&lines, "API").expect("API address");

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
    let dropped = poll(deadline, || {
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
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let udp = daemon.udp.expect("UDP");
    let api = daemon.api.expect("API");
    udp_exchange(
        &udp_client(),
        udp,
        options("1", "UDP", "feed", "feed").as_bytes(),
    );
    daemon.wait_for_stored(1);
    let fetch = |path: &str| {
        let output = Command::new("curl")
            .args(["-s", "--fail", &format!("http://{api}{path}")])
            .output()
            .expect("curl");
        assert!(output.status.success(), "{path}");
        String::from_utf8(output.stdout).expect("UTF-8 feed")
    };
    let ipset = fetch("/api/v1/feeds/ipset");
    let nft = fetch("/api/v1/feeds/nftables");
    daemon.stop().assert_clean_exit();

    let ns = NetNs::new().expect("namespace");
    // Loading twice proves the file replaces the sets (the swap needs the first load's sets).
    for round in 1..=2 {
        ipset_restore_accepts(&ns, &ipset)
            .unwrap_or_else(|e| panic!("ipset restore, round {round}: {e}\n{ipset}"));
    }
    let listed = ns.run("ipset", &["list", "sentrypeer-v4"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("\n127.0.0.1"),
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
        String::from_utf8_lossy(&set.stdout).contains("127.0.0.1"),
        "{set:?}"
    );
}

fn poll(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        // Firewall counters are external state with nothing to wait on.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
