//! Accounting under load (never speed): thousands of probes from the load generator's mix
//! (`bench/loadgen/probes.rs`), sent as fast as possible from several 127.0.0.X sources over UDP
//! and TCP into a daemon with a small store queue; after a clean stop every probe sent is a
//! stored row or a counted drop (the store queue's, or the kernel's on the UDP socket).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};

use crate::support::daemon::Daemon;
use crate::support::http::health;

// The benchmark's probe builder, shared so the smoke test sends what the benchmark sends.
#[allow(dead_code)]
#[path = "../../bench/loadgen/probes.rs"]
mod probes;

use probes::{Mix, ProbeWriter};

const UDP_SOURCES: u8 = 8;
const UDP_PROBES: u64 = 4_000;
const TCP_CONNECTIONS: u8 = 4;
const TCP_PROBES_PER_CONNECTION: u64 = 250;

/// `key=N` from a log line.
fn logged_number(line: &str, key: &str) -> Option<u64> {
    let marker = format!(" {key}=");
    let rest = line.split(&marker).nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Sends `UDP_PROBES` probes round-robin from 127.0.0.2.. without waiting for replies.
fn send_udp(target: SocketAddr) -> u64 {
    let writer = ProbeWriter::new(Mix::default(), target, 1_000);
    let sockets: Vec<UdpSocket> = (0..UDP_SOURCES)
        .map(|index| UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2 + index), 0)).expect("bind"))
        .collect();
    let mut buffer = Vec::new();
    let mut sent = 0;
    for sequence in 0..UDP_PROBES {
        let socket = &sockets[usize::try_from(sequence).expect("small") % sockets.len()];
        writer.write(
            sequence,
            socket.local_addr().expect("address"),
            "UDP",
            &mut buffer,
        );
        socket.send_to(&buffer, target).expect("loopback send");
        sent += 1;
    }
    sent
}

/// One TCP connection from `source` writing its probes back to back, then reading replies until
/// the daemon closes (it has then handled every message on the connection).
fn send_tcp(target: SocketAddr, source: IpAddr, first: u64) -> u64 {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .expect("socket");
    socket
        .bind(&SocketAddr::new(source, 0).into())
        .expect("bind");
    socket.connect(&target.into()).expect("connect");
    let mut stream: TcpStream = socket.into();
    let local = stream.local_addr().expect("address");
    let writer = ProbeWriter::new(Mix::default(), target, 1_000);
    let mut buffer = Vec::new();
    let mut all = Vec::new();
    for sequence in first..first + TCP_PROBES_PER_CONNECTION {
        writer.write(sequence, local, "TCP", &mut buffer);
        all.extend_from_slice(&buffer);
    }
    stream.write_all(&all).expect("write probes");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut replies = Vec::new();
    stream.read_to_end(&mut replies).expect("read until closed");
    assert!(!replies.is_empty(), "the daemon answered over TCP");
    TCP_PROBES_PER_CONNECTION
}

#[test]
fn every_probe_sent_under_load_is_stored_or_counted_as_dropped() {
    // A small store queue, so a burst is likely to overflow it and exercise the drop counts.
    let builder =
        Daemon::builder().config_file("event_queue_capacity = 64\nstore_queue_capacity = 64\n");
    let db = builder.dir().join("sentrypeer.db");
    // The store is the one consumer (no JSON log, syslog or webhook), so the shutdown line's
    // `dropped` is the store queue's.
    let daemon = builder
        .without_defaults()
        .args(["-N", "-r", "--sip-reply-rate-limit", "0"])
        .args(["--sip-listen-address", "127.0.0.1:0"])
        .args(["-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["-f", db.to_str().expect("path")])
        .env("RUST_LOG", "info")
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let tcp = daemon.tcp.expect("TCP listening");

    let tcp_senders: Vec<_> = (0..TCP_CONNECTIONS)
        .map(|index| {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 20 + index));
            let first = u64::from(index) * TCP_PROBES_PER_CONNECTION;
            std::thread::spawn(move || send_tcp(tcp, source, first))
        })
        .collect();
    let mut sent = send_udp(udp);
    for sender in tcp_senders {
        sent += sender.join().expect("TCP sender");
    }
    // The counters are live: the kernel's drops on the UDP socket are a number (Linux).
    let health = health(daemon.api.expect("API"));
    assert!(
        health["events"]["kernel_dropped"].is_u64(),
        "kernel_dropped in {health}"
    );
    // SIGTERM: the listener records what is still queued in the socket, queues drain.
    let stopped = daemon.stop();
    stopped.assert_clean_exit();

    let line = stopped
        .log
        .iter()
        .rev()
        .find(|line| line.contains(" stopped "))
        .unwrap_or_else(|| panic!("no totals at shutdown:\n{}", stopped.log.join("\n")));
    let total = |key| logged_number(line, key).unwrap_or_else(|| panic!("{key} in {line}"));
    let (received, stored, dropped, kernel_dropped) = (
        total("received"),
        total("stored"),
        total("dropped"),
        total("kernel_dropped"),
    );
    let rows: Vec<i64> = stopped.rows("SELECT COUNT(*) FROM honey", |row| row.get(0));
    let rows = u64::try_from(rows[0]).expect("count");
    assert_eq!(
        rows, stored,
        "the writer's count is what the database holds"
    );
    assert_eq!(
        sent,
        rows + dropped + kernel_dropped,
        "sent = stored + dropped by the store queue + dropped by the kernel ({line})"
    );
    assert_eq!(
        received + kernel_dropped,
        sent,
        "every probe sent was received or dropped by the kernel ({line})"
    );
    let sources: Vec<String> =
        stopped.rows("SELECT DISTINCT source_ip FROM honey", |row| row.get(0));
    let sent_from: Vec<String> = (2..2 + UDP_SOURCES)
        .chain(20..20 + TCP_CONNECTIONS)
        .map(|last| format!("127.0.0.{last}"))
        .collect();
    assert!(sources.len() > 1, "{sources:?}");
    assert!(
        sources.iter().all(|source| sent_from.contains(source)),
        "each source address is recorded as itself: {sources:?}"
    );
}
