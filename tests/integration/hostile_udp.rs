//! The UDP responder and the logs under deliberate attack: a spoofed source (a socket that sends
//! in a victim's name and never echoes anything back) gets no more bytes than were sent in its
//! name, per personality and method, and a blind ACK brings no BYE; a header carrying CR/LF/ESC
//! never reaches stderr raw; a 64 KiB datagram of invalid UTF-8 is stored within the cap.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::Duration;

use crate::support::daemon::Daemon;
use crate::support::http::health;
use crate::support::sip::{
    blind_request, call_id_of, proven_call, send_bytes, udp_client, udp_exchange,
};

/// What a victim is sent in its name, by label: every method, INVITEs with and without
/// credentials that do not answer our nonce, retransmitted, then blindly ACKed, BYEd, CANCELled.
fn blind_script() -> Vec<(&'static str, String)> {
    let foreign = "Proxy-Authorization: Digest username=\"105\",realm=\"asterisk\",nonce=\"x\",\
                   uri=\"sip:127.0.0.1\",response=\"00000000000000000000000000000000\"";
    let mut script = Vec::new();
    let mut add = |label: &'static str, method: &str, call: &str, cseq: u32, extra: &str, sdp| {
        script.push((label, blind_request(method, call, cseq, extra, sdp)));
    };
    add("INVITE", "INVITE", "v-invite", 1, "", true);
    add("INVITE", "ACK", "v-invite", 1, "", false);
    add("INVITE", "BYE", "v-invite", 2, "", false);
    add("INVITE+credentials", "INVITE", "v-cred", 1, foreign, true);
    add("INVITE+credentials", "ACK", "v-cred", 1, "", false);
    add(
        "INVITE retransmitted",
        "INVITE",
        "v-again",
        1,
        foreign,
        true,
    );
    add(
        "INVITE retransmitted",
        "INVITE",
        "v-again",
        1,
        foreign,
        true,
    );
    add(
        "INVITE retransmitted",
        "INVITE",
        "v-again",
        1,
        foreign,
        true,
    );
    add("INVITE+CANCEL", "INVITE", "v-cancel", 1, "", true);
    add("INVITE+CANCEL", "CANCEL", "v-cancel", 1, "", false);
    let padding = format!("X-Padding: {}", "p".repeat(800));
    add("OPTIONS of 1 KB", "OPTIONS", "v-big", 1, &padding, false);
    add("REGISTER", "REGISTER", "v-reg", 1, "", false);
    add(
        "REGISTER+credentials",
        "REGISTER",
        "v-reg-cred",
        1,
        foreign,
        false,
    );
    for method in [
        "OPTIONS",
        "SUBSCRIBE",
        "NOTIFY",
        "PUBLISH",
        "MESSAGE",
        "REFER",
        "INFO",
        "UPDATE",
        "PRACK",
        "BYE",
        "CANCEL",
        "ACK",
        "FOO",
    ] {
        add(method, method, &format!("v-{method}"), 1, "", false);
    }
    script
}

/// Plays the blind script at `udp` from `victim`, ends with a proven call from another socket
/// (its BYE or, for `canned`, its answer comes after every reply the victim could get), and
/// returns bytes sent and received per label.
fn measure(daemon: &Daemon, personality: &str) -> BTreeMap<&'static str, (usize, usize)> {
    let udp = daemon.udp.expect("UDP listening");
    let victim = UdpSocket::bind("127.0.0.1:0").expect("bind victim");
    let mut labels = BTreeMap::new();
    let mut by_call = BTreeMap::new();
    for (label, message) in blind_script() {
        send_bytes(&victim, udp, message.as_bytes());
        labels.entry(label).or_insert((0, 0)).0 += message.len();
        let call = call_id_of(&message).unwrap_or_default();
        by_call.insert(call, label);
    }
    proven_call(udp, personality);
    victim.set_nonblocking(true).expect("non-blocking");
    let mut buffer = vec![0u8; 65_536];
    while let Ok((length, _)) = victim.recv_from(&mut buffer) {
        let reply = String::from_utf8_lossy(&buffer[..length]).into_owned();
        assert!(
            !reply.starts_with("BYE "),
            "{personality}: a BYE to a blind caller: {reply}"
        );
        let call = call_id_of(&reply).unwrap_or_default();
        let label = by_call.get(&call).copied().unwrap_or("unattributed");
        labels.entry(label).or_insert((0, 0)).1 += length;
    }
    labels
}

