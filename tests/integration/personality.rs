//! Responsive-mode personalities against real attack and test tools on loopback: SIPVicious
//! `svmap`/`svwar`/`svcrack`, SIPp (built-in `uac` and an authenticated call scenario), `sipsak`;
//! and raw sockets for the canned reply, CANCEL and the delayed replies over TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;

use crate::api::curl;
use crate::harness::{Daemon, DaemonBuilder, WAIT, options, udp_client, udp_exchange};
use crate::tools::{free_udp_port, run, svmap, tool};

/// Starts a responsive daemon (UDP and TCP, no TLS) with `[personality]` set to `table`.
fn with_personality(table: &str, extra: &[&str]) -> Daemon {
    let builder = Daemon::builder();
    let config = write_config(&builder, table);
    builder
        .args(["-r", "-N", "-g", &config])
        .args(extra.iter().copied())
        .start()
}

fn write_config(builder: &DaemonBuilder, table: &str) -> String {
    let path = builder.dir().join("personality.toml");
    std::fs::write(&path, format!("[personality]\n{table}\n")).expect("write config");
    path.display().to_string()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The `| extension | status |` rows of an svwar/svcrack result table.
fn table_rows(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            match cells.as_slice() {
                [first, second] if first.chars().all(|c| c.is_ascii_digit()) => {
                    Some(((*first).to_owned(), (*second).to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn svmap_shows_the_server_string_of_each_personality() {
    for (name, server) in [
        ("freepbx", "FPBX-16.0.33(18.13.0)"),
        ("generic", "FreeSWITCH-mod_sofia/1.10.9-release~64bit"),
    ] {
        let daemon = Daemon::builder()
            .args(["-r", "-N", "--sip-personality", name])
            .start();
        let udp = daemon.udp.expect("UDP listening");
        let scan = svmap(udp, daemon.dir());
        let stdout = String::from_utf8_lossy(&scan.stdout);
        assert!(
            stdout.contains(&format!("127.0.0.1:{}", udp.port())) && stdout.contains(server),
            "{name}: {}",
            text(&scan)
        );
        daemon.wait_for_probes(1);
        daemon.stop().assert_clean_exit();
    }
}

#[test]
fn svwar_lists_exactly_the_plan_extensions_as_requiring_auth() {
    let daemon = Daemon::builder().args(["-r", "-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let mut svwar = tool("svwar");
    svwar.args([
        "-e95-115",
        "-p",
        &udp.port().to_string(),
        "-P",
        &free_udp_port().to_string(),
        "127.0.0.1",
    ]);
    let output = run(svwar, daemon.dir());
    let rows = table_rows(&String::from_utf8_lossy(&output.stdout));
    let expected: Vec<(String, String)> = (100..=115)
        .map(|extension| (extension.to_string(), "reqauth".to_owned()))
        .collect();
    let mut found = rows.clone();
    found.sort();
    assert_eq!(found, expected, "{}", text(&output));
    // The random "bad user" probe plus 21 extensions.
    daemon.wait_for_probes(22);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let registers: i64 = stopped
        .db()
        .query_row(
            "SELECT count(*) FROM honey WHERE method = 'REGISTER' AND user_agent = 'friendly-scanner'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert!(registers >= 22, "every REGISTER recorded: {registers}");
}

#[test]
fn svcrack_cracks_an_extension_after_the_configured_attempts() {
    let daemon = Daemon::builder().args(["-r", "-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let mut svcrack = tool("svcrack");
    svcrack.args([
        "-u",
        "105",
        "-r",
        "1-20",
        "-p",
        &udp.port().to_string(),
        "-P",
        &free_udp_port().to_string(),
        "127.0.0.1",
    ]);
    let output = run(svcrack, daemon.dir());
    let rows = table_rows(&String::from_utf8_lossy(&output.stdout));
    let [(extension, password)] = rows.as_slice() else {
        panic!("one cracked extension expected:\n{}", text(&output));
    };
    assert_eq!(extension, "105");
    let candidates: Vec<String> = std::iter::once("105".to_owned())
        .chain((1..=20).map(|n: u32| n.to_string()))
        .collect();
    assert!(candidates.contains(password), "{password}");
    daemon.wait_for_logged("probe recorded", 4);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let authorized: i64 = stopped
        .db()
        .query_row(
            "SELECT count(*) FROM honey WHERE method = 'REGISTER' AND sip_message LIKE '%Authorization: Digest%'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(
        authorized, 3,
        "the default auth_attempts: two 403s, then the 200"
    );
}

#[test]
fn sipp_authenticated_call_against_freepbx_ends_with_our_bye_and_the_number_is_listed() {
    let builder = Daemon::builder();
    let config = write_config(&builder, "ring_ms = 200\ncall_ms = 300");
    let daemon = builder
        .args([
            "-r",
            "-N",
            "-g",
            &config,
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
        ])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sipp/invite_auth_wait_for_bye.xml");
    let mut sipp = tool("sipp");
    sipp.args(["-sf", &scenario.display().to_string(), &udp.to_string()])
        .args(["-s", "0046812118532", "-au", "105", "-ap", "secret"])
        .args(["-i", "127.0.0.1", "-p", &free_udp_port().to_string()])
        .args([
            "-m",
            "1",
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ]);
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
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let rows: Vec<(String, String, bool)> = stopped.rows(
        "SELECT method, called_number, sip_message LIKE '%Proxy-Authorization: Digest%' FROM honey \
         WHERE message_kind = 'request' ORDER BY honey_id",
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
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
    let steps: Vec<(&str, bool)> = rows.iter().map(|r| (r.0.as_str(), r.2)).collect();
    assert_eq!(
        steps,
        [
            ("INVITE", false),
            ("ACK", false),
            ("INVITE", true),
            ("ACK", false)
        ],
        "{rows:?}"
    );
    assert!(rows.iter().all(|row| row.1 == "0046812118532"), "{rows:?}");
}

#[test]
fn sipsak_options_and_register_pass_sipsaks_own_checks() {
    let daemon = with_personality("auth_attempts = 1", &[]);
    let udp = daemon.udp.expect("UDP listening");
    let target = format!("sip:110@127.0.0.1:{}", udp.port());
    let mut options = tool("sipsak");
    options.args(["-s", &target]);
    let output = run(options, daemon.dir());
    assert!(output.status.success(), "OPTIONS: {}", text(&output));
    let mut register = tool("sipsak");
    register.args(["-U", "-i", "-s", &target, "-a", "secret", "-vvv"]);
    let output = run(register, daemon.dir());
    assert!(output.status.success(), "REGISTER: {}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("401 Unauthorized"),
        "challenged first: {}",
        text(&output)
    );
    daemon.wait_for_probes(3);
    daemon.stop().assert_clean_exit();
}

#[test]
fn canned_sends_the_originals_bytes_but_never_over_a_smaller_udp_request() {
    let daemon = Daemon::builder()
        .args(["-r", "-N", "--sip-personality", "canned"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let tcp = daemon.tcp.expect("TCP listening");
    let client = udp_client();
    let small = options("100", "UDP", "small", "canned-small");
    assert!(small.len() < 729);
    client.send_to(small.as_bytes(), udp).expect("send");
    let big = options("100", "UDP", &"b".repeat(500), "canned-big");
    assert!(big.len() >= 729);
    // Loopback keeps order: had the small probe been answered, its reply would come first.
    let reply = udp_exchange(&client, udp, big.as_bytes());
    assert_eq!(reply, sentrypeer::sip::CANNED_REPLY);
    assert_eq!(reply.len(), 729);
    let mut stream = TcpStream::connect(tcp).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(small.as_bytes()).expect("write");
    let mut received = vec![0u8; 729];
    stream
        .read_exact(&mut received)
        .expect("729 bytes over TCP");
    assert_eq!(received, sentrypeer::sip::CANNED_REPLY);
    daemon.wait_for_probes(3);
    daemon.stop().assert_clean_exit();
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

fn in_dialog(method: &str, transport: &str, call_id: &str) -> String {
    format!(
        "{method} sip:0046812118532@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK-{call_id}-{method}\r\n\
         From: <sip:caller@127.0.0.1>;tag=t-{call_id}\r\nTo: <sip:0046812118532@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn tcp_call_gets_its_final_response_and_our_bye_on_the_same_connection() {
    let daemon = with_personality("name = \"generic\"\nring_ms = 100\ncall_ms = 200", &[]);
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
        .write_all(in_dialog("ACK", "TCP", "tcp-call").as_bytes())
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
    let daemon = with_personality("name = \"generic\"", &[]);
    let udp = daemon.udp.expect("UDP listening");
    let client = udp_client();
    let first = udp_exchange(&client, udp, invite("UDP", "udp-cancel").as_bytes());
    assert!(first.starts_with(b"SIP/2.0 100 Trying\r\n"));
    let mut buffer = [0u8; 4096];
    let (length, _) = client.recv_from(&mut buffer).expect("180");
    assert!(buffer[..length].starts_with(b"SIP/2.0 180 Ringing\r\n"));
    let cancel = in_dialog("CANCEL", "UDP", "udp-cancel");
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

#[test]
fn unknown_personality_is_a_clear_start_up_error() {
    let daemon = Daemon::builder()
        .args(["-r", "--sip-personality", "asterisk"])
        .start();
    let stopped = daemon.wait_exit();
    assert_eq!(stopped.status.code(), Some(2));
    assert!(
        stopped.log.iter().any(|line| line
            .contains("unknown personality \"asterisk\"; known: freepbx, generic, canned")),
        "{:?}",
        stopped.log
    );
}

#[test]
fn personality_from_the_environment_variable() {
    let daemon = Daemon::builder()
        .env("SENTRYPEER_SIP_PERSONALITY", "generic")
        .args(["-r", "-N"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    // Room in the request for the Server header (UDP replies never outgrow their request).
    let probe = options("100", "UDP", &"env-test ".repeat(12), "env-p");
    let reply = udp_exchange(&udp_client(), udp, probe.as_bytes());
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.contains("\r\nServer: FreeSWITCH-mod_sofia/"),
        "{reply}"
    );
    daemon.wait_for_probes(1);
    daemon.stop().assert_clean_exit();
}
