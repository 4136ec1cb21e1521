//! Probes over UDP, TCP and IPv6 end up in SQLite, the JSON log and syslog, with the real
//! addresses; responsive mode answers in RFC 3261 shape.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;

use sentrypeer::event::ORIGINAL_JSON_KEYS;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::sip::{options, udp_client, udp_exchange};

fn is_event_timestamp(text: &str) -> bool {
    // YYYY-MM-DD HH:MM:SS.nnnnnnnnn
    let bytes = text.as_bytes();
    bytes.len() == 29
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            _ => b.is_ascii_digit(),
        })
}

#[test]
fn udp_probe_is_recorded_in_sqlite_json_log_and_syslog() {
    let builder = Daemon::builder();
    let syslog_path = builder.dir().join("syslog.sock");
    let syslog = UnixDatagram::bind(&syslog_path).expect("bind syslog socket");
    syslog.set_read_timeout(Some(WAIT)).expect("timeout");
    let daemon = builder
        .args(["-r", "-j", "-s", "--syslog-address"])
        .args([syslog_path.display().to_string()])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let client = udp_client();
    let client_address = client.local_addr().expect("client address");
    let probe = options("1000", "UDP", "tpot-smoke-test", "udp-token-1");
    let reply =
        String::from_utf8(udp_exchange(&client, udp, probe.as_bytes())).expect("UTF-8 reply");
    assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");
    assert!(
        reply.contains("Call-ID: udp-token-1@127.0.0.1\r\n"),
        "{reply}"
    );
    assert!(reply.contains("CSeq: 1 OPTIONS\r\n"), "{reply}");
    assert!(
        reply.len() <= probe.len(),
        "UDP reply larger than the request"
    );
    daemon.wait_for_probes(1);

    let mut datagram = vec![0u8; 4096];
    let length = syslog.recv(&mut datagram).expect("syslog line");
    let line = String::from_utf8_lossy(&datagram[..length]).into_owned();
    assert!(line.starts_with("<13>"), "notice, facility user: {line}");
    assert!(
        line.contains(&format!("sentrypeer[{}]: ", daemon.pid())),
        "{line}"
    );
    assert!(
        line.ends_with("Source IP: 127.0.0.1, Method: OPTIONS, Agent: tpot-smoke-test"),
        "{line}"
    );

    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let log = stopped.json_log();
    assert_eq!(log.len(), 1);
    let object = log[0].as_object().expect("object");
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys[..ORIGINAL_JSON_KEYS.len()], ORIGINAL_JSON_KEYS);
    assert_eq!(
        keys[ORIGINAL_JSON_KEYS.len()..],
        ["attack_type", "from_user"],
        "then what the probe carried"
    );
    assert_eq!(object["attack_type"], "scan");
    let raw = std::fs::read_to_string(stopped.path("sentrypeer_json.log")).expect("JSON log");
    let positions: Vec<usize> = ORIGINAL_JSON_KEYS
        .iter()
        .map(|key| raw.find(&format!("\"{key}\":")).expect("key present"))
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "keys in the original order: {raw}"
    );
    assert!(
        object.values().all(serde_json::Value::is_string),
        "all values are strings"
    );
    let field = |key: &str| object[key].as_str().expect("string").to_owned();
    assert_eq!(field("app_name"), "sentrypeer");
    assert_eq!(field("collected_method"), "responsive");
    assert_eq!(field("transport_type"), "UDP");
    assert_eq!(field("source_ip"), client_address.to_string());
    assert_eq!(field("destination_ip"), udp.to_string());
    assert_eq!(field("called_number"), "1000");
    assert_eq!(field("sip_method"), "OPTIONS");
    assert_eq!(field("sip_user_agent"), "tpot-smoke-test");
    assert_eq!(field("sip_message"), probe);
    assert!(
        is_event_timestamp(&field("event_timestamp")),
        "{}",
        field("event_timestamp")
    );
    let node_id =
        std::fs::read_to_string(stopped.path("sentrypeer.node_id")).expect("node id file");
    assert_eq!(field("created_by_node_id"), node_id.trim());

    let db = stopped.db();
    let row: (
        String,
        i64,
        String,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
    ) = db
        .query_row(
            "SELECT source_ip, source_port, destination_ip, destination_port, called_number, \
             method, user_agent, transport_type, event_uuid, event_timestamp FROM honey",
            [],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                    row.get(9)?,
                ))
            },
        )
        .expect("one stored row");
    assert_eq!(row.0, "127.0.0.1", "source_ip has no port");
    assert_eq!(row.1, i64::from(client_address.port()));
    assert_eq!(row.2, "127.0.0.1");
    assert_eq!(row.3, i64::from(udp.port()));
    assert_eq!(
        (row.4.as_str(), row.5.as_str(), row.6.as_str()),
        ("1000", "OPTIONS", "tpot-smoke-test")
    );
    assert_eq!(row.7, "UDP");
    assert_eq!(row.8, field("event_uuid"));
    assert_eq!(row.9, field("event_timestamp"));
}

