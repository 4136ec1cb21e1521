//! Limits that keep the honeypot from being used or exhausted: per-source reply rate, connection
//! cap, per-source connection cap, message (slowloris) timeout, TLS handshake timeout, and where
//! their options come from. Events are recorded whatever the limits do to replies.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::daemon::{BINARY, Daemon, WAIT};
use crate::support::http::{counter, curl, health, wait_for_health};
use crate::support::sip::{connect_from, options, udp_client};

/// Reads until the daemon closes the connection (or resets it); panics if it stays open for
/// [`WAIT`]. Returns what was read.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return received,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => return received,
            // A signal for this test process (a child exiting) is not the daemon's doing.
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => panic!("connection still open after {WAIT:?}: {error}"),
        }
    }
}

/// The first bytes the daemon answers on `stream` (within [`WAIT`]).
fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(read) => return buffer[..read].to_vec(),
            // A signal for this test process (a child exiting) is not the daemon's doing.
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => panic!("no reply: {error}"),
        }
    }
}

#[test]
fn replies_to_one_source_are_rate_limited_but_every_probe_is_recorded() {
    let daemon = Daemon::builder()
        .args(["-r", "-N", "--sip-reply-rate-limit", "1"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let client = udp_client();
    for index in 0..6 {
        let probe = options("1", "UDP", "flood", &format!("rl-{index}"));
        client.send_to(probe.as_bytes(), udp).expect("send");
    }
    daemon.wait_for_probes(6);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut replies = 0;
    let mut buffer = [0u8; 2048];
    while client.recv_from(&mut buffer).is_ok() {
        replies += 1;
    }
    // 1 per second with a burst of 2: six probes sent at once get two replies.
    assert_eq!(replies, 2, "burst of twice the rate");
    let stored: i64 = stopped
        .db()
        .query_row("SELECT count(*) FROM honey", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 6);
}

#[test]
fn connections_over_the_cap_wait_until_a_slot_frees() {
    let daemon = Daemon::builder()
        .args(["-r", "-N", "--max-connections", "1"])
        .start();
    let tcp = daemon.tcp.expect("TCP listening");
    let holder = TcpStream::connect(tcp).expect("first connection");
    let mut waiting = TcpStream::connect(tcp).expect("second connection (kernel backlog)");
    waiting
        .write_all(options("2", "TCP", "second", "cap").as_bytes())
        .expect("write");
    waiting
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut buffer = [0u8; 4096];
    assert!(
        waiting.read(&mut buffer).is_err(),
        "not served while the only slot is taken"
    );
    drop(holder);
    waiting.set_read_timeout(Some(WAIT)).expect("timeout");
    let read = waiting
        .read(&mut buffer)
        .expect("served once the slot is free");
    assert!(buffer[..read].starts_with(b"SIP/2.0 200 OK"));
    daemon.wait_for_probes(2);
    daemon.stop().assert_clean_exit();
}

#[test]
fn one_source_gets_its_cap_of_connections_and_others_are_served() {
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["--sip-max-connections-per-source", "3"])
        .start();
    let tcp = daemon.tcp.expect("TCP listening");
    let api = daemon.api.expect("API");
    let greedy: IpAddr = "127.0.0.2".parse().expect("ip");
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect_from(greedy, tcp)).collect();
    // Accepting is in order: the fourth is judged after the three are counted.
    let mut over = connect_from(greedy, tcp);
    assert!(
        read_until_closed(&mut over).is_empty(),
        "closed without a reply"
    );
    let details = wait_for_health(api, |d| counter(d, "open", "TCP") == 3);
    assert_eq!(counter(&details, "over_source_cap", "TCP"), 1, "{details}");

    let mut other = connect_from("127.0.0.3".parse().expect("ip"), tcp);
    other
        .write_all(options("3", "TCP", "other", "cap-other").as_bytes())
        .expect("write");
    assert!(
        read_reply(&mut other).starts_with(b"SIP/2.0 200 OK"),
        "another source is served"
    );

    // A closed connection gives its place back.
    drop(held.pop());
    wait_for_health(api, |d| counter(d, "open", "TCP") == 3);
    let mut again = connect_from(greedy, tcp);
    again
        .write_all(options("2", "TCP", "greedy", "cap-again").as_bytes())
        .expect("write");
    assert!(
        read_reply(&mut again).starts_with(b"SIP/2.0 200 OK"),
        "served again"
    );

    let metrics = curl(api, "/metrics", &[]).body;
    assert!(
        metrics.contains("sentrypeer_connections_over_source_cap_total{transport=\"TCP\"} 1"),
        "{metrics}"
    );
    drop((held, other, again));
    daemon.stop().assert_clean_exit();
}

