//! Peer-to-peer sharing between several of our own nodes on loopback: a probe captured by one
//! node is served by a node that only knows it through a third; catch-up only for contributors;
//! forged records refused; the identity survives a restart.

use std::net::SocketAddr;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use sentrypeer::event::{Attack, BadActor, CollectedMethod, Origin, Transport};
use sentrypeer::p2p::behaviour::{BehaviourEvent, Protocols};
use sentrypeer::p2p::record::SignedRecord;
use sentrypeer::p2p::{Batch, build_swarm};
use sentrypeer::sip::MessageKind;

use crate::api::curl;
use crate::harness::{
    Daemon, DaemonBuilder, WAIT, options, stored_total, udp_client, udp_exchange,
};
use crate::tools::svmap;

/// A sharing node: responsive, no TLS, P2P on a loopback port, catch-up for anyone who gave one
/// record, API on loopback.
pub(crate) fn node(bootstrap: Option<&str>, extra: &[&str]) -> Daemon {
    sharing_node(bootstrap, extra).start()
}

/// [`node`], not started yet.
pub(crate) fn sharing_node(bootstrap: Option<&str>, extra: &[&str]) -> DaemonBuilder {
    let mut builder = Daemon::builder().args([
        "-r",
        "-N",
        "-p",
        "--p2p-listen-address",
        "127.0.0.1:0",
        "--p2p-min-contribution",
        "1",
        "-a",
        "--api-listen-address",
        "127.0.0.1:0",
    ]);
    if let Some(address) = bootstrap {
        builder = builder.args(["-b", address]);
    }
    builder.args(extra.iter().copied())
}

/// Status and body of a GET on a node's API.
pub(crate) fn get(api: SocketAddr, path: &str) -> (u16, String) {
    let answer = curl(api, path, &[]);
    (answer.status, answer.body)
}

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
    a.wait_for_subscriber(&quiet.peer_id());
    a.wait_for_subscriber(&loud.peer_id());

    let udp = a.udp.expect("A listens for SIP");
    udp_exchange(
        &udp_client(),
        udp,
        options("100", "UDP", "friendly-scanner", "peer-data").as_bytes(),
    );
    for node in [&quiet, &loud] {
        node.wait_for_stored(1);
        let api = node.api.expect("API on");
        assert_eq!(get(api, "/ip-addresses/127.0.0.1?origin=peer").0, 200);
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
    a.wait_for_subscriber(&b.peer_id());
    b.wait_for_subscriber(&c.peer_id());

    let udp = a.udp.expect("A listens for SIP");
    let scan = svmap(udp, a.dir());
    assert!(scan.status.success());
    c.wait_for_logged("peer record accepted", 1);
    c.wait_for_stored(1);

    let api = c.api.expect("C serves the API");
    assert_eq!(get(api, "/ip-addresses/127.0.0.1").0, 200);
    assert_eq!(get(api, "/ip-addresses/127.0.0.1?origin=peer").0, 200);
    assert_eq!(get(api, "/ip-addresses/127.0.0.1?origin=local").0, 404);
    let health = health(&c);
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
    a.wait_for_subscriber(&newcomer.peer_id());
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
    let (status, body) = get(api, "/numbers/0046812118532?origin=peer");
    assert_eq!(status, 200, "{body}");

    let freeloader_api = freeloader.api.expect("API");
    assert_eq!(
        get(freeloader_api, "/numbers/0046812118532").0,
        404,
        "the freeloader got nothing by catch-up"
    );
    for daemon in [newcomer, freeloader, a] {
        daemon.stop().assert_clean_exit();
    }
}

/// A bare libp2p peer (not a sentrypeer node) with a key of its own, connected to `node` and
/// subscribed to the topic, returned once `node` has joined the topic too (its subscription
/// arrives after the connection).
pub(crate) async fn raw_peer_of(
    node: &Daemon,
) -> (
    Keypair,
    libp2p::Swarm<sentrypeer::p2p::behaviour::Behaviour>,
    libp2p::gossipsub::IdentTopic,
) {
    let address: libp2p::Multiaddr = node.p2p_address().parse().expect("multiaddr");
    let key = Keypair::generate_ed25519();
    let mut swarm = build_swarm(&key, "sentrypeer", false).expect("swarm");
    let topic = Protocols::new("sentrypeer").topic;
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&topic)
        .expect("subscribe");
    swarm.dial(address).expect("dial");
    let subscribed = tokio::time::timeout(WAIT, async {
        loop {
            if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(
                libp2p::gossipsub::Event::Subscribed { .. },
            )) = swarm.select_next_some().await
            {
                return;
            }
        }
    })
    .await;
    assert!(subscribed.is_ok(), "the node subscribed to the topic");
    (key, swarm, topic)
}

