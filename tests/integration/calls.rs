//! Calls against the personalities: SIPp's authenticated call scenario against `freepbx` (our
//! `BYE` ends it, the number is listed by the API), a TCP call whose final response and `BYE`
//! come later on the same connection (after an `ACK` carrying our `To` tag), and CANCEL over UDP
//! from a caller that has not shown it receives our replies.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::http::{curl, health};
use crate::support::sip::{udp_client, udp_exchange};
use crate::support::sip_tools::{run, sipp_call, text};

#[test]
fn sipp_authenticated_call_against_freepbx_ends_with_our_bye_and_the_number_is_listed() {
    let daemon = Daemon::with_personality(
        "ring_ms = 200\ncall_ms = 300",
        &["-a", "--api-listen-address", "127.0.0.1:0"],
    );
    let udp = daemon.udp.expect("UDP listening");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sipp/invite_auth_wait_for_bye.xml");
    let scenario = scenario.display().to_string();
    let mut sipp = sipp_call(udp, "0046812118532", &["-sf", &scenario]);
    sipp.args(["-au", "105", "-ap", "secret"]);
    let output = run(sipp, daemon.dir());
    assert!(
        output.status.success(),
        "SIPp call failed: {}",
        text(&output)
    );
    // INVITE, ACK (of the 407), INVITE with credentials, ACK, and SIPp's 200 OK to our BYE.
    daemon.wait_for_probes(5);
    daemon.wait_for_stored(5);
    let numbers = curl(daemon.api.expect("API listening"), "/numbers", &[]);
    assert!(
        numbers.status == 200
            && numbers
                .body
                .contains("\"called_number\": \"0046812118532\""),
        "{}",
        numbers.body
    );
    // The replies, by status class: 407; 100 and 183; 200; plus our BYE, a request of ours.
    let api = daemon.api.expect("API listening");
    let health = health(api);
    let replies = &health["replies"];
    assert_eq!(
        (
            &replies["by_status_class"]["1xx"],
            &replies["by_status_class"]["2xx"],
            &replies["by_status_class"]["4xx"],
            &replies["requests_sent"],
        ),
        (&2.into(), &1.into(), &1.into(), &1.into()),
        "{replies}"
    );
    let metrics = curl(api, "/metrics", &[]).body;
    for line in [
        "sentrypeer_replies_by_status_total{class=\"4xx\"} 1",
        "sentrypeer_requests_sent_total 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let rows: Vec<(String, String, bool, String)> = stopped.rows(
        "SELECT method, called_number, sip_message LIKE '%Proxy-Authorization: Digest%', \
         attack_type FROM honey WHERE message_kind = 'request' ORDER BY honey_id",
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    );
    let answered_our_bye: i64 = stopped
        .db()
        .query_row(
            "SELECT count(*) FROM honey WHERE message_kind = 'response' AND sip_message LIKE '%CSeq: % BYE%'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(
        answered_our_bye, 1,
        "SIPp's 200 OK to our BYE is recorded too"
    );
    let steps: Vec<(&str, bool, &str)> = rows
        .iter()
        .map(|r| (r.0.as_str(), r.2, r.3.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("INVITE", false, "call_attempt"),
            ("ACK", false, "other"),
            ("INVITE", true, "call_attempt"),
            ("ACK", false, "other")
        ],
        "{rows:?}"
    );
    assert!(rows.iter().all(|row| row.1 == "0046812118532"), "{rows:?}");
}

/// Reads SIP messages off a stream until `count` have arrived (each ends at its blank line plus
/// `Content-Length` bytes).
fn read_messages(stream: &mut TcpStream, count: usize) -> Vec<String> {
    let mut buffer = Vec::new();
    let mut messages = Vec::new();
    let mut chunk = [0u8; 4096];
    while messages.len() < count {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("Content-Length: "))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let message: Vec<u8> = buffer.drain(..end + 4 + length).collect();
                messages.push(String::from_utf8_lossy(&message).into_owned());
                continue;
            }
        }
        let read = stream.read(&mut chunk).expect("read");
        assert!(read > 0, "connection closed after {messages:?}");
        buffer.extend_from_slice(&chunk[..read]);
    }
    messages
}

