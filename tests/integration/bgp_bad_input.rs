//! Bad BGP input from a configured peer, over a real TCP connection to the daemon's BGP
//! listening socket on loopback: each broken message is answered with the NOTIFICATION RFC 4271
//! names for it and the connection closed; a malformed UPDATE in an established session is
//! counted and ignored (the speaker accepts no route, so RFC 7606's treat-as-withdraw is
//! nothing to do); random bytes and a connection from a stranger end the same way; the daemon
//! keeps running, says why in health and its log, and a good session establishes afterwards.
//! The messages are built here byte by byte, not with the codec the daemon uses.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::support::daemon::{Daemon, WAIT, listening_address};
use crate::support::http::{curl, health, wait_for_health};

const PEER_AS: u16 = 65_001;
const DAEMON_AS: u32 = 64_512;

const OPEN: u8 = 1;
const UPDATE: u8 = 2;
const NOTIFICATION: u8 = 3;
const KEEPALIVE: u8 = 4;

/// One BGP message: marker, length, type, body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let length = u16::try_from(19 + body.len()).expect("small message");
    let mut bytes = vec![0xFF; 16];
    bytes.extend(length.to_be_bytes());
    bytes.push(kind);
    bytes.extend(body);
    bytes
}

/// An OPEN from the peer: `version`, AS `asn`, hold time `hold`, capabilities MP-BGP IPv4 and
/// IPv6 unicast and 4-octet AS.
fn open(version: u8, asn: u16, hold: u16) -> Vec<u8> {
    let mut capabilities = Vec::new();
    for (code, value) in [
        (1_u8, vec![0, 1, 0, 1]),
        (1, vec![0, 2, 0, 1]),
        (65, u32::from(asn).to_be_bytes().to_vec()),
    ] {
        capabilities.extend([code, u8::try_from(value.len()).expect("short")]);
        capabilities.extend(value);
    }
    let mut body = vec![version];
    body.extend(asn.to_be_bytes());
    body.extend(hold.to_be_bytes());
    body.extend([127, 0, 0, 1]);
    body.push(u8::try_from(capabilities.len() + 2).expect("short"));
    body.extend([2, u8::try_from(capabilities.len()).expect("short")]);
    body.extend(capabilities);
    message(OPEN, &body)
}

fn good_open() -> Vec<u8> {
    open(4, PEER_AS, 90)
}

/// The daemon's messages on a connection, as (type, body), until it closes it.
fn messages_until_closed(stream: &mut TcpStream) -> Vec<(u8, Vec<u8>)> {
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .expect("the daemon closes the connection");
    let mut messages = Vec::new();
    let mut rest = bytes.as_slice();
    while rest.len() >= 19 {
        assert_eq!(&rest[..16], &[0xFF; 16], "marker of a message we got");
        let length = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        assert!((19..=rest.len()).contains(&length), "length {length}");
        messages.push((rest[18], rest[19..length].to_vec()));
        rest = &rest[length..];
    }
    assert!(rest.is_empty(), "a cut message: {rest:?}");
    messages
}

/// Sends `bytes` on a new connection and returns the NOTIFICATION's (code, subcode) the daemon
/// closed it with, after checking it opened with its OPEN.
fn notification_for(bgp: SocketAddr, bytes: &[u8]) -> (u8, u8) {
    let mut stream = TcpStream::connect(bgp).expect("connect to the BGP port");
    stream.write_all(bytes).expect("send");
    let messages = messages_until_closed(&mut stream);
    assert_eq!(messages.first().map(|m| m.0), Some(OPEN), "{messages:?}");
    let (kind, body) = messages.last().expect("a message");
    assert_eq!(*kind, NOTIFICATION, "the last message: {messages:?}");
    (body[0], body[1])
}