/// An event about a scanner at `ip`, captured now, for a raw peer to sign.
pub(crate) fn scanner_event(ip: &str) -> BadActor {
    BadActor {
        event_timestamp: jiff::Timestamp::now(),
        event_uuid: uuid::Uuid::now_v7(),
        created_by_node_id: uuid::Uuid::new_v4(),
        collected_method: CollectedMethod::Passive,
        transport: Transport::Udp,
        source: format!("{ip}:5060").parse().expect("addr"),
        destination: "127.0.0.1:5060".parse().expect("addr"),
        called_number: "100".to_owned(),
        request_uri_user: None,
        sip_method: "INVITE".to_owned(),
        sip_user_agent: "forger".to_owned(),
        sip_message: String::new(),
        message_kind: MessageKind::Request,
        origin: Origin::Local,
        attack: Attack::default(),
    }
}

#[tokio::test]
async fn forged_foreign_garbage_and_flooding_records_are_dropped_and_counted_per_peer() {
    let a = node(None, &["--p2p-max-records-per-second", "1"]);
    let (key, mut swarm, topic) = raw_peer_of(&a).await;

    let event = scanner_event;
    let honest = SignedRecord::sign(&event("192.0.2.10"), "sentrypeer", &key).expect("sign");
    let mut forged = SignedRecord::sign(&event("192.0.2.66"), "sentrypeer", &key).expect("sign");
    forged.body = forged.body.replace("192.0.2.66", "192.0.2.99");
    let foreign = SignedRecord::sign(&event("192.0.2.77"), "other-network", &key).expect("sign");
    // A flood: 30 more honest records from one author, beyond its 1/s (burst 2).
    let flood: Vec<String> = (0..30)
        .map(|i| {
            SignedRecord::sign(&event(&format!("198.51.100.{i}")), "sentrypeer", &key)
                .expect("sign")
                .to_json()
        })
        .collect();
    let oversized = format!("{{\"body\":\"{}\",\"signature\":\"00\"}}", "x".repeat(9000));
    // The forged batch last: gossipsub then graylists its sender (see `p2p::scoring`), and
    // ignores what it sends after it.
    for records in [
        vec![foreign.to_json()],
        vec![oversized],
        vec![honest.to_json()],
        flood,
        vec![forged.to_json()],
    ] {
        let data = serde_json::to_vec(&Batch { v: 1, records }).expect("json");
        swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic.clone(), data)
            .expect("publish");
    }
    // A garbage frame, from another peer (it gets that one graylisted too).
    let (garbler_key, mut garbler, _) = raw_peer_of(&a).await;
    garbler
        .behaviour_mut()
        .gossipsub
        .publish(topic.clone(), b"\x00garbage frame".to_vec())
        .expect("publish");
    // Keep our swarms running while A processes the messages.
    let accepted = async {
        loop {
            // 34 records in all (the garbage frame holds none); A counts each one it reads.
            let malformed = health(&a)["p2p"]["rejected_malformed"].as_u64();
            if a.count_logged("peer record accepted") >= 2
                && received(&a) >= 34
                && malformed >= Some(2)
            {
                return;
            }
            let wait = Duration::from_millis(50);
            tokio::select! {
                _ = tokio::time::timeout(wait, swarm.select_next_some()) => {}
                _ = tokio::time::timeout(wait, garbler.select_next_some()) => {}
            }
        }
    };
    assert!(
        tokio::time::timeout(WAIT, accepted).await.is_ok(),
        "the honest record arrived"
    );
    let api = a.api.expect("API");
    let health = health(&a);
    let p2p = &health["p2p"];
    assert_eq!(p2p["rejected_signature"], 1, "{health}");
    assert_eq!(p2p["rejected_network"], 1, "{health}");
    // 31 honest records from one author at 1/s (burst 2): a few accepted, the rest dropped.
    let count = |name: &str| p2p[name].as_u64().unwrap_or(0);
    let (accepted, limited) = (count("accepted_records"), count("rate_limited"));
    assert_eq!(accepted + limited, 31, "{health}");
    assert!((2..=8).contains(&accepted), "{health}");
    assert_eq!(
        count("rejected_malformed"),
        2,
        "oversized record and garbage frame: {health}"
    );
    let sender = key.public().to_peer_id().to_base58();
    let dropped = limited + count("rejected_signature") + count("rejected_network") + 1;
    assert_eq!(
        p2p["dropped_by_peer"][sender.as_str()].as_u64(),
        Some(dropped),
        "every drop counted for the sending peer: {health}"
    );
    let garbler = garbler_key.public().to_peer_id().to_base58();
    assert_eq!(p2p["dropped_by_peer"][garbler.as_str()].as_u64(), Some(1));
    assert_eq!(get(api, "/ip-addresses/192.0.2.10").0, 200);
    assert_eq!(
        get(api, "/ip-addresses/192.0.2.99").0,
        404,
        "the forged record is not stored"
    );
    assert_eq!(
        get(api, "/ip-addresses/192.0.2.77").0,
        404,
        "the foreign record is not stored"
    );
    drop((swarm, garbler));
    a.stop().assert_clean_exit();
}

