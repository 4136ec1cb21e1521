//! Verdicts in the call path, end to end: real Kamailio dipping into the SIP agent for SIPp
//! calls; SIPp, sipsak and a raw client straight at the agent (retransmission until the ACK,
//! CANCEL, OPTIONS, unknown methods); who may ask; the request sequences of CGRateS's `*sentrypeer`
//! filter and of the SentryPeer FreePBX module against a local node; the command-line lookups
//! on the database a running daemon writes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::daemon::{BINARY, Daemon, WAIT, listening_address};
use crate::support::http::{curl, health, wait_for_health};
use crate::support::sip::{connect_from, invite, send_from, udp_client, udp_exchange};
use crate::support::sip_tools::{free_udp_port, run, sipp_call, text, tool};
use crate::support::switch::{fixture, kamailio, sipp_uas};

/// A responsive daemon with its API and the agent on loopback port 0, and `extra` flags; the
/// agent's address.
fn agent_daemon(extra: &[&str]) -> (Daemon, SocketAddr) {
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["--sip-agent-listen-address", "127.0.0.1:0"])
        .args(extra.iter().copied())
        .start();
    let agent = listening_address(&daemon.log_lines(), "SIP agent UDP")
        .unwrap_or_else(|| panic!("agent address; log:\n{}", daemon.log_lines().join("\n")));
    (daemon, agent)
}

/// Calls each of `numbers` (not yet listed) on the honeypot, and waits until the live list
/// holds them (`blocklist.numbers` in the health document; `auth`: curl arguments with the
/// bearer token, when the API needs one).
fn capture(daemon: &Daemon, numbers: &[&str], auth: &[&str]) {
    let api = daemon.api.expect("API");
    let listed = || {
        let answer = curl(api, "/api/v1/health", auth);
        let details: serde_json::Value = serde_json::from_str(&answer.body).expect("health JSON");
        details["blocklist"]["numbers"]
            .as_u64()
            .expect("blocklist.numbers")
    };
    let before = listed();
    let honeypot = daemon.udp.expect("honeypot UDP");
    for number in numbers {
        // Unanswered: its challenge would be larger than this small INVITE.
        let call = invite(number, honeypot, &format!("scan-{number}"), "");
        send_from("127.0.0.1", honeypot, call.as_bytes());
    }
    let expected = before + u64::try_from(numbers.len()).expect("count");
    let deadline = Instant::now() + WAIT;
    while listed() < expected {
        assert!(Instant::now() < deadline, "{numbers:?} never listed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn agent_health(daemon: &Daemon) -> serde_json::Value {
    health(daemon.api.expect("API"))["sip_agent"].clone()
}

#[test]
fn kamailio_declines_captured_numbers_redirects_clean_calls_and_fails_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_uas, uas) = sipp_uas(dir.path());
    let destination = format!("sip:carrier@{uas}");
    let (daemon, agent) = agent_daemon(&["--sip-agent-default-destination", &destination]);
    capture(&daemon, &["0046812118532", "112"], &[]);
    let (kamailio, proxy) = kamailio(dir.path(), agent, uas);

    let declined = fixture("sipp/agent_declined.xml");
    let declined = declined.to_str().expect("path");
    let output = run(
        sipp_call(proxy, "0046812118532", &["-sf", declined]),
        dir.path(),
    );
    assert!(output.status.success(), "603 at the UAC: {}", text(&output));
    kamailio.expect_line("dip 0046812118532 from 127.0.0.1: 603");

    for number in ["0046700000001", "112"] {
        let output = run(sipp_call(proxy, number, &["-sn", "uac"]), dir.path());
        assert!(
            output.status.success(),
            "{number} completes at the UAS: {}",
            text(&output)
        );
        kamailio.expect_line(&format!("dip {number} from 127.0.0.1: 302"));
    }
    let verdicts = agent_health(&daemon)["verdicts"].clone();
    assert_eq!(
        (&verdicts["blocked_number"], &verdicts["clean"]),
        (&1.into(), &2.into()),
        "{verdicts}"
    );
    // The honeypot recorded the two scans only: the agent's traffic is not an attack.
    let stored = health(daemon.api.expect("API"));
    let stopped = daemon.stop();
    assert!(stopped.status.success());
    assert_eq!(stopped.stored_total_logged(), 2, "{stored}");

    // The agent is gone: Kamailio routes the call to the captured number normally.
    let output = run(
        sipp_call(proxy, "0046812118532", &["-sn", "uac"]),
        dir.path(),
    );
    assert!(output.status.success(), "fail open: {}", text(&output));
    kamailio.expect_line("dip 0046812118532 from 127.0.0.1: 408");
}

