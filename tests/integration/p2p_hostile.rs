//! Hostile peers against a real node, each a bare libp2p peer of the test's own: one answering
//! catch-up with endless pages (of its own records: no more than the per-author rate is
//! stored; of new identities' records: cut off past a window's worth), one pulling catch-up
//! past its bound (refused, and never sent its own records), and a thousand identities
//! connecting at once (SIP over TCP and the API keep answering).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use libp2p::futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, noise, tcp, yamux};
use sentrypeer::event::format_timestamp;
use sentrypeer::p2p::behaviour::{Behaviour, BehaviourEvent};
use sentrypeer::p2p::protocol::{CatchUpRequest, CatchUpResponse, PAGE_RECORDS};
use sentrypeer::p2p::record::SignedRecord;
use sentrypeer::p2p::{Batch, record::public_key_of};

use crate::support::daemon::{Daemon, WAIT};
use crate::support::http::curl;
use crate::support::p2p::{node, node_health, raw_peer_of, sharing_node, signed_invite_from};
use crate::support::sip::{options, udp_client, udp_exchange};

/// A p2p counter of `daemon`'s health.
fn counter(daemon: &Daemon, name: &str) -> u64 {
    node_health(daemon)["p2p"][name].as_u64().unwrap_or(0)
}

/// The next catch-up request `swarm` gets, with the channel to answer it on.
async fn next_request(
    swarm: &mut Swarm<Behaviour>,
) -> Option<(CatchUpRequest, ResponseChannel<CatchUpResponse>)> {
    let wait = tokio::time::timeout(WAIT, async {
        loop {
            if let SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) = swarm.select_next_some().await
            {
                return (request, channel);
            }
        }
    });
    wait.await.ok()
}

/// Answers every catch-up request `swarm` gets with a full page of records from `sign` and
/// "more", for `period` or until `done`; returns the pages sent and when the first was asked for.
async fn answer_endlessly(
    swarm: &mut Swarm<Behaviour>,
    period: Duration,
    done: impl Fn() -> bool,
    mut sign: impl FnMut(usize) -> String,
) -> (usize, Instant) {
    let (request, channel) = next_request(swarm)
        .await
        .expect("the node asks for catch-up");
    assert_eq!(request.after, None, "from the window's start");
    let first = Instant::now();
    let base = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let mut pages = 0;
    let mut channel = Some(channel);
    while first.elapsed() < period && !done() {
        if let Some(channel) = channel.take() {
            pages += 1;
            let records = (0..PAGE_RECORDS).map(&mut sign).collect();
            let position = base + jiff::SignedDuration::from_secs(pages as i64);
            let next = Some((format_timestamp(position), uuid::Uuid::now_v7().to_string()));
            let page = CatchUpResponse::Page { records, next };
            let _ = swarm.behaviour_mut().sync.send_response(channel, page);
        }
        let wait = period
            .saturating_sub(first.elapsed())
            .min(Duration::from_millis(200));
        if let Ok(Some((_, next))) = tokio::time::timeout(wait, next_request(swarm)).await {
            channel = Some(next);
        }
    }
    (pages, first)
}

#[tokio::test]
async fn endless_catch_up_pages_of_one_author_get_no_more_than_its_rate_stored() {
    const RATE: u64 = 10;
    let a = node(None, &["-R", "--p2p-max-records-per-second", "10"]);
    let (key, mut hostile, _) = raw_peer_of(&a).await;
    let sign = |n| signed_invite_from(&format!("203.0.113.{}", n % 250), &key);
    let (pages, first) =
        answer_endlessly(&mut hostile, Duration::from_secs(6), || false, sign).await;
    let accepted = counter(&a, "accepted_records");
    let elapsed = first.elapsed().as_secs() + 1;
    // Two seconds' worth at once, then the rate.
    assert!(
        accepted <= RATE * 2 + RATE * elapsed,
        "{accepted} records in {elapsed} s; {}",
        node_health(&a)["p2p"]
    );
    assert!(accepted >= RATE * 2, "the burst is taken: {accepted}");
    assert!(counter(&a, "catch_up_rate_waits") >= 1);
    assert!(
        pages <= 2,
        "the node asks for more only once a page is taken: {pages} pages"
    );
    drop(hostile);
    a.stop().assert_clean_exit();
}

