//! Limits that keep the honeypot from being used or exhausted: per-source reply rate, connection
//! cap. Events are recorded whatever the limits do to replies.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{Daemon, WAIT, options, udp_client};

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