/// SIPp straight at the agent with `scenario` (a fixture) calling `number`, its messages traced
/// to `messages.log` in `dir`; the trace.
fn sipp_at_agent(agent: SocketAddr, number: &str, scenario: &str, dir: &std::path::Path) -> String {
    let trace = dir.join(format!("{number}-messages.log"));
    let scenario = fixture(scenario);
    let mut sipp = sipp_call(agent, number, &["-sf", scenario.to_str().expect("path")]);
    sipp.args(["-trace_msg", "-message_file"]).arg(&trace);
    let output = run(sipp, dir);
    assert!(output.status.success(), "{number}: {}", text(&output));
    std::fs::read_to_string(trace).unwrap_or_default()
}

#[test]
fn sipp_and_sipsak_straight_at_the_agent() {
    let (daemon, agent) = agent_daemon(&[]);
    capture(&daemon, &["0046812118533"], &[]);
    let dir = tempfile::tempdir().expect("temp dir");

    let trace = sipp_at_agent(
        agent,
        "0046812118533",
        "sipp/agent_retransmits_until_ack.xml",
        dir.path(),
    );
    let declines = trace.matches("SIP/2.0 603 Decline").count();
    assert_eq!(
        declines, 3,
        "the 603 at 0, 0.5 and 1.5 s, none after the ACK"
    );
    assert!(trace.contains("X-SentryPeer-Verdict: blocked; key=number; value=0046812118533"));

    // CANCEL (raw: SIPp matches a response to the CSeq method it last sent, and the 487 is
    // the INVITE's): 200 for the CANCEL, then 487 for the INVITE it names.
    let client = udp_client();
    let cancel = invite("100", agent, "cancel-1", "")
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let ok = udp_exchange(&client, agent, cancel.as_bytes());
    assert!(ok.starts_with(b"SIP/2.0 200 OK\r\n"));
    let mut buffer = [0u8; 2048];
    let (length, _) = client.recv_from(&mut buffer).expect("the 487");
    let terminated = String::from_utf8_lossy(&buffer[..length]);
    assert!(terminated.starts_with("SIP/2.0 487 Request Terminated\r\n"));
    assert!(terminated.contains("CSeq: 1 INVITE\r\n"), "{terminated}");
    let ack = invite("100", agent, "cancel-1", "")
        .replacen("INVITE sip:", "ACK sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK");
    client.send_to(ack.as_bytes(), agent).expect("ACK the 487");
    sipp_at_agent(agent, "100", "sipp/agent_unknown_method.xml", dir.path());

    let mut sipsak = tool("sipsak");
    sipsak.args(["-s", &format!("sip:ping@{agent}"), "-l"]);
    sipsak.arg(free_udp_port().to_string());
    let output = run(sipsak, dir.path());
    assert!(
        output.status.success(),
        "OPTIONS answered 200: {}",
        text(&output)
    );

    let details = wait_for_health(daemon.api.expect("API"), |details| {
        details["sip_agent"]["acks"].as_u64() >= Some(2)
    })["sip_agent"]
        .clone();
    for (counter, expected) in [
        ("dips", 1),
        ("response_retransmissions", 2),
        ("cancels", 1),
        ("not_allowed", 1),
        ("keepalives", 1),
    ] {
        assert_eq!(details[counter], expected, "{counter}: {details}");
    }
    let metrics = curl(daemon.api.expect("API"), "/metrics", &[]).body;
    assert!(metrics.contains("sentrypeer_sip_agent_verdicts_total{outcome=\"blocked_number\"} 1"));
    assert!(
        metrics.contains("sentrypeer_sip_agent_dip_seconds_count 1"),
        "{metrics}"
    );
}