fn invite(transport: &str, call_id: &str) -> String {
    let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                m=audio 4000 RTP/AVP 0 8\r\n";
    format!(
        "INVITE sip:0046812118532@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK-{call_id}\r\n\
         From: <sip:caller@127.0.0.1>;tag=t-{call_id}\r\nTo: <sip:0046812118532@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:5099>\r\n\
         User-Agent: toll-fraud/1.0\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A request in the dialog `call_id`; `to` is the `To` value (with our tag once we sent one).
fn in_dialog(method: &str, transport: &str, call_id: &str, to: &str) -> String {
    format!(
        "{method} sip:0046812118532@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK-{call_id}-{method}\r\n\
         From: <sip:caller@127.0.0.1>;tag=t-{call_id}\r\nTo: {to}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The `To` value of a response (our tag included).
fn to_of(response: &str) -> &str {
    response
        .lines()
        .find_map(|line| line.strip_prefix("To: "))
        .unwrap_or_else(|| panic!("no To in {response}"))
}

const UNTAGGED_TO: &str = "<sip:0046812118532@127.0.0.1>";

#[test]
fn tcp_call_gets_its_final_response_and_our_bye_on_the_same_connection() {
    let daemon = Daemon::with_personality("name = \"generic\"\nring_ms = 100\ncall_ms = 200", &[]);
    let tcp = daemon.tcp.expect("TCP listening");
    let mut stream = TcpStream::connect(tcp).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(invite("TCP", "tcp-call").as_bytes())
        .expect("write INVITE");
    let replies = read_messages(&mut stream, 3);
    let status: Vec<&str> = replies
        .iter()
        .map(|m| m.lines().next().unwrap_or_default())
        .collect();
    assert_eq!(
        status,
        [
            "SIP/2.0 100 Trying",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK"
        ]
    );
    let ok = &replies[2];
    assert!(
        ok.contains("\r\nContact: <sip:127.0.0.1:") && ok.contains(";transport=tcp>\r\n"),
        "{ok}"
    );
    assert!(
        ok.contains("\r\nm=audio ") && ok.contains(" RTP/AVP 0\r\n"),
        "{ok}"
    );
    stream
        .write_all(in_dialog("ACK", "TCP", "tcp-call", to_of(ok)).as_bytes())
        .expect("write ACK");
    let bye = read_messages(&mut stream, 1).remove(0);
    assert!(
        bye.starts_with("BYE sip:caller@127.0.0.1:5099 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:"),
        "{bye}"
    );
    assert!(bye.contains("\r\nCall-ID: tcp-call\r\n"), "{bye}");
    daemon.wait_for_probes(2);
    daemon.stop().assert_clean_exit();
}

#[test]
fn udp_cancel_while_ringing_gets_200_and_487() {
    let daemon = Daemon::with_personality("name = \"generic\"", &[]);
    let udp = daemon.udp.expect("UDP listening");
    let client = udp_client();
    // Not yet proven to receive our replies, the caller gets no provisional responses: they
    // would leave no room for the final one within the bytes it sent.
    client
        .send_to(invite("UDP", "udp-cancel").as_bytes(), udp)
        .expect("send INVITE");
    let mut buffer = [0u8; 4096];
    let cancel = in_dialog("CANCEL", "UDP", "udp-cancel", UNTAGGED_TO);
    let ok = udp_exchange(&client, udp, cancel.as_bytes());
    assert!(ok.starts_with(b"SIP/2.0 200 OK\r\n") && ok.len() <= cancel.len());
    let (length, _) = client.recv_from(&mut buffer).expect("487");
    let terminated = String::from_utf8_lossy(&buffer[..length]).into_owned();
    assert!(
        terminated.starts_with("SIP/2.0 487 Request Terminated\r\n"),
        "{terminated}"
    );
    assert!(terminated.contains("\r\nCSeq: 1 INVITE\r\n") && length <= cancel.len());
    daemon.wait_for_probes(2);
    daemon.stop().assert_clean_exit();
}
