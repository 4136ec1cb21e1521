//! `/api/v1/stream` against the real daemon over real sockets: a UDP probe yields an `event`
//! and a `decision`; `Last-Event-ID` resumes exactly the missed decisions; the token applies;
//! a client that stops reading is disconnected and counted while capture keeps storing; a key
//! that retention expires is an `expired` decision and leaves the feeds.

use std::net::TcpStream;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use libp2p::identity::Keypair;
use socket2::{Domain, Protocol, Socket, Type};

use crate::support::daemon::Daemon;
use crate::support::http::{curl, health, wait_for_health};
use crate::support::p2p::{accepted, node, publish_until, raw_peer_with_key, signed_invite_at};
use crate::support::sip::{options, send_from};
use crate::support::sse::{Message, SseClient, of_kind};

fn api_daemon(extra: &[&str]) -> Daemon {
    Daemon::builder()
        .args(["-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(extra.iter().copied())
        .start()
}

fn decision_for<'a>(messages: &'a [Message], key: &str) -> Option<&'a Message> {
    messages
        .iter()
        .find(|message| message.event == "decision" && message.data["key"] == key)
}

#[test]
fn a_udp_probe_yields_an_event_and_a_decision() {
    let daemon = api_daemon(&[]);
    let api = daemon.api.expect("API");
    let mut client = SseClient::open(api, "/api/v1/stream", &[]);
    assert_eq!(client.status, 200, "{}", client.head);
    assert!(
        client.head.contains("content-type: text/event-stream"),
        "{}",
        client.head
    );
    assert_eq!(client.opening().event, "open");
    send_from(
        "127.0.0.2",
        daemon.udp.expect("UDP"),
        options("0046812118532", "UDP", "stream-test", "s1").as_bytes(),
    );
    let messages = client.read_until("an event and a decision for 127.0.0.2", |messages| {
        decision_for(messages, "127.0.0.2").is_some() && !of_kind(messages, "event").is_empty()
    });
    let event = &of_kind(&messages, "event")[0];
    assert_eq!(event.data["sip_user_agent"], "stream-test");
    assert!(
        event.data["source_ip"]
            .as_str()
            .is_some_and(|source| source.starts_with("127.0.0.2:")),
        "{event:?}"
    );
    let decision = decision_for(&messages, "127.0.0.2").expect("decision");
    assert_eq!(decision.data["change"], "new");
    assert_eq!(decision.data["attack_types"], serde_json::json!(["scan"]));
    assert_eq!(decision.id, decision.data["seq"].as_u64());
    let number = decision_for(&messages, "0046812118532").expect("the number's decision");
    assert_eq!(number.data["key_type"], "number");
    daemon.stop().assert_clean_exit();
}

#[test]
fn last_event_id_resumes_exactly_the_missed_decisions() {
    let daemon = api_daemon(&[]);
    let api = daemon.api.expect("API");
    let udp = daemon.udp.expect("UDP");
    // A first probe, followed until its decisions are out (the log line may come first).
    let mut watcher = SseClient::open(api, "/api/v1/stream?kind=decision", &[]);
    watcher.opening();
    send_from(
        "127.0.0.2",
        udp,
        options("100", "UDP", "resume", "r0").as_bytes(),
    );
    watcher.read_until("the first probe's decisions", |m| {
        decision_for(m, "127.0.0.2").is_some() && decision_for(m, "100").is_some()
    });
    let mut leaving = SseClient::open(api, "/api/v1/stream?kind=decision", &[]);
    let position = leaving
        .opening()
        .id
        .expect("the opening carries the position");
    drop(leaving);
    let mut staying = SseClient::open(api, "/api/v1/stream?kind=decision", &[]);
    staying.opening();
    for (n, source) in ["127.0.0.3", "127.0.0.4", "127.0.0.2"].iter().enumerate() {
        send_from(
            source,
            udp,
            options("100", "UDP", "resume", &format!("r{n}")).as_bytes(),
        );
    }
    // Two new IPs, the number reaching a threshold (2), 127.0.0.2 reaching one (2).
    let live = staying.read_until("the live decisions", |m| of_kind(m, "decision").len() >= 4);
    let live = of_kind(&live, "decision");

    let header = format!("Last-Event-ID: {position}");
    let mut resumed = SseClient::open(api, "/api/v1/stream?kind=decision", &[&header]);
    let open = resumed.opening();
    assert_eq!(open.event, "open", "{open:?}");
    assert_eq!(open.data["replayed"], live.len(), "{open:?} {live:#?}");
    let missed = resumed.read_until("the replay", |m| of_kind(m, "decision").len() >= live.len());
    assert_eq!(of_kind(&missed, "decision"), live);
    let ids: Vec<u64> = live.iter().filter_map(|message| message.id).collect();
    let expected: Vec<u64> = (position + 1..=position + live.len() as u64).collect();
    assert_eq!(ids, expected, "every change after the id, once, in order");
    let replayed = live.len();

    // An id this run never issued: `reset`, with where to resume from after reloading.
    let mut reset = SseClient::open(api, "/api/v1/stream?kind=decision&last_event_id=7", &[]);
    let message = reset.opening();
    assert_eq!(message.event, "reset");
    assert_eq!(message.data["reason"], "too_old");
    assert_eq!(message.id, Some(position + replayed as u64));
    daemon.stop().assert_clean_exit();
}