/// Records node `daemon` has read from peers so far.
fn received(daemon: &Daemon) -> u64 {
    health(daemon)["p2p"]["received_records"]
        .as_u64()
        .unwrap_or(0)
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
    use crate::firewall::{FIREWALL_WAIT, NetNs, firewall_ready, send_udp_from};
    if !firewall_ready(&[]) {
        return;
    }
    let first = NetNs::new().expect("namespace");
    let second = NetNs::new().expect("namespace");
    first
        .connect(&second, &["192.0.2.1/24"], &["192.0.2.7/24"])
        .expect("veth pair between our namespaces");
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let one = start_in(&first, &dirs[0], "first");
    let two = start_in(&second, &dirs[1], "second");
    let deadline = std::time::Instant::now() + FIREWALL_WAIT;
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
    let port = one
        .lines()
        .iter()
        .find_map(|line| {
            line.split("listening for UDP on ")
                .nth(1)?
                .trim()
                .parse::<SocketAddr>()
                .ok()
        })
        .expect("UDP port")
        .port();
    let target = SocketAddr::new("192.0.2.1".parse().expect("ip"), port);
    send_udp_from(&second, target, &options("100", "UDP", "lan-probe", "lan")).expect("probe");
    assert!(
        two.wait_for_line("peer record accepted", deadline),
        "the second host never got the first host's record:\n{}",
        two.log_text()
    );
}

/// Starts a mDNS-enabled node inside `ns`.
fn start_in<'ns>(
    ns: &'ns crate::firewall::NetNs,
    dir: &tempfile::TempDir,
    label: &str,
) -> crate::firewall::NsProcess<'ns> {
    let mut command = ns.command(env!("CARGO_BIN_EXE_sentrypeer"));
    command
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("RUST_LOG", "sentrypeer=debug,info")
        .args([
            "-r",
            "-N",
            "-p",
            "--p2p-mdns",
            "--p2p-min-contribution",
            "1",
        ])
        .args([
            "--sip-listen-address",
            "0.0.0.0:0",
            "--p2p-listen-address",
            "0.0.0.0:0",
        ]);
    crate::firewall::NsProcess::spawn(ns, label, command, false)
}

#[test]
fn other_networks_and_denied_peers_get_nothing_in() {
    let a = node(None, &[]);
    let a_address = a.p2p_address();
    // A node of another community dials A: the protocols differ, nothing is exchanged.
    let fleet = node(Some(&a_address), &["--p2p-network", "private-fleet"]);
    // A node that denies A: connections from A are closed and A's records refused.
    let deny = a.peer_id();
    let guarded = node(Some(&a_address), &["--p2p-deny", deny.as_str()]);
    // A normal peer, to see that A's record did go out.
    let open = node(Some(&a_address), &[]);
    a.wait_for_subscriber(&open.peer_id());

    let udp = a.udp.expect("UDP");
    udp_exchange(
        &udp_client(),
        udp,
        options("100", "UDP", "shared", "net").as_bytes(),
    );
    open.wait_for_logged("peer record accepted", 1);

    for (name, daemon) in [("other network", &fleet), ("denying node", &guarded)] {
        assert_eq!(
            daemon.count_logged("peer record accepted"),
            0,
            "{name} accepted a record"
        );
        let (_, body) = get(daemon.api.expect("API"), "/ip-addresses/127.0.0.1");
        assert!(body.contains("No bad actor found"), "{name}: {body}");
    }
    for daemon in [open, guarded, fleet, a] {
        daemon.stop().assert_clean_exit();
    }
}

