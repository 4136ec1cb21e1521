//! Our own peer-to-peer nodes on loopback (and in network namespaces for mDNS), a bare libp2p
//! peer to speak to them, and what they report.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use sentrypeer::event::{BadActor, Capture, CollectedMethod, Transport};
use sentrypeer::p2p::Batch;
use sentrypeer::p2p::behaviour::{Behaviour, BehaviourEvent, Protocols};
use sentrypeer::p2p::build_swarm;
use sentrypeer::p2p::record::SignedRecord;

use super::daemon::{Daemon, DaemonBuilder, WAIT};
use super::http::health;
use super::namespaces::{NetNs, NsProcess, daemon_in};
use super::sip::{invite_with_sdp, udp_client};

/// A sharing node, not started yet: responsive, no TLS, P2P on a loopback port, catch-up for
/// anyone who gave one record, API on loopback; bootstrapping from `bootstrap`, with `extra`
/// flags.
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

/// [`sharing_node`], started.
pub(crate) fn node(bootstrap: Option<&str>, extra: &[&str]) -> Daemon {
    sharing_node(bootstrap, extra).start()
}

/// A node's `/api/v1/health`.
pub(crate) fn node_health(node: &Daemon) -> serde_json::Value {
    health(node.api.expect("the node serves the API"))
}

/// Records `node` has read from peers so far.
pub(crate) fn received(node: &Daemon) -> u64 {
    node_health(node)["p2p"]["received_records"]
        .as_u64()
        .unwrap_or(0)
}

/// Waits until `node`'s gossip knows `peer` takes its records (the peer's subscription
/// arrived), so a record published now reaches it. Fails with both logs.
pub(crate) fn wait_for_subscriber(node: &Daemon, peer: &Daemon) {
    let peer_id = peer.peer_id();
    let subscribed = node.wait_for(|lines| {
        lines
            .iter()
            .any(|line| line.contains("peer subscribed") && line.contains(&peer_id))
    });
    if subscribed {
        return;
    }
    // The outline first: a long log is cut short in CI reports.
    let node_id = node.peer_id();
    let node_lines = node.log_lines();
    let peer_lines = peer.log_lines();
    let saw = |lines: &[String], needle: &str, id: &str| {
        lines
            .iter()
            .filter(|line| line.contains(needle) && line.contains(id))
            .count()
    };
    let failures: Vec<&String> = peer_lines
        .iter()
        .filter(|line| line.contains("dial failed") || line.contains("cannot dial"))
        .collect();
    panic!(
        "{peer_id} never subscribed: the node logged {} connection(s) from it, it logged {} to \
         the node, {} dial failure(s): {failures:?}\n\nnode's log:\n{}\n\npeer's log:\n{}",
        saw(&node_lines, "peer connected", &peer_id),
        saw(&peer_lines, "peer connected", &node_id),
        failures.len(),
        node_lines.join("\n"),
        peer_lines.join("\n")
    );
}

/// Waits until `daemon` logged `event` ("peer connected", "peer disconnected") for the PeerId
/// `peer`; fails with its log.
pub(crate) fn wait_for_peer(daemon: &Daemon, event: &str, peer: &str) {
    daemon.expect(&format!("{event} {peer}"), |lines| {
        (lines.iter()).any(|line| line.contains(event) && line.contains(peer))
    });
}

/// Sends [`invite_with_sdp`] probes numbered `sequences` to `node`'s UDP listener, without
/// waiting for replies.
pub(crate) fn send_invites(node: &Daemon, sequences: std::ops::Range<usize>) {
    let udp = node.udp.expect("the node listens for SIP");
    let socket = udp_client();
    for sequence in sequences {
        socket
            .send_to(invite_with_sdp(sequence, udp).as_bytes(), udp)
            .expect("loopback send");
    }
}

/// A bare libp2p peer (not a sentrypeer node) with a key of its own, connected to `node` and
/// subscribed to the topic, returned once `node` has joined the topic too (its subscription
/// arrives after the connection).
pub(crate) async fn raw_peer_of(
    node: &Daemon,
) -> (
    Keypair,
    libp2p::Swarm<Behaviour>,
    libp2p::gossipsub::IdentTopic,
) {
    let key = Keypair::generate_ed25519();
    let (swarm, topic) = raw_peer_with_key(node, &key).await;
    (key, swarm, topic)
}

