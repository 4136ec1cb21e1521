//! Hostile and broken input is recorded as what it is; the daemon never crashes, never answers
//! a response or garbage, and never answers UDP with more bytes than it received.

use std::io::Write;
use std::net::TcpStream;

use crate::support::daemon::Daemon;
use crate::support::sip::{options, udp_client, udp_exchange};

/// kind, method, called number, user agent, stored message length.
type StoredProbe = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

#[test]
fn broken_udp_input_is_recorded_without_a_crash_or_a_reply() {
    let daemon = Daemon::builder().args(["-r", "-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let client = udp_client();
    client.set_nonblocking(true).expect("non-blocking");
    // After each probe, a probe that is always answered, from a second socket: the daemon
    // handles datagrams in order and sends replies at once, so when the marker's reply is in,
    // any reply to the probe is already in the client's queue.
    let marker_socket = udp_client();
    let marker = options("1", "UDP", "order-marker", "marker");

    let mut random = vec![0u8; 777];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for byte in &mut random {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state.to_le_bytes()[0];
    }
    // Largest IPv4 UDP payload: a 64 KiB INVITE, to be stored whole (the original cut at 1 KiB).
    let mut huge = options("5000", "UDP", "huge", "big").into_bytes();
    huge.truncate(huge.len() - 4);
    huge.extend_from_slice(b"\r\nX-Padding: ");
    huge.resize(65_507 - 4, b'a');
    huge.extend_from_slice(b"\r\n\r\n");
    let response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:100@b>;tag=2\r\nCall-ID: resp\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n".to_vec();
    let bare_lf = options("7777", "UDP", "bare-lf", "lf")
        .replace("\r\n", "\n")
        .into_bytes();
    let mut non_utf8 = options("8888", "UDP", "X", "nu").into_bytes();
    let agent_at = non_utf8
        .windows(14)
        .position(|w| w == b"User-Agent: X\r")
        .expect("UA line")
        + 12;
    non_utf8.splice(agent_at..agent_at + 1, [b'c', 0xE9, 0xFF, b'z']);

    let probes: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("random", random),
        ("huge", huge.clone()),
        ("response", response),
        ("bare_lf", bare_lf),
        ("non_utf8", non_utf8),
    ];
    let mut buffer = vec![0u8; 65_536];
    for (name, probe) in &probes {
        client.send_to(probe, udp).expect("send");
        udp_exchange(&marker_socket, udp, marker.as_bytes());
        match client.recv_from(&mut buffer) {
            Ok((length, _)) => {
                assert!(
                    length <= probe.len(),
                    "{name}: reply of {length} bytes to {} bytes",
                    probe.len()
                );
                assert!(
                    matches!(*name, "bare_lf" | "non_utf8" | "huge"),
                    "{name} must not be answered"
                );
            }
            Err(_) => assert!(
                !matches!(*name, "bare_lf" | "non_utf8"),
                "{name} deserves a reply"
            ),
        }
    }
    daemon.wait_for_probes(2 * probes.len());
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let rows: Vec<StoredProbe> = stopped.rows("SELECT message_kind, method, called_number, user_agent, length(CAST(sip_message AS BLOB)) FROM honey WHERE user_agent IS NOT 'order-marker' ORDER BY honey_id", |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        });
    assert_eq!(
        rows.len(),
        probes.len(),
        "every datagram is one event: {rows:?}"
    );
    assert_eq!(rows[0].0, "empty");
    assert_eq!(rows[1].0, "malformed");
    assert_eq!(rows[1].1.as_deref(), Some("NOT_FOUND"));
    assert_eq!(rows[2].0, "request");
    assert_eq!(rows[2].4, Some(65_507), "64 KiB datagram stored whole");
    assert_eq!(rows[3].0, "response");
    assert_eq!(
        rows[3].2.as_deref(),
        Some("100"),
        "what could be read is kept"
    );
    assert_eq!(
        (rows[4].1.as_deref(), rows[4].2.as_deref()),
        (Some("OPTIONS"), Some("7777"))
    );
    assert_eq!(
        rows[5].3.as_deref(),
        Some("c\u{FFFD}\u{FFFD}z"),
        "lossy decoding keeps the event"
    );
}

#[test]
fn broken_tcp_input_is_recorded_and_closes_only_that_connection() {
    let daemon = Daemon::builder()
        .args([
            "-r",
            "-N",
            "--max-message-bytes",
            "4096",
            "--tcp-idle-timeout",
            "1",
        ])
        .start();
    let tcp = daemon.tcp.expect("TCP listening");
    // Connect and close without a byte: recorded as one empty probe (a port scan).
    drop(TcpStream::connect(tcp).expect("connect"));
    // Garbage without a header end, then close: recorded as malformed.
    let mut garbage = TcpStream::connect(tcp).expect("connect");
    garbage
        .write_all(b"\x16\x03\x01hello garbage")
        .expect("write");
    drop(garbage);
    // An oversized message: recorded cut at the cap, connection closed.
    let mut oversized = TcpStream::connect(tcp).expect("connect");
    let _ = oversized
        .write_all(format!("OPTIONS sip:1@x SIP/2.0\r\nX: {}\r\n", "y".repeat(8000)).as_bytes());
    // A silent connection: closed by the idle timeout, recorded as empty.
    let silent = TcpStream::connect(tcp).expect("connect");
    daemon.wait_for_probes(4);
    drop((oversized, silent));
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let mut kinds: Vec<(String, Option<i64>)> = stopped.rows(
        "SELECT message_kind, length(CAST(sip_message AS BLOB)) FROM honey ORDER BY honey_id",
        |r| Ok((r.get(0)?, r.get(1)?)),
    );
    kinds.sort();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| k.0 == "empty").count(),
        2,
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.0 == "malformed" && k.1 == Some(16)),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|k| k.0 == "request" && k.1.is_some_and(|n| n > 4096 && n <= 65_536)),
        "oversized request recorded, cut at the read: {kinds:?}"
    );
}