/// An INVITE with SDP from a scanner, about 900 bytes: a record of it is near 2 KB once escaped
/// inside a gossip batch.
fn invite_with_sdp(sequence: usize, target: SocketAddr) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 8000 RTP/AVP 0 8 18 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
               a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    format!(
        "INVITE sip:00972{sequence:07}@{target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{sequence};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"1000\" <sip:1000@{target}>;tag={sequence}\r\n\
         To: <sip:00972{sequence:07}@{target}>\r\n\
         Call-ID: burst-{sequence}@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:1000@127.0.0.1:5070>\r\n\
         User-Agent: \"friendly-scanner\"\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Sends [`invite_with_sdp`] probes numbered `sequences` to `node`'s UDP listener.
fn send_invites(node: &Daemon, sequences: std::ops::Range<usize>) {
    let udp = node.udp.expect("the node listens for SIP");
    let socket = udp_client();
    for sequence in sequences {
        socket
            .send_to(invite_with_sdp(sequence, udp).as_bytes(), udp)
            .expect("loopback send");
    }
}

#[test]
fn a_burst_of_full_size_probes_reaches_the_peer_whole() {
    // Enough at once that the outbox fills whole batches (200 records), which are then far past
    // gossipsub's size limit unless batches count records with their JSON escapes.
    const PROBES: usize = 600;
    let a = node(None, &[]);
    let b = node(Some(&a.p2p_address()), &["-R"]);
    a.wait_for_subscriber(&b.peer_id());
    send_invites(&a, 0..PROBES);
    a.wait_for_stored(PROBES as u64);
    b.wait_for_stored(PROBES as u64);
    let health = health(&a);
    assert_eq!(health["p2p"]["unpublished_records"], 0, "{health}");
    assert_eq!(health["p2p"]["published_records"], PROBES, "{health}");
    assert!(
        health["p2p"]["published_messages"].as_u64() >= Some(4),
        "several batches: {health}"
    );
    b.stop().assert_clean_exit();
    a.stop().assert_clean_exit();
}

#[test]
fn a_flood_of_full_size_batches_keeps_reaching_the_peer() {
    // Thousands of large records at once: A publishes full batches back to back, so B's reads
    // hold one whole batch and the start of the next. libp2p-gossipsub checks the size of what
    // it has read, not of the frame, so batches near the size limit made B drop the stream
    // (and A, after five tries, stop sending to B at all while holding what it queued).
    const PROBES: usize = 4_000;
    let a = node(None, &[]);
    // All at once is over the default 1,000 records per second per author.
    let b = node(
        Some(&a.p2p_address()),
        &["-R", "--p2p-max-records-per-second", "100000"],
    );
    a.wait_for_subscriber(&b.peer_id());
    send_invites(&a, 0..PROBES);
    a.wait_for_stored(PROBES as u64);
    let all_in = b.wait_for(|lines| stored_total(lines) >= PROBES as u64);
    let (health, b_health) = (health(&a), health(&b));
    assert!(
        all_in,
        "B stored fewer; A: {}; B: {b_health}",
        health["p2p"]
    );
    assert_eq!(health["p2p"]["published_records"], PROBES, "{health}");
    b.stop().assert_clean_exit();
    a.stop().assert_clean_exit();
}

/// A node's `/api/v1/health`, as JSON.
pub(crate) fn health(daemon: &Daemon) -> serde_json::Value {
    let (_, health) = get(daemon.api.expect("API"), "/api/v1/health");
    serde_json::from_str(&health).expect("JSON")
}

#[tokio::test]
async fn a_peer_that_stops_reading_costs_a_bounded_queue_counted_not_logged() {
    // Enough full batches to fill the peer's send queue many times over.
    const PROBES: usize = 8_000;
    // The default log filter (no RUST_LOG), as operators run it.
    let a = sharing_node(None, &[]).env("RUST_LOG", "").start();
    // Our peer runs until A has joined its topic, then stops reading altogether.
    let (_key, swarm, _topic) = raw_peer_of(&a).await;

    // In rounds that A's socket buffer holds, each stored before the next is sent.
    let stored = |daemon: &Daemon| health(daemon)["events"]["stored"].as_u64().unwrap_or(0);
    for start in (0..PROBES).step_by(1_000) {
        send_invites(&a, start..start + 1_000);
        let sent = (start + 1_000) as u64;
        let deadline = std::time::Instant::now() + WAIT;
        while stored(&a) < sent {
            assert!(std::time::Instant::now() < deadline, "{}", health(&a));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let deadline = std::time::Instant::now() + WAIT;
    let counted = loop {
        let now = health(&a);
        let p2p = &now["p2p"];
        let handed_to_gossip = p2p["published_records"].as_u64().unwrap_or(0)
            + p2p["unpublished_records"].as_u64().unwrap_or(0);
        if handed_to_gossip >= PROBES as u64 && p2p["unsent_to_slow_peers"].as_u64() > Some(0) {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "A counted what it could not send: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(counted["events"]["kernel_dropped"], 0, "{counted}");
    assert_eq!(counted["events"]["dropped"], 0, "{counted}");
    // Still capturing: one more probe is stored.
    send_invites(&a, PROBES..PROBES + 1);
    let deadline = std::time::Instant::now() + WAIT;
    while stored(&a) < PROBES as u64 + 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the last probe stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !a.logged("Send Queue full"),
        "gossipsub's per-message warnings stay out of the default log"
    );
    drop(swarm);
    a.stop().assert_clean_exit();
}
