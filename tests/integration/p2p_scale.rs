//! The sharing network at community scale: twenty nodes on one address (where gossipsub's
//! default IP-colocation penalty graylisted every peer past about fourteen, so the capturing
//! node published to nobody) and twenty in network namespaces of their own, with distinct
//! addresses routed through a hub namespace (routed, not bridged: the kernel's ARP table is
//! shared by every namespace, and hosts that all talk to each other on one bridged LAN fill it).
//! In both, a probe captured by one node is stored by every other.
//!
//! Each node bootstraps from an earlier one (node i from node (i - 1) / 2, a tree) and finds
//! the rest through Kademlia and identify; only the first node captures (`-r`), the others are
//! pure sharing nodes (`-R`).

use std::net::SocketAddr;
use std::time::Instant;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::http::curl;
use crate::support::namespaces::{NetNs, NsProcess, send_udp_from};
use crate::support::p2p::node;
use crate::support::prerequisites::firewall_ready;
use crate::support::sip::{options, udp_client, udp_exchange};

/// Nodes in each network.
const NODES: usize = 20;

/// The node node `index` bootstraps from.
fn bootstrap_of(index: usize) -> usize {
    (index - 1) / 2
}

#[test]
fn twenty_nodes_on_one_address_all_store_a_probe_captured_by_one() {
    let mut nodes: Vec<Daemon> = vec![node(None, &[])];
    for index in 1..NODES {
        let bootstrap = nodes[bootstrap_of(index)].p2p_address();
        nodes.push(node(Some(&bootstrap), &["-R"]));
    }
    // Every node has a peer on the topic before the probe is captured.
    for daemon in &nodes {
        daemon.wait_for_logged("peer subscribed", 1);
    }
    let udp = nodes[0].udp.expect("the first node captures");
    udp_exchange(
        &udp_client(),
        udp,
        options("100", "UDP", "scale-probe", "scale").as_bytes(),
    );
    for daemon in &nodes[1..] {
        daemon.wait_for_stored(1);
        let api = daemon.api.expect("API");
        assert_eq!(
            curl(api, "/ip-addresses/127.0.0.1?origin=peer", &[]).status,
            200
        );
    }
    for daemon in nodes.into_iter().rev() {
        daemon.stop().assert_clean_exit();
    }
}

/// Address of node `index` on the namespaces' LAN (a documentation range).
fn lan_address(index: usize) -> String {
    format!("198.51.100.{}", index + 1)
}

/// Starts node `index` in `ns`: listening for peers on its LAN address, bootstrapping from
/// `bootstrap` (a multiaddr), capturing only when it is the first.
fn start_in<'ns>(
    ns: &'ns NetNs,
    dir: &tempfile::TempDir,
    index: usize,
    bootstrap: Option<&str>,
) -> NsProcess<'ns> {
    let mut command = ns.command(env!("CARGO_BIN_EXE_sentrypeer"));
    command
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("RUST_LOG", "sentrypeer=debug,info")
        .args(["-N", "-p", "--p2p-min-contribution", "1"])
        .args(["--p2p-listen-address", &format!("{}:0", lan_address(index))])
        .args(["--sip-listen-address", "0.0.0.0:0"])
        .args([if index == 0 { "-r" } else { "-R" }]);
    if let Some(address) = bootstrap {
        command.args(["-b", address]);
    }
    NsProcess::spawn(ns, &format!("node {index}"), command, false)
}

/// The first line's text after `marker`, once the process printed it.
fn printed_after(process: &NsProcess<'_>, marker: &str, deadline: Instant) -> String {
    assert!(
        process.wait_for_line(marker, deadline),
        "{}",
        process.log_text()
    );
    process
        .lines()
        .iter()
        .find_map(|line| line.split(marker).nth(1).map(|rest| rest.trim().to_owned()))
        .expect("the line is there")
}

#[test]
fn twenty_nodes_with_addresses_of_their_own_all_store_a_probe_captured_by_one() {
    if !firewall_ready(&[]) {
        return;
    }
    // A hub namespace routing between the nodes' namespaces, one address each.
    let hub = NetNs::new().expect("namespace");
    let forwarding = hub.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
    assert!(forwarding.status.success(), "{forwarding:?}");
    let gateway = "198.51.100.254";
    let hosts: Vec<NetNs> = (0..NODES)
        .map(|index| {
            let host = NetNs::new().expect("namespace");
            let address = lan_address(index);
            let link = hub
                .connect(
                    &host,
                    &[&format!("{gateway}/32")],
                    &[&format!("{address}/32")],
                )
                .expect("veth pair");
            hub.ip(&["route", "add", &format!("{address}/32"), "dev", &link])
                .expect("route to the host");
            host.ip(&["route", "add", &format!("{gateway}/32"), "dev", &link])
                .expect("route to the hub");
            host.ip(&["route", "add", "198.51.100.0/24", "via", gateway])
                .expect("route to the others");
            host
        })
        .collect();
    let dirs: Vec<tempfile::TempDir> = (0..NODES)
        .map(|_| tempfile::tempdir().expect("dir"))
        .collect();
    let deadline = Instant::now() + WAIT * 3;
    let mut nodes: Vec<NsProcess<'_>> = Vec::new();
    let mut addresses: Vec<String> = Vec::new();
    for (index, (host, dir)) in hosts.iter().zip(&dirs).enumerate() {
        let bootstrap = (index > 0).then(|| addresses[bootstrap_of(index)].as_str());
        let process = start_in(host, dir, index, bootstrap);
        addresses.push(printed_after(&process, "listening for P2P on ", deadline));
        nodes.push(process);
    }
    for process in &nodes {
        assert!(
            process.wait_for_line("peer subscribed", deadline),
            "{}",
            process.log_text()
        );
    }
    let udp: SocketAddr = printed_after(&nodes[0], "listening for UDP on ", deadline)
        .parse()
        .expect("UDP address");
    let target = SocketAddr::new(lan_address(0).parse().expect("ip"), udp.port());
    // Captured from the second host's address, so each node stores that address.
    send_udp_from(
        &hosts[1],
        target,
        &options("100", "UDP", "scale-probe", "lan-scale"),
    )
    .expect("probe");
    let source = format!("source={}", lan_address(1));
    for process in &nodes[1..] {
        let stored = process.wait_for_lines(deadline, |lines| {
            lines
                .iter()
                .any(|line| line.contains("peer record accepted") && line.contains(&source))
        });
        assert!(stored, "{}", process.log_text());
    }
}
