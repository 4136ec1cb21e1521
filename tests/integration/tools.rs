//! Real scanners and SIP tools against the daemon on loopback: SIPVicious `svmap`, SIPp's
//! built-in UAC scenario, a port of T-Pot's SentryPeer smoke test, and `fail2ban-regex` with the
//! shipped filter on syslog lines the daemon wrote. `.ci/run` installs these tools.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::sip::udp_client;
use crate::support::sip_tools::{free_udp_port, run, sipp_call, tool};

#[test]
fn svmap_finds_the_honeypot_and_its_probe_is_recorded() {
    let daemon = Daemon::builder().args(["-r", "-N", "-j"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let mut svmap = tool("svmap");
    svmap.args([
        "127.0.0.1",
        "-p",
        &udp.port().to_string(),
        "-P",
        &free_udp_port().to_string(),
        "-t",
        "0.1",
    ]);
    let output = run(svmap, daemon.dir());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("127.0.0.1:{}", udp.port())),
        "svmap found nothing:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("FPBX-16.0.33"),
        "svmap shows the Server header:\n{stdout}"
    );
    daemon.wait_for_probes(1);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let (method, agent, number): (String, String, String) = stopped
        .db()
        .query_row(
            "SELECT method, user_agent, called_number FROM honey ORDER BY honey_id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("svmap's probe stored");
    assert_eq!(
        (method.as_str(), agent.as_str()),
        ("OPTIONS", "friendly-scanner")
    );
    assert!(!number.is_empty());
}

#[test]
fn sipp_uac_completes_a_call_against_generic_and_every_request_is_recorded() {
    // The generic personality takes guest calls: SIPp's built-in UAC sends no credentials.
    let daemon = Daemon::builder()
        .args(["-r", "-N", "--sip-personality", "generic"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let mut sipp = sipp_call(udp, "0046812118532", &["-sn", "uac"]);
    sipp.args(["-d", "100"]);
    let output = run(sipp, daemon.dir());
    assert!(
        output.status.success(),
        "SIPp call failed ({:?}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    daemon.wait_for_probes(3);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let rows: Vec<(String, String, String)> = stopped.rows(
        "SELECT method, called_number, user_agent FROM honey ORDER BY honey_id",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    let methods: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    // Until SIPp's ACK echoes our To tag, it has not shown it receives our replies: its first
    // INVITE gets no 100 Trying (no room for one beside the answer), so SIPp may retransmit it.
    let invites = methods
        .iter()
        .take_while(|method| **method == "INVITE")
        .count();
    assert!(invites >= 1, "{methods:?}");
    assert_eq!(methods[invites..], ["ACK", "BYE"], "{methods:?}");
    assert!(
        rows.iter().all(|r| r.1 == "0046812118532"),
        "dialed number recorded: {rows:?}"
    );
}

/// T-Pot's `docker/_tests/tests/sentrypeer.sh`, ported: T-Pot's flags and environment, its
/// exact OPTIONS probe over UDP and TCP, and its checks of replies, JSON log and logs.
#[test]
fn tpot_smoke_test() {
    let builder = Daemon::builder().without_defaults();
    let log_dir = builder.dir().join("log");
    std::fs::create_dir(&log_dir).expect("log dir");
    let json_path = log_dir.join("sentrypeer.json");
    let db_path = log_dir.join("sentrypeer.db");
    let daemon = builder
        .env("SENTRYPEER_VERBOSE", "1")
        .env("SENTRYPEER_DEBUG", "1")
        .env("RUST_LOG", "")
        .args(["-jar", "-f"])
        .args([
            db_path.display().to_string(),
            "-l".to_owned(),
            json_path.display().to_string(),
        ])
        .args(["--sip-listen-address", "127.0.0.1:0", "-z", "127.0.0.1:0"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let tcp = daemon.tcp.expect("TCP listening");
    let token_udp = format!("sentrypeer-udp-{}", std::process::id());
    let token_tcp = format!("sentrypeer-tcp-{}", std::process::id());
    let request = |transport: &str, token: &str| {
        format!(
            "OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:50999;branch=z9hG4bK-{token}\r\n\
             Max-Forwards: 70\r\nFrom: \"Smoke\" <sip:smoke@127.0.0.1>;tag={token}\r\nTo: <sip:1000@127.0.0.1>\r\n\
             Call-ID: {token}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContact: <sip:smoke@127.0.0.1:50999>\r\n\
             User-Agent: tpot-sentrypeer-smoke/{token}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let status_line = |response: &[u8]| {
        assert!(
            response.starts_with(b"SIP/2.0 "),
            "expected SIP response, got {response:?}"
        );
        let line = String::from_utf8_lossy(response)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(line.contains("200 OK"), "expected SIP 200 OK, got {line}");
    };
    let client = udp_client();
    client
        .send_to(request("UDP", &token_udp).as_bytes(), udp)
        .expect("send");
    let mut buffer = [0u8; 4096];
    let (length, _) = client.recv_from(&mut buffer).expect("UDP reply");
    status_line(&buffer[..length]);

    let mut stream = TcpStream::connect(tcp).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(request("TCP", &token_tcp).as_bytes())
        .expect("write");
    let mut response = Vec::new();
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).expect("read");
        assert!(read > 0, "connection closed");
        response.extend_from_slice(&buffer[..read]);
    }
    status_line(&response);
    daemon.wait_for_probes(2);
    assert!(daemon.dir().join("log").exists());
    let stopped = daemon.stop();
    stopped.assert_clean_exit();

    let text = std::fs::read_to_string(&json_path).expect("sentrypeer.json");
    for (transport, token, port) in [
        ("UDP", &token_udp, udp.port()),
        ("TCP", &token_tcp, tcp.port()),
    ] {
        let event: serde_json::Value = text
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("valid JSON"))
            .find(|event| {
                event["transport_type"] == transport
                    && event["sip_user_agent"] == format!("tpot-sentrypeer-smoke/{token}")
            })
            .unwrap_or_else(|| panic!("no {transport} JSON event for {token}"));
        for (field, expected) in [
            ("app_name", "sentrypeer"),
            ("collected_method", "responsive"),
            ("called_number", "1000"),
            ("sip_method", "OPTIONS"),
        ] {
            assert_eq!(event[field], expected, "{transport} {field}");
        }
        let text_of = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
        assert!(text_of("source_ip").contains(':'), "source_ip has a port");
        assert!(
            text_of("destination_ip").ends_with(&format!(":{port}")),
            "{}",
            text_of("destination_ip")
        );
        assert!(text_of("sip_message").contains(token.as_str()));
        assert!(!text_of("event_timestamp").is_empty() && !text_of("event_uuid").is_empty());
    }
    assert!(std::fs::metadata(&db_path).expect("database created").len() > 0);
    let runtime_errors = ["panic", "segmentation fault", "Traceback", "Exception"];
    for line in &stopped.log {
        let lower = line.to_lowercase();
        assert!(
            !runtime_errors
                .iter()
                .any(|e| lower.contains(&e.to_lowercase())),
            "runtime error: {line}"
        );
    }
}

#[test]
fn fail2ban_filter_matches_the_lines_the_daemon_wrote() {
    let builder = Daemon::builder();
    let socket_path = builder.dir().join("syslog.sock");
    let syslog = UnixDatagram::bind(&socket_path).expect("bind syslog");
    syslog.set_read_timeout(Some(WAIT)).expect("timeout");
    let daemon = builder
        .args(["-N", "-s", "--syslog-address"])
        .args([socket_path.display().to_string()])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let probes: [&[u8]; 3] = [
        b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:100@b>\r\nCall-ID: f2b-1\r\nCSeq: 1 OPTIONS\r\nUser-Agent: sipsak 0.9.7\r\n\r\n",
        // An agent trying to smuggle another address into the line.
        b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:100@b>\r\nCall-ID: f2b-2\r\nCSeq: 1 REGISTER\r\nUser-Agent: x, Source IP: 203.0.113.9, Method: y\r\n\r\n",
        b"\x00\x01garbage",
    ];
    let client = udp_client();
    let mut lines = Vec::new();
    for probe in probes {
        client.send_to(probe, udp).expect("send");
        let mut buffer = [0u8; 2048];
        let length = syslog.recv(&mut buffer).expect("syslog line");
        let line = String::from_utf8_lossy(&buffer[..length]).into_owned();
        // The local syslog daemon strips the <PRI> prefix when it writes the file.
        let written = line
            .split_once('>')
            .map(|(_, rest)| rest.to_owned())
            .expect("priority");
        lines.push(written);
    }
    daemon.stop().assert_clean_exit();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("syslog");
    std::fs::write(&log, lines.join("\n") + "\n").expect("write log");
    // The filter includes fail2ban's common.conf: lay it out as in /etc/fail2ban.
    let filter_dir = dir.path().join("filter.d");
    std::fs::create_dir(&filter_dir).expect("filter.d");
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/fail2ban/filter.d/sentrypeer.conf");
    std::fs::copy(&shipped, filter_dir.join("sentrypeer.conf")).expect("copy filter");
    std::fs::copy(
        "/etc/fail2ban/filter.d/common.conf",
        filter_dir.join("common.conf"),
    )
    .expect("fail2ban's common.conf (apt-get install fail2ban)");
    let mut fail2ban = tool("fail2ban-regex");
    fail2ban.args([
        "-v".as_ref(),
        log.as_os_str(),
        filter_dir.join("sentrypeer.conf").as_os_str(),
    ]);
    let output = run(fail2ban, dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Lines: 3 lines, 0 ignored, 3 matched, 0 missed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("|      127.0.0.1  "),
        "hosts listed: {stdout}"
    );
    assert!(
        !stdout.contains("203.0.113.9  "),
        "the smuggled address is never the host"
    );
    let jail =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/fail2ban/jail.d/sentrypeer.conf");
    assert!(
        std::fs::read_to_string(jail)
            .expect("jail example")
            .contains("filter   = sentrypeer")
    );
}
