//! Tests of the UDP listener's later sends: timers fire on their own task, the pending cap skips
//! and counts, shutdown ends pending sends at once, and a caller not proven to receive our
//! replies gets no more bytes than it sent (what is held back is counted), and the blocklist
//! learns a UDP source as proven only once it echoed our `To` tag (streams at once).

use std::time::Duration;

use uuid::Uuid;

use super::*;
use crate::blocklist::{Blocklist, BlocklistOptions, Intake};
use crate::pipeline::Pipeline;
use crate::sip::Personality;
use crate::telemetry::Count;

fn handler(ring_ms: u64) -> Arc<ProbeHandler> {
    handler_feeding(
        ring_ms,
        Arc::new(Blocklist::new(&BlocklistOptions::default())),
    )
}

/// A responsive `generic` handler whose events enter `blocklist`.
fn handler_feeding(ring_ms: u64, blocklist: Arc<Blocklist>) -> Arc<ProbeHandler> {
    let mut personality = Personality::builtin("generic").expect("built in");
    personality.invite.ring = Duration::from_millis(ring_ms);
    Arc::new(ProbeHandler::new(
        Uuid::nil(),
        true,
        personality,
        [3; 16],
        Intake::new(blocklist, Pipeline::builder().build()),
        0,
    ))
}

/// An INVITE; `padding` bytes of an extra header make room for provisional responses beside
/// the final one within what an unproven caller sent.
fn invite(call_id: &str, padding: usize) -> Vec<u8> {
    let body = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
    let padding = ".".repeat(padding);
    format!(
        "INVITE sip:0046812118532@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-{call_id}\r\n\
         From: <sip:caller@127.0.0.1>;tag=t-{call_id}\r\nTo: <sip:0046812118532@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:5099>\r\n\
         X-Padding: {padding}\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn receive(client: &UdpSocket) -> String {
    let mut buffer = vec![0u8; 4096];
    let length = tokio::time::timeout(Duration::from_secs(20), client.recv(&mut buffer))
        .await
        .expect("a datagram in time")
        .expect("receive");
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}

async fn start(
    handler: &Arc<ProbeHandler>,
    cap: usize,
) -> (
    UdpSocket,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), TransportError>>,
) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let address = socket.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    let listener = tokio::spawn(run_with_pending_cap(
        socket,
        Arc::clone(handler),
        shutdown.clone(),
        cap,
    ));
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind client");
    client.connect(address).await.expect("connect");
    (client, shutdown, listener)
}

#[tokio::test]
async fn final_response_arrives_after_the_ring_time_within_the_size_limit() {
    let handler = handler(50);
    let (client, shutdown, listener) = start(&handler, 8).await;
    let request = invite("ring", 2000);
    client.send(&request).await.expect("send");
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(receive(&client).await);
    }
    let status: Vec<&str> = replies
        .iter()
        .map(|r| r.lines().next().unwrap_or_default())
        .collect();
    assert_eq!(
        status,
        [
            "SIP/2.0 100 Trying",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK"
        ]
    );
    assert!(replies.iter().all(|reply| reply.len() <= request.len()));
    let total: usize = replies.iter().map(String::len).sum();
    assert!(
        total <= request.len(),
        "{total} bytes out for {}",
        request.len()
    );
    shutdown.cancel();
    listener.await.expect("task").expect("clean stop");
    let counters = handler.counters();
    assert_eq!(counters.replies_sent.count()[0], 3);
    assert_eq!(counters.replies_by_status_class.count(), [2, 1, 0, 0, 0, 0]);
}

#[tokio::test]
async fn an_unproven_caller_gets_only_the_final_response_when_nothing_else_fits() {
    let handler = handler(50);
    let (client, shutdown, listener) = start(&handler, 8).await;
    let request = invite("tight", 0);
    client.send(&request).await.expect("send");
    let answer = receive(&client).await;
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    assert!(answer.len() <= request.len());
    shutdown.cancel();
    listener.await.expect("task").expect("clean stop");
    let counters = handler.counters();
    assert_eq!(counters.replies_sent.count()[0], 1);
    assert_eq!(
        counters.replies_withheld.count(),
        [2, 0, 0],
        "the 100 and the 180, counted"
    );
}

#[tokio::test]
async fn sends_over_the_pending_cap_are_skipped_and_counted_and_shutdown_ends_the_rest() {
    let handler = handler(3_600_000);
    let (client, shutdown, listener) = start(&handler, 2).await;
    for call in ["cap-1", "cap-2", "cap-3"] {
        client.send(&invite(call, 2000)).await.expect("send");
        receive(&client).await;
        receive(&client).await;
    }
    assert_eq!(handler.counters().delayed_skipped.count(), [1, 0, 0]);
    // Two calls ring for an hour: shutdown must not wait for them.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), listener)
        .await
        .expect("listener stops at once")
        .expect("task")
        .expect("clean stop");
}

/// An `OPTIONS` of dialog `call_id` (`From` tag `f-<call_id>`), with `to_tag` if any, padded so
/// that our answer fits within what it sent.
fn options_request(call_id: &str, to_tag: Option<&str>) -> Vec<u8> {
    let to_tag = to_tag.map(|tag| format!(";tag={tag}")).unwrap_or_default();
    let padding = ".".repeat(2000);
    format!(
        "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-{call_id}\r\n\
         From: <sip:caller@127.0.0.1>;tag=f-{call_id}\r\nTo: <sip:100@127.0.0.1>{to_tag}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nX-Padding: {padding}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn the_blocklist_learns_a_udp_source_as_proven_only_once_it_echoes_our_to_tag() {
    let blocklist = Arc::new(Blocklist::new(&BlocklistOptions::default()));
    let handler = handler_feeding(50, Arc::clone(&blocklist));
    let (client, shutdown, listener) = start(&handler, 8).await;
    let source = client.local_addr().expect("client address").ip();
    let proven = || blocklist.lookup_ip(source).expect("listed").proven;

    client
        .send(&options_request("prove", None))
        .await
        .expect("send");
    let answer = receive(&client).await;
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    assert!(!proven(), "a UDP source that only sent is not proven");

    let to = answer
        .lines()
        .find(|line| line.starts_with("To:"))
        .expect("To header");
    let (_, our_tag) = to.split_once(";tag=").expect("our To tag");
    let other_tag = "not-ours";
    client
        .send(&options_request("prove", Some(other_tag)))
        .await
        .expect("send");
    receive(&client).await;
    assert!(!proven(), "a To tag that is not ours proves nothing");

    client
        .send(&options_request("prove", Some(our_tag.trim())))
        .await
        .expect("send");
    receive(&client).await;
    assert!(proven(), "our To tag echoed: proven");
    shutdown.cancel();
    listener.await.expect("task").expect("clean stop");

    // A stream's handshake proves its source by itself.
    let tcp_source: SocketAddr = "192.0.2.9:5099".parse().expect("address");
    let local: SocketAddr = "192.0.2.1:5060".parse().expect("address");
    let message = options_request("tcp", None);
    handler.handle(
        &message,
        Transport::Tcp,
        tcp_source,
        local,
        ReplyLimit::Unbounded,
    );
    let tcp_entry = blocklist.lookup_ip(tcp_source.ip()).expect("listed");
    assert!(tcp_entry.proven);
}