#[test]
fn tcp_connection_carries_two_messages_and_gets_two_replies() {
    let daemon = Daemon::builder().args(["-r"]).start();
    let tcp = daemon.tcp.expect("TCP listening");
    assert_eq!(
        Some(tcp.port()),
        daemon.udp.map(|a| a.port()),
        "UDP and TCP share the port"
    );
    let mut stream = TcpStream::connect(tcp).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let first = options("1001", "TCP", "first-agent", "tcp-1");
    // An INVITE with a body: Content-Length must be honoured to find the second message.
    let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let second = format!(
        "INVITE sip:0046812118532@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-2\r\n\
         From: <sip:a@127.0.0.1>;tag=2\r\nTo: <sip:0046812118532@127.0.0.1>\r\nCall-ID: tcp-2\r\n\
         CSeq: 1 INVITE\r\nUser-Agent: second-agent\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Both in one write: framing, not read boundaries, separates them.
    stream
        .write_all(format!("{first}{second}").as_bytes())
        .expect("write");
    let mut replies = String::new();
    let mut buffer = [0u8; 4096];
    // OPTIONS gets 200 OK; the default personality challenges the INVITE.
    while !(replies.contains("SIP/2.0 200 OK") && replies.contains("SIP/2.0 407 ")) {
        let read = stream.read(&mut buffer).expect("read reply");
        assert!(read > 0, "connection closed early: {replies}");
        replies.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    assert!(
        replies.contains("Call-ID: tcp-1@127.0.0.1\r\n") && replies.contains("Call-ID: tcp-2\r\n")
    );
    daemon.wait_for_probes(2);
    drop(stream);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let rows: Vec<(String, String, String, String, String)> = stopped.rows("SELECT method, called_number, user_agent, transport_type, sip_message FROM honey ORDER BY honey_id", |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        });
    assert_eq!(
        rows.len(),
        2,
        "two messages, two events (no empty-connection event)"
    );
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].3.as_str()),
        ("OPTIONS", "1001", "TCP")
    );
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].2.as_str()),
        ("INVITE", "0046812118532", "second-agent")
    );
    assert!(rows[1].4.ends_with(body), "body kept whole");
}

#[test]
fn passive_mode_records_without_replying() {
    let daemon = Daemon::builder().start();
    let udp = daemon.udp.expect("UDP listening");
    let client = udp_client();
    client
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .expect("timeout");
    client
        .send_to(options("1", "UDP", "passive", "p1").as_bytes(), udp)
        .expect("send");
    daemon.wait_for_probes(1);
    let mut buffer = [0u8; 2048];
    assert!(
        client.recv_from(&mut buffer).is_err(),
        "no reply without -r"
    );
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let method: String = stopped
        .db()
        .query_row("SELECT collected_method FROM honey", [], |r| r.get(0))
        .expect("row");
    assert_eq!(method, "passive");
}

#[test]
fn destination_ip_is_the_address_the_datagram_was_sent_to() {
    // Listen on all of 127.0.0.0/8 (0.0.0.0 would also do) and send to 127.0.0.2: the
    // recorded destination must be 127.0.0.2, not the listen address.
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-j", "--sip-listen-address", "0.0.0.0:0"])
        .start();
    let port = daemon.udp.expect("UDP listening").port();
    let target: SocketAddr = format!("127.0.0.2:{port}").parse().expect("address");
    let client = udp_client();
    let reply = udp_exchange(
        &client,
        target,
        options("42", "UDP", "dst", "d1").as_bytes(),
    );
    assert!(reply.starts_with(b"SIP/2.0 200 OK"));
    daemon.wait_for_probes(1);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let destination = stopped.json_log()[0]["destination_ip"]
        .as_str()
        .map(str::to_owned);
    assert_eq!(destination, Some(format!("127.0.0.2:{port}")));
}

#[test]
fn ipv6_listener_records_ipv6_and_ipv4_sources_without_ports() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    }
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-j", "--sip-listen-address", "[::]:0"])
        .start();
    let port = daemon.udp.expect("UDP listening").port();
    let v6 = std::net::UdpSocket::bind("[::1]:0").expect("bind v6");
    v6.set_read_timeout(Some(WAIT)).expect("timeout");
    let reply = udp_exchange(
        &v6,
        format!("[::1]:{port}").parse().expect("addr"),
        options("6", "UDP", "v6", "v6").as_bytes(),
    );
    assert!(reply.starts_with(b"SIP/2.0 200 OK"));
    let v4 = udp_client();
    let reply = udp_exchange(
        &v4,
        format!("127.0.0.1:{port}").parse().expect("addr"),
        options("4", "UDP", "v4", "v4").as_bytes(),
    );
    assert!(reply.starts_with(b"SIP/2.0 200 OK"));
    daemon.wait_for_probes(2);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let rows: Vec<(String, String)> = stopped.rows(
        "SELECT source_ip, destination_ip FROM honey ORDER BY honey_id",
        |r| Ok((r.get(0)?, r.get(1)?)),
    );
    assert_eq!(
        rows,
        vec![
            ("::1".to_owned(), "::1".to_owned()),
            ("127.0.0.1".to_owned(), "127.0.0.1".to_owned()),
        ]
    );
    let log = stopped.json_log();
    assert_eq!(
        log[0]["source_ip"].as_str(),
        Some(format!("[::1]:{}", v6.local_addr().expect("a").port()).as_str())
    );
}