#[tokio::test]
async fn endless_catch_up_pages_of_new_identities_cut_their_sender_off() {
    let a = node(None, &["-R", "--p2p-max-catch-up-records", "1000"]);
    let (key, mut hostile, _) = raw_peer_of(&a).await;
    // Every record from an identity of its own: each has a fresh per-author rate.
    let sign = |n| {
        let author = Keypair::generate_ed25519();
        signed_invite_from(&format!("203.0.113.{}", n % 250), &author)
    };
    answer_endlessly(&mut hostile, WAIT, || a.logged("peer cut off"), sign).await;
    a.wait_for_logged("peer cut off", 1);
    assert_eq!(
        counter(&a, "catch_up_cut_off"),
        1,
        "{}",
        node_health(&a)["p2p"]
    );
    assert!(counter(&a, "accepted_records") <= 1000);
    // It is disconnected, and stays out.
    assert!(a.logged(&format!(
        "peer disconnected peer={}",
        key.public().to_peer_id()
    )));
    drop(hostile);
    let mut again = fresh_swarm(&key);
    again
        .dial(a.p2p_address().parse::<Multiaddr>().expect("multiaddr"))
        .expect("dial");
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            if let SwarmEvent::ConnectionClosed { .. } = again.select_next_some().await {
                return;
            }
        }
    });
    assert!(closed.await.is_ok(), "a peer cut off is disconnected again");
    a.stop().assert_clean_exit();
}

/// A swarm of the node's kind for `key`.
fn fresh_swarm(key: &Keypair) -> Swarm<Behaviour> {
    sentrypeer::p2p::build_swarm(key, "sentrypeer", false).expect("swarm")
}

/// Sends `request` to `peer` and waits for its answer.
async fn ask(
    swarm: &mut Swarm<Behaviour>,
    peer: PeerId,
    after: Option<(String, String)>,
) -> CatchUpResponse {
    let request = CatchUpRequest {
        since: String::new(),
        after,
    };
    let id = swarm.behaviour_mut().sync.send_request(&peer, request);
    let answer = tokio::time::timeout(WAIT, async {
        loop {
            if let SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            })) = swarm.select_next_some().await
                && request_id == id
            {
                return response;
            }
        }
    });
    answer.await.expect("an answer")
}

/// The author of a signed record.
fn author_of(text: &str) -> PeerId {
    let (author, _) = SignedRecord::verify(text, "sentrypeer", None, jiff::Timestamp::now())
        .expect("a valid record");
    assert!(public_key_of(&author).is_some());
    author
}

#[tokio::test]
async fn a_peer_gets_the_window_once_per_connection_and_never_its_own_records() {
    let a = node(None, &[]);
    let udp = a.udp.expect("A captures");
    for n in 0..3 {
        let probe = options("100", "UDP", "window", &format!("window-{n}"));
        udp_exchange(&udp_client(), udp, probe.as_bytes());
    }
    a.wait_for_stored(3);
    let (key, mut peer, topic) = raw_peer_of(&a).await;
    let me = key.public().to_peer_id();
    // It contributes one record of its own, so it may catch up.
    let data = serde_json::to_vec(&Batch::new(vec![signed_invite_from("192.0.2.44", &key)]))
        .expect("json");
    peer.behaviour_mut()
        .gossipsub
        .publish(topic, data)
        .expect("publish");
    let contributed = tokio::time::timeout(WAIT, async {
        while counter(&a, "accepted_records") < 1 {
            let _ = tokio::time::timeout(Duration::from_millis(50), peer.select_next_some()).await;
        }
    });
    assert!(contributed.await.is_ok(), "{}", node_health(&a)["p2p"]);
    a.wait_for_stored(4);

    let a_peer: PeerId = a.peer_id().parse().expect("PeerId");
    let CatchUpResponse::Page { records, next } = ask(&mut peer, a_peer, None).await else {
        panic!("a contributor is served");
    };
    assert_eq!(next, None, "the whole window in one page");
    assert_eq!(
        records.len(),
        3,
        "A's three probes, not the peer's own record"
    );
    assert!(records.iter().all(|text| author_of(text) == a_peer));
    assert!(records.iter().all(|text| author_of(text) != me));
    // Pulling it again on the same connection is refused.
    let again = ask(&mut peer, a_peer, None).await;
    assert!(
        matches!(&again, CatchUpResponse::Refused { reason } if reason.contains("served")),
        "{again:?}"
    );
    assert_eq!(counter(&a, "catch_up_refused_window_served"), 1);
    assert_eq!(counter(&a, "catch_up_pages_served"), 1);
    drop(peer);
    a.stop().assert_clean_exit();
}