#[test]
fn a_spoofed_source_gets_back_at_most_what_was_sent_in_its_name_and_no_bye() {
    let mut report = Vec::new();
    for (personality, table) in [
        ("freepbx", "ring_ms = 100\ncall_ms = 200"),
        (
            "generic",
            "name = \"generic\"\nring_ms = 100\ncall_ms = 200",
        ),
        ("canned", "name = \"canned\""),
    ] {
        let daemon =
            Daemon::with_personality(table, &["-a", "--api-listen-address", "127.0.0.1:0"]);
        let labels = measure(&daemon, personality);
        let (sent, received) = labels
            .values()
            .fold((0, 0), |(s, r), (sent, got)| (s + sent, r + got));
        for (label, (sent, got)) in &labels {
            let ratio = *got as f64 / (*sent).max(1) as f64;
            report.push(format!(
                "{personality:8} {label:22} {sent:6} B in {got:6} B out ratio {ratio:.2}"
            ));
            // The canned reply carries the original's fixed Call-ID: only the total tells.
            if *label != "unattributed" {
                assert!(
                    got <= sent,
                    "{personality} {label}: {got} B out for {sent} B in"
                );
            }
        }
        assert!(
            received <= sent,
            "{personality}: {received} B out for {sent} B in"
        );
        report.push(format!(
            "{personality:8} {:22} {sent:6} B in {received:6} B out ratio {:.2}",
            "all",
            received as f64 / sent.max(1) as f64
        ));
        let replies = &health(daemon.api.expect("API"))["replies"];
        if personality != "canned" {
            assert!(
                replies["foreign_nonce"]["UDP"].as_u64() > Some(0),
                "{personality}: credentials without our nonce counted: {replies}"
            );
        }
        daemon.stop().assert_clean_exit();
    }
    println!(
        "reflection per personality and method:\n{}",
        report.join("\n")
    );
}

#[test]
fn control_bytes_in_a_header_never_reach_stderr_raw() {
    let daemon = Daemon::builder().args(["-r", "-N", "-v"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let forged = "2026-12-03T00:00:00.000000Z  INFO sentrypeer: forged line";
    let probe = format!(
        "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-esc\r\n\
         From: <sip:a@127.0.0.1>;tag=esc\r\n\
         To: <sip:1\r\n {forged}\x1b[2J\x1b]0;title\x07@127.0.0.1>\r\n\
         Call-ID: esc\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    send_bytes(&udp_client(), udp, probe.as_bytes());
    daemon.wait_for_probes(1);
    let stopped = daemon.stop();
    let probe_lines: Vec<&String> = stopped
        .log
        .iter()
        .filter(|line| line.contains("probe recorded"))
        .collect();
    assert_eq!(
        probe_lines.len(),
        1,
        "one event, one line: {:?}",
        stopped.log
    );
    assert!(
        probe_lines[0].contains("\\r\\n 2026-12-03"),
        "{}",
        probe_lines[0]
    );
    for line in &stopped.log {
        assert!(
            !line.contains(['\r', '\x1b', '\x07']) && !line.starts_with(forged),
            "raw control bytes or a forged line on stderr: {line:?}"
        );
    }
}

#[test]
fn a_64_kib_datagram_of_invalid_utf8_is_stored_and_logged_within_the_caps() {
    let daemon = Daemon::builder()
        .args(["-N", "-j", "-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let mut datagram = b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nX-Binary: ".to_vec();
    datagram.resize(65_000, 0xff);
    send_bytes(&udp_client(), udp, &datagram);
    let mut control = b"\x01".repeat(60_000);
    control.splice(
        0..0,
        b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nX-Control: "
            .iter()
            .copied(),
    );
    send_bytes(&udp_client(), udp, &control);
    daemon.wait_for_stored(2);
    let cut = &health(daemon.api.expect("API"))["events"]["messages_cut"]["UDP"];
    assert_eq!(cut, 1, "the cut is counted");
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let lengths: Vec<i64> = stopped.rows(
        "SELECT length(CAST(sip_message AS BLOB)) FROM honey ORDER BY honey_id",
        |row| row.get(0),
    );
    assert!(
        lengths.iter().all(|length| *length <= 65_536) && lengths[0] >= 65_000,
        "stored sizes {lengths:?}"
    );
    let log = std::fs::read_to_string(stopped.path("sentrypeer_json.log")).expect("JSON log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines.iter().all(|line| line.len() <= 128 * 1024),
        "line sizes"
    );
    let escaped: serde_json::Value = serde_json::from_str(lines[1]).expect("JSON");
    assert_eq!(
        escaped["sip_message_cut"], "true",
        "the JSON log's own cut is told"
    );
}

#[test]
fn the_probe_line_tells_whether_the_source_is_proven() {
    let daemon = Daemon::builder().args(["-r", "-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let reply = udp_exchange(
        &udp_client(),
        udp,
        blind_request("OPTIONS", "proof", 1, "", false).as_bytes(),
    );
    assert!(reply.starts_with(b"SIP/2.0 200 OK"));
    daemon.wait_for_probes(1);
    let mut tcp = std::net::TcpStream::connect(daemon.tcp.expect("TCP")).expect("connect");
    std::io::Write::write_all(
        &mut tcp,
        blind_request("OPTIONS", "proof-tcp", 1, "", false).as_bytes(),
    )
    .expect("send");
    daemon.wait_for_probes(2);
    let proven: Vec<bool> = daemon
        .log_lines()
        .iter()
        .filter(|line| line.contains("probe recorded"))
        .map(|line| line.contains("source_proven=true"))
        .collect();
    assert_eq!(proven, [false, true], "UDP alone proves nothing, TCP does");
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(1)));
    daemon.stop().assert_clean_exit();
}