fn metric(api: SocketAddr, name: &str) -> u64 {
    let text = curl(api, "/metrics", &[]).body;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}{{peer=\"127.0.0.1\"}} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn broken_bgp_messages_get_their_notification_and_the_daemon_keeps_going() {
    let daemon = Daemon::builder()
        .config_file(&format!(
            "[bgp]\nenabled = true\nlocal_as = {DAEMON_AS}\nrouter_id = \"192.0.2.10\"\n\
             listen_address = \"127.0.0.1:0\"\n\
             [[bgp.peer]]\naddress = \"127.0.0.1\"\nremote_as = {PEER_AS}\npassive = true\n"
        ))
        .args(["-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let bgp = listening_address(&daemon.log_lines(), "BGP").expect("BGP listening");
    let api = daemon.api.expect("API");
    let established =
        |bytes: &[u8]| [good_open(), message(KEEPALIVE, &[]), bytes.to_vec()].concat();

    let mut bad_marker = message(KEEPALIVE, &[]);
    bad_marker[3] = 0;
    let mut too_short = message(KEEPALIVE, &[]);
    too_short[17] = 18;
    let mut random = vec![0_u8; 4096];
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for byte in &mut random {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state.to_le_bytes()[0];
    }
    // Header errors 1/x, OPEN errors 2/x, a message out of turn 5 (FSM error).
    let cases: Vec<(&str, Vec<u8>, (u8, u8))> = vec![
        ("bad marker", bad_marker.clone(), (1, 1)),
        ("length 18", too_short, (1, 2)),
        ("unknown type", message(9, b"hello"), (1, 3)),
        ("KEEPALIVE with a body", message(KEEPALIVE, &[0]), (1, 2)),
        ("BGP version 3", open(3, PEER_AS, 90), (2, 1)),
        ("wrong peer AS", open(4, PEER_AS + 1, 90), (2, 2)),
        ("hold time 2 s", open(4, PEER_AS, 2), (2, 6)),
        ("UPDATE before OPEN", message(UPDATE, &[0, 0, 0, 0]), (5, 0)),
        (
            "bad marker once established",
            established(&bad_marker),
            (1, 1),
        ),
        ("OPEN once established", established(&good_open()), (5, 0)),
        ("random bytes", random, (1, 1)),
    ];
    for (what, bytes, expected) in &cases {
        assert_eq!(
            notification_for(bgp, bytes),
            *expected,
            "{what}\n{}",
            daemon.log_lines().join("\n")
        );
    }
    daemon.wait_for_logged("bad BGP message", 1);
    let details = health(api);
    let last_error = details["bgp"]["sessions"][0]["last_error"].as_str();
    assert!(
        last_error.is_some_and(|error| error.contains("NOTIFICATION")),
        "{details}"
    );

    // Established: a malformed UPDATE (ORIGIN 7, which does not exist) is counted, ignored, and
    // the session stays up.
    let mut stream = TcpStream::connect(bgp).expect("connect");
    let attributes = [
        [0x40, 1, 1, 7].as_slice(),
        &[0x40, 2, 0],
        &[0x40, 3, 4, 127, 0, 0, 1],
    ]
    .concat();
    let mut body = vec![0, 0, 0, u8::try_from(attributes.len()).expect("short")];
    body.extend(attributes);
    body.extend([8, 10]); // 10.0.0.0/8
    let malformed = message(UPDATE, &body);
    stream
        .write_all(&established(&malformed))
        .expect("send OPEN, KEEPALIVE and a malformed UPDATE");
    wait_for_health(api, |details| {
        details["bgp"]["sessions"][0]["state"] == "established"
    });
    let deadline = std::time::Instant::now() + WAIT;
    while metric(api, "sentrypeer_bgp_malformed_updates_total") < 1 {
        assert!(std::time::Instant::now() < deadline, "not counted");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(health(api)["bgp"]["sessions"][0]["state"], "established");
    // We end it with a Cease; the daemon sees it and is ready for the next connection.
    stream
        .write_all(&message(NOTIFICATION, &[6, 2]))
        .expect("send a Cease");
    let messages = messages_until_closed(&mut stream);
    assert!(
        messages.iter().all(|(kind, _)| *kind != NOTIFICATION),
        "{messages:?}"
    );
    assert_eq!(
        metric(api, "sentrypeer_bgp_notifications_received_total"),
        1
    );

    // A stranger's connection is closed at once and counted.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let stranger_address: SocketAddr = "127.0.0.2:0".parse().expect("address");
    socket
        .bind(&stranger_address.into())
        .expect("bind another loopback address");
    socket.connect(&bgp.into()).expect("connect");
    let mut stranger: TcpStream = socket.into();
    assert!(messages_until_closed(&mut stranger).is_empty());
    wait_for_health(api, |details| details["bgp"]["inbound_refused"] == 1);

    assert!(
        !daemon.logged("panicked"),
        "{}",
        daemon.log_lines().join("\n")
    );
}