#[test]
fn only_allowed_sources_are_answered_over_udp_and_tcp() {
    let (daemon, agent) = agent_daemon(&["--sip-agent-allow", "127.0.0.1/32"]);
    capture(&daemon, &["0046812118534"], &[]);
    let call = |id: &str| invite("0046812118534", agent, id, "X-Source-IP: 127.0.0.9\r\n");

    // A refused source: nothing over UDP. Its datagram goes first; the allowed one's answer,
    // from the same loop, proves it was handled.
    let refused = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    refused
        .send_to(call("refused").as_bytes(), agent)
        .expect("send");
    let allowed = udp_client();
    let answer = udp_exchange(&allowed, agent, call("allowed").as_bytes());
    assert!(answer.starts_with(b"SIP/2.0 603 Decline\r\n"));
    refused.set_nonblocking(true).expect("non-blocking");
    let mut buffer = [0u8; 2048];
    assert!(
        refused.recv_from(&mut buffer).is_err(),
        "no reply to a refused source"
    );

    // Over TCP: a refused source gets 403 and the connection ends; an allowed one its answer.
    let mut stream = connect_from("127.0.0.2".parse().expect("ip"), agent);
    stream
        .write_all(call("tcp-refused").as_bytes())
        .expect("write");
    let mut reply = String::new();
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .read_to_string(&mut reply)
        .expect("read until closed");
    assert!(reply.starts_with("SIP/2.0 403 Forbidden\r\n"), "{reply}");
    let mut stream = TcpStream::connect(agent).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(call("tcp-allowed").as_bytes())
        .expect("write");
    let mut buffer = [0u8; 2048];
    let length = stream.read(&mut buffer).expect("answer");
    assert!(buffer[..length].starts_with(b"SIP/2.0 603 Decline\r\n"));

    let refused = agent_health(&daemon)["refused_sources"].clone();
    assert_eq!((&refused["udp"], &refused["tcp"]), (&1.into(), &1.into()));
}