#[test]
fn the_api_token_applies_to_the_stream() {
    let daemon = api_daemon(&["--api-token", "t0ken"]);
    let api = daemon.api.expect("API");
    assert_eq!(SseClient::open(api, "/api/v1/stream", &[]).status, 401);
    let wrong = SseClient::open(api, "/api/v1/stream", &["Authorization: Bearer nope"]);
    assert_eq!(wrong.status, 401);
    let mut right = SseClient::open(api, "/api/v1/stream", &["Authorization: Bearer t0ken"]);
    assert_eq!(right.status, 200);
    assert_eq!(right.opening().event, "open");
    assert_eq!(
        curl(
            api,
            "/api/v1/stream?kind=nope",
            &["-H", "Authorization: Bearer t0ken"]
        )
        .status,
        400
    );
    daemon.stop().assert_clean_exit();
}

#[test]
fn a_client_that_stops_reading_is_dropped_while_capture_keeps_storing() {
    let daemon = api_daemon(&[]);
    let api = daemon.api.expect("API");
    let udp = daemon.udp.expect("UDP");
    // A client with a small receive buffer that reads the opening, then nothing more.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&api.into()).expect("connect");
    let mut stalled =
        SseClient::open_with(TcpStream::from(socket), "/api/v1/stream?kind=event", &[]);
    assert_eq!(stalled.opening().event, "open");

    // Large probes (each event's JSON carries the message), in rounds, each stored before the
    // next, until the server gives up on the client (its queue full for 5 s).
    let padding = format!("X-Padding: {}\r\n", "p".repeat(16 * 1024));
    let mut sent = 0u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled client was never dropped: {}",
            health(api)
        );
        for _ in 0..25 {
            let probe = options("100", "UDP", "stall", &format!("c{sent}")).replacen(
                "\r\n\r\n",
                &format!("\r\n{padding}\r\n"),
                1,
            );
            send_from("127.0.0.2", udp, probe.as_bytes());
            sent += 1;
        }
        daemon.wait_for_stored(sent);
        if health(api)["stream"]["clients_dropped"] == 1 {
            break;
        }
    }
    // Capture went on: everything sent was received and stored, nothing dropped anywhere.
    let details = wait_for_health(api, |h| h["stream"]["clients"] == 0);
    assert_eq!(details["events"]["received"]["UDP"], sent, "{details}");
    assert_eq!(details["events"]["stored"], sent, "{details}");
    assert_eq!(details["events"]["dropped"], 0, "{details}");
    assert_eq!(details["stream"]["clients_dropped"], 1, "{details}");
    let seen = curl(api, "/api/v1/ip-addresses/127.0.0.2", &[]);
    assert!(
        seen.body.contains(&format!("\"seen_count\": {sent}")),
        "{}",
        seen.body
    );
    assert!(stalled.closed_by_server(), "the connection was closed");
    daemon.stop().assert_clean_exit();
}

/// The daemon looks for expired keys once a minute: a key can wait that long, twice when the
/// machine is slow to deliver the record.
const EXPIRY_WAIT: Duration = Duration::from_secs(150);

#[tokio::test]
async fn a_key_that_retention_expires_is_an_expired_decision_and_leaves_the_feeds() {
    // A day of retention, and a trusted peer whose record is from just inside it (only a peer's
    // record can be that old: our own captures are from now).
    let key = Keypair::generate_ed25519();
    let peer_id = key.public().to_peer_id().to_base58();
    let a = node(None, &["--retention-days", "1", "--p2p-trust", &peer_id]);
    let api = a.api.expect("API");
    let mut decisions = SseClient::open(api, "/api/v1/stream?kind=decision", &[]);
    decisions.opening();
    let (mut swarm, topic) = raw_peer_with_key(&a, &key).await;
    let inside = Timestamp::now() - SignedDuration::from_hours(24) + SignedDuration::from_secs(20);
    let record = signed_invite_at("9.9.9.9", &key, inside);
    assert!(
        publish_until(&mut swarm, &topic, vec![record], || accepted(&a) >= 1).await,
        "the record was accepted"
    );
    let messages = decisions.read_until("the new key", |m| decision_for(m, "9.9.9.9").is_some());
    let new = decision_for(&messages, "9.9.9.9").expect("new").clone();
    assert_eq!(new.data["change"], "new");
    assert_eq!(curl(api, "/api/v1/feeds/ips.txt", &[]).body, "9.9.9.9\n");

    let messages = decisions.read_until_within(EXPIRY_WAIT, "the key's expiry", |m| {
        of_kind(m, "decision")
            .iter()
            .any(|d| d.data["key"] == "9.9.9.9" && d.data["change"] == "expired")
    });
    let expiry = of_kind(&messages, "decision")
        .into_iter()
        .find(|d| d.data["key"] == "9.9.9.9" && d.data["change"] == "expired")
        .expect("expiry");
    assert_eq!(expiry.data["removed"], true, "{expiry:?}");
    assert_eq!(
        expiry.data["last_seen"], new.data["last_seen"],
        "{expiry:?}"
    );
    assert_eq!(curl(api, "/api/v1/feeds/ips.txt", &[]).body, "");
    assert!(health(api)["blocklist"]["expired"].as_u64() >= Some(1));
    drop(swarm);
    a.stop().assert_clean_exit();
}