#[test]
fn a_message_trickled_slower_than_the_header_timeout_is_cut_off_and_recorded() {
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["--sip-header-timeout", "1", "--tcp-idle-timeout", "60"])
        .start();
    let tcp = daemon.tcp.expect("TCP listening");
    let mut slow = TcpStream::connect(tcp).expect("connect");
    // The start line and the start of a header at once, so what is recorded does not depend on
    // how far the trickle got before the timeout on a busy machine.
    let mut sent = b"OPTIONS sip:slowloris@127.0.0.1 SIP/2.0\r\nX-Slow: z".to_vec();
    slow.write_all(&sent).expect("start line");
    // Then one more byte of that never-ending header every 100 ms: never idle, never complete.
    // Only the message timeout can end this before WAIT.
    slow.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let deadline = Instant::now() + WAIT;
    let mut buffer = [0u8; 256];
    loop {
        assert!(
            Instant::now() < deadline,
            "still open after {} bytes",
            sent.len()
        );
        if slow.write_all(b"z").is_err() {
            break;
        }
        sent.push(b'z');
        match slow.read(&mut buffer) {
            Ok(0) => break,
            Ok(_) => panic!("no reply to an unfinished message"),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(_timed_out) => {}
        }
    }
    daemon.wait_for_probes(1);
    let details = health(daemon.api.expect("API"));
    assert_eq!(counter(&details, "message_timeouts", "TCP"), 1, "{details}");
    assert_eq!(counter(&details, "idle_timeouts", "TCP"), 0, "{details}");
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let messages = stopped.rows("SELECT sip_message FROM honey", |row| {
        row.get::<_, String>(0)
    });
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].starts_with("OPTIONS sip:slowloris@127.0.0.1 SIP/2.0\r\nX-Slow: z")
            && sent.starts_with(messages[0].as_bytes()),
        "what was received is recorded: {:?}",
        messages[0]
    );
}

#[test]
fn tls_clients_that_never_finish_the_handshake_are_dropped_after_the_timeout() {
    let daemon = Daemon::builder()
        .args(["-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["--tls-handshake-timeout", "1", "--tcp-idle-timeout", "60"])
        .start();
    let tls = daemon.tls.expect("TLS listening");
    let mut silent = TcpStream::connect(tls).expect("connect");
    let mut partial = TcpStream::connect(tls).expect("connect");
    // A TLS record header announcing a 512-byte ClientHello, and only its first bytes.
    partial
        .write_all(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ])
        .expect("partial ClientHello");
    assert!(read_until_closed(&mut silent).is_empty());
    assert!(read_until_closed(&mut partial).is_empty());
    let details = wait_for_health(daemon.api.expect("API"), |d| {
        counter(d, "handshake_timeouts", "TLS") == 2
    });
    assert_eq!(counter(&details, "open", "TLS"), 0, "{details}");
    let metrics = curl(daemon.api.expect("API"), "/metrics", &[]).body;
    assert!(
        metrics.contains("sentrypeer_connections_handshake_timeouts_total{transport=\"TLS\"} 2"),
        "{metrics}"
    );
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let stored: i64 = stopped
        .db()
        .query_row("SELECT count(*) FROM honey", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 0, "a handshake is not a SIP message");
}

/// `sentrypeer --check-config` with `args` and `env`, its printed configuration.
fn checked_config(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = std::process::Command::new(BINARY)
        .env_clear()
        .env("HOME", dir)
        .envs(env.iter().copied())
        .args(args)
        .arg("--check-config")
        .output()
        .expect("run sentrypeer --check-config");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn limit_options_come_from_toml_environment_and_flags_in_that_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let toml = dir.path().join("limits.toml");
    std::fs::write(
        &toml,
        "sip_max_connections_per_source = 5\nsip_header_timeout_secs = 2\ntls_handshake_timeout_secs = 3\n",
    )
    .expect("write TOML");
    let toml = toml.to_str().expect("path");
    let from_file = checked_config(dir.path(), &["-g", toml], &[]);
    for line in [
        "sip_max_connections_per_source: 5,",
        "sip_header_timeout_secs: 2,",
        "tls_handshake_timeout_secs: 3,",
    ] {
        assert!(from_file.contains(line), "{line} in {from_file}");
    }
    let env = [
        ("SENTRYPEER_SIP_MAX_CONNECTIONS_PER_SOURCE", "6"),
        ("SENTRYPEER_SIP_HEADER_TIMEOUT", "7"),
        ("SENTRYPEER_TLS_HANDSHAKE_TIMEOUT", "8"),
    ];
    let from_env = checked_config(dir.path(), &["-g", toml], &env);
    for line in [
        "sip_max_connections_per_source: 6,",
        "sip_header_timeout_secs: 7,",
        "tls_handshake_timeout_secs: 8,",
    ] {
        assert!(from_env.contains(line), "{line} in {from_env}");
    }
    let flags = [
        "-g",
        toml,
        "--sip-max-connections-per-source",
        "0",
        "--sip-header-timeout",
        "9",
        "--tls-handshake-timeout",
        "11",
    ];
    let from_flags = checked_config(dir.path(), &flags, &env);
    for line in [
        "sip_max_connections_per_source: 0,",
        "sip_header_timeout_secs: 9,",
        "tls_handshake_timeout_secs: 11,",
    ] {
        assert!(from_flags.contains(line), "{line} in {from_flags}");
    }
    let defaults = checked_config(dir.path(), &[], &[]);
    assert!(
        defaults.contains("sip_max_connections_per_source: 32,"),
        "{defaults}"
    );
    assert!(
        defaults.contains("sip_header_timeout_secs: 10,"),
        "{defaults}"
    );
}

#[test]
fn api_clients_that_never_finish_a_request_head_are_disconnected() {
    let daemon = Daemon::builder()
        .args(["-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let api = daemon.api.expect("API");
    let mut silent = TcpStream::connect(api).expect("connect");
    let mut partial = TcpStream::connect(api).expect("connect");
    partial
        .write_all(b"GET /health-check HTTP/1.1\r\nHost: sentrypeer\r\nX-Slow: ")
        .expect("partial head");
    // The head timeout (10 s) ends both; the request timeout only starts once a head is in.
    read_until_closed(&mut silent);
    read_until_closed(&mut partial);
    assert_eq!(curl(api, "/health-check", &[]).status, 200, "still serving");
    daemon.stop().assert_clean_exit();
}