/// `POST /oauth/token` as CGRateS sends it (`sentrypeerGetToken` in its
/// `engine/libfilters.go`): a JSON body with the four fields; the `access_token`.
fn cgrates_token(api: SocketAddr, secret: &str) -> (u16, String) {
    let body = format!(
        r#"{{"client_id":"cgrates","client_secret":"{secret}","audience":"https://sentrypeer.com/api","grant_type":"client_credentials"}}"#
    );
    let answer = curl(
        api,
        "/oauth/token",
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data",
            &body,
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON body");
    let token = json["access_token"].as_str().unwrap_or_default().to_owned();
    (answer.status, token)
}

#[test]
fn cgrates_and_the_freepbx_module_work_against_a_local_node() {
    let (daemon, _) = agent_daemon(&[
        "--api-client",
        "cgrates:s3cret",
        "--api-token-lifetime",
        "2s",
        "--api-token",
        "operator",
    ]);
    let operator = ["-H", "Authorization: Bearer operator"];
    capture(&daemon, &["+441234567890", "0046812118535"], &operator);
    let api = daemon.api.expect("API");
    let lookup = |path: &str, token: &str| {
        let bearer = format!("Authorization: Bearer {token}");
        curl(api, path, &["-H", &bearer])
    };

    let (status, _) = cgrates_token(api, "wrong");
    assert_eq!(status, 401);
    let (status, token) = cgrates_token(api, "s3cret");
    assert_eq!(status, 200);
    // url.JoinPath(numbers_url, number): a leading + stays in the path.
    let found = lookup("/api/phone-numbers/+441234567890", &token);
    assert_eq!(
        (found.status, found.body.as_str()),
        (200, r#"{"message":"Phone Number found."}"#)
    );
    let clean = lookup("/api/ip-addresses/192.0.2.44", &token);
    assert_eq!(
        (clean.status, clean.body.as_str()),
        (404, r#"{"message":"IP Address not found."}"#)
    );
    // The FreePBX module's request (agi-bin/sentrypeer.php): JSON headers on a GET.
    let freepbx = curl(
        api,
        "/api/phone-numbers/0046812118535",
        &[
            "-H",
            "Content-Type: application/json;charset=utf-8",
            "-H",
            "Accept: application/json;charset=utf-8",
            "-H",
            &format!("Authorization: Bearer {token}"),
            "-A",
            "SentryPeer-FreePBX-Module/1.0",
        ],
    );
    assert_eq!(freepbx.status, 200, "{}", freepbx.body);
    assert_eq!(lookup("/api/phone-numbers/5550000", &token).status, 404);
    assert_eq!(curl(api, "/api/phone-numbers/5550000", &[]).status, 401);
    // The token expires (2 s here): 401, then a new token and the same lookup again, as
    // CGRateS's retry loop does.
    let deadline = Instant::now() + WAIT;
    let expired = loop {
        let answer = lookup("/api/phone-numbers/+441234567890", &token);
        if answer.status == 401 {
            break answer;
        }
        assert!(Instant::now() < deadline, "token never expired");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(expired.body, r#"{"error":"Invalid token","reason":"exp"}"#);
    let (_, fresh) = cgrates_token(api, "s3cret");
    assert_eq!(
        lookup("/api/phone-numbers/+441234567890", &fresh).status,
        200
    );
    // The same token on the original's routes.
    assert_eq!(lookup("/numbers/0046812118535", &fresh).status, 200);
}

fn lookup_cli(db: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .arg("-f")
        .arg(db)
        .args(args)
        .env_clear()
        .output()
        .expect("run sentrypeer");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn command_line_lookups_read_the_database_a_running_daemon_writes() {
    let (daemon, _) = agent_daemon(&[]);
    capture(&daemon, &["0046812118536"], &[]);
    daemon.wait_for_stored(1);
    let db = daemon.path("sentrypeer.db");

    let (code, out) = lookup_cli(&db, &["--query-phonenumber", "0046812118536"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("0046812118536\t1\t"), "{out}");
    let (code, out) = lookup_cli(&db, &["--query-ip", "127.0.0.1"]);
    assert_eq!((code, out.lines().count()), (Some(0), 1), "{out}");
    assert_eq!(
        lookup_cli(&db, &["--query-phonenumber", "5550000"]),
        (Some(1), String::new())
    );
    assert_eq!(lookup_cli(&db, &["--query-ip", "not-an-ip"]).0, Some(2));
    let (code, out) = lookup_cli(&db, &["--list-phonenumbers"]);
    assert_eq!((code, out.lines().count()), (Some(0), 1), "{out}");
    let (code, out) = lookup_cli(&db, &["--list-ip-addresses"]);
    assert_eq!((code, out.lines().count()), (Some(0), 1), "{out}");
    let (code, out) = lookup_cli(&db, &["--stats"]);
    assert_eq!(code, Some(0));
    assert!(out.lines().any(|line| line == "events\t1"), "{out}");
    // Still running and writing: a second scan is seen by the next lookup.
    capture(&daemon, &["0046812118537"], &[]);
    daemon.wait_for_stored(2);
    let (code, out) = lookup_cli(&db, &["--list-phonenumbers"]);
    assert_eq!((code, out.lines().count()), (Some(0), 2), "{out}");
    assert_eq!(
        lookup_cli(&daemon.path("missing.db"), &["--stats"]).0,
        Some(2)
    );
}