/// A bare identity: TCP, Noise and Yamux, no protocol, connections kept a minute.
fn identity_swarm() -> Swarm<libp2p::swarm::dummy::Behaviour> {
    libp2p::SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("transport")
        .with_behaviour(|_| libp2p::swarm::dummy::Behaviour)
        .expect("behaviour")
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// `count` identities dialling `address`, each driven by a task of `tasks` until it is dropped.
fn dial_identities(address: &Multiaddr, count: usize, tasks: &mut tokio::task::JoinSet<()>) {
    for _ in 0..count {
        let mut swarm = identity_swarm();
        swarm.dial(address.clone()).expect("dial");
        tasks.spawn(async move {
            loop {
                swarm.select_next_some().await;
            }
        });
    }
}

/// Raises this test process's open-file limit to its hard limit (a thousand sockets of ours).
fn raise_own_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    let _ = setrlimit(Resource::Nofile, raised);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connecting_identities_leave_sip_tcp_and_the_api_answering() {
    raise_own_open_file_limit();
    // 1,024 descriptors in all, as a default soft limit: SIP/TCP's cap (1,024 connections) and
    // the API's (512) already exceed it, so P2P keeps to an eighth. Every identity comes from
    // 127.0.0.1: the per-address cap is lifted, so it falls to the total the limit leaves, as
    // if the identities came from everywhere.
    let a = sharing_node(None, &["--p2p-max-connections-per-address", "1000"])
        .wrapped(["prlimit", "--nofile=1024:1024", "--"])
        .start();
    assert!(
        a.logged("peer-to-peer connections capped lower"),
        "{}",
        a.log_lines().join("\n")
    );
    let address: Multiaddr = a.p2p_address().parse().expect("multiaddr");
    let mut tasks = tokio::task::JoinSet::new();
    dial_identities(&address, 1000, &mut tasks);
    let refused = |daemon: &Daemon| {
        ["handshakes", "full", "per_address", "per_peer"]
            .iter()
            .map(|cap| counter(daemon, &format!("connections_refused_{cap}")))
            .sum::<u64>()
    };
    let deadline = Instant::now() + WAIT;
    while refused(&a) < 500 {
        assert!(Instant::now() < deadline, "{}", node_health(&a)["p2p"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SIP over TCP still accepts and answers.
    let tcp = a.tcp.expect("SIP over TCP");
    let mut stream = TcpStream::connect(tcp).expect("SIP/TCP accepts");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(options("100", "TCP", "still-here", "fd-check").as_bytes())
        .expect("write");
    let mut reply = [0u8; 12];
    stream.read_exact(&mut reply).expect("a reply");
    assert_eq!(&reply[..8], b"SIP/2.0 ");
    // The API too.
    let api = a.api.expect("API");
    assert_eq!(curl(api, "/health-check", &[]).status, 200);
    let p2p = node_health(&a)["p2p"].clone();
    let connected = p2p["connected_peers"].as_u64().unwrap_or(u64::MAX);
    assert!(connected <= 128, "{p2p}");
    let descriptors = std::fs::read_dir(format!("/proc/{}/fd", a.pid()))
        .expect("fd list")
        .count();
    assert!(descriptors < 512, "{descriptors} descriptors open; {p2p}");
    tasks.shutdown().await;
    a.stop().assert_clean_exit();
}

#[tokio::test]
async fn once_half_full_one_address_gets_no_more_connections_than_its_cap() {
    let a = sharing_node(
        None,
        &[
            "--p2p-max-connections",
            "4",
            "--p2p-max-connections-per-address",
            "2",
        ],
    )
    .start();
    let address: Multiaddr = a.p2p_address().parse().expect("multiaddr");
    let mut tasks = tokio::task::JoinSet::new();
    dial_identities(&address, 5, &mut tasks);
    let deadline = Instant::now() + WAIT;
    while counter(&a, "connections_refused_per_address") < 3 {
        assert!(Instant::now() < deadline, "{}", node_health(&a)["p2p"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counter(&a, "connections_refused_per_address"), 3);
    assert!(counter(&a, "connected_peers") <= 2);
    tasks.shutdown().await;
    a.stop().assert_clean_exit();
}