/// [`raw_peer_of`] with a key chosen beforehand (to name its PeerId in the node's flags).
pub(crate) async fn raw_peer_with_key(
    node: &Daemon,
    key: &Keypair,
) -> (libp2p::Swarm<Behaviour>, libp2p::gossipsub::IdentTopic) {
    let address: libp2p::Multiaddr = node.p2p_address().parse().expect("multiaddr");
    let mut swarm = build_swarm(key, "sentrypeer", false).expect("swarm");
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
    (swarm, topic)
}

/// The signed record (JSON) of an INVITE from `ip` as a listener of `key`'s node would have
/// captured it now.
pub(crate) fn signed_invite_from(ip: &str, key: &Keypair) -> String {
    signed_invite_at(ip, key, jiff::Timestamp::now())
}

/// [`signed_invite_from`], captured at `at`.
pub(crate) fn signed_invite_at(ip: &str, key: &Keypair, at: jiff::Timestamp) -> String {
    let mut event = scanner_event(ip);
    event.event_timestamp = at;
    SignedRecord::sign(&event, "sentrypeer", key)
        .expect("sign")
        .to_json()
}

/// Publishes `records` in one batch from `swarm`, then keeps it running until `done` holds;
/// false when [`WAIT`] passed first.
pub(crate) async fn publish_until(
    swarm: &mut libp2p::Swarm<Behaviour>,
    topic: &libp2p::gossipsub::IdentTopic,
    records: Vec<String>,
    done: impl Fn() -> bool,
) -> bool {
    let data = serde_json::to_vec(&Batch { v: 1, records }).expect("json");
    swarm
        .behaviour_mut()
        .gossipsub
        .publish(topic.clone(), data)
        .expect("publish");
    let until_done = async {
        while !done() {
            let _ = tokio::time::timeout(Duration::from_millis(50), swarm.select_next_some()).await;
        }
    };
    tokio::time::timeout(WAIT, until_done).await.is_ok()
}

/// Records `node` accepted from peers so far.
pub(crate) fn accepted(node: &Daemon) -> u64 {
    node_health(node)["p2p"]["accepted_records"]
        .as_u64()
        .unwrap_or(0)
}

/// What a listener of a forging peer's would record of an INVITE from `ip` (port 5060) to
/// number 100, captured now: an event for a raw peer to sign.
pub(crate) fn scanner_event(ip: &str) -> BadActor {
    let invite = b"INVITE sip:100@127.0.0.1 SIP/2.0\r\nTo: <sip:100@127.0.0.1>\r\n\
                   User-Agent: forger\r\n\r\n";
    let capture = Capture {
        node_id: uuid::Uuid::new_v4(),
        collected_method: CollectedMethod::Passive,
        transport: Transport::Udp,
        source: SocketAddr::new(ip.parse().expect("an IP"), 5060),
        destination: "127.0.0.1:5060".parse().expect("addr"),
    };
    BadActor::from_probe(&sentrypeer::sip::parse(invite), &capture)
}

/// An mDNS-enabled responsive node inside `ns`, its files in `dir`, listening on every address
/// of the namespace.
pub(crate) fn mdns_node_in<'ns>(ns: &'ns NetNs, dir: &Path, label: &str) -> NsProcess<'ns> {
    let mut command = daemon_in(ns, dir);
    command
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
    NsProcess::spawn(ns, label, command, false)
}

/// The UDP address a node inside a namespace listens on, from its log.
pub(crate) fn udp_address_of(node: &NsProcess<'_>) -> SocketAddr {
    super::daemon::listening_address(&node.lines(), "UDP").expect("UDP port")
}

/// `sentrypeer --print-shared-stats` on the database `db` (its P2P key beside it), as JSON; fails
/// the test unless it exits 0 with one JSON line.
pub(crate) fn print_shared_stats(db: &Path) -> serde_json::Value {
    let home = tempfile::tempdir().expect("temp home");
    let output = std::process::Command::new(super::daemon::BINARY)
        .arg("--print-shared-stats")
        .arg("-f")
        .arg(db)
        .env_clear()
        .env("HOME", home.path())
        .output()
        .expect("run sentrypeer --print-shared-stats");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(&stdout).expect("one JSON line")
}
