//! The small build (`--no-default-features`, README "Small build"): it captures over UDP and TCP
//! into SQLite, the JSON log and syslog, answers with the personalities, starts with the TLS
//! listener's defaults (saying it is off), and refuses a flag for a part it was built without
//! in one line, with the exit code of a configuration error; a build with the API but without
//! the other parts shows those parts in health as `null`, as the full build does when they are off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use serde_json::Value;

use crate::support::daemon::{BINARY, Daemon, WAIT};
use crate::support::http::health;
use crate::support::sip::{options, udp_client, udp_exchange};
use crate::support::small_build;

#[test]
fn the_small_build_captures_into_sqlite_the_json_log_and_syslog_and_answers() {
    let builder = Daemon::builder()
        .binary(small_build::binary())
        .without_defaults();
    let dir = builder.dir().to_path_buf();
    let syslog_path = dir.join("syslog.sock");
    let syslog = UnixDatagram::bind(&syslog_path).expect("bind syslog socket");
    syslog.set_read_timeout(Some(WAIT)).expect("timeout");
    // The TLS options at their defaults (no -N): the small build starts, TLS off.
    let daemon = builder
        .args(["--sip-listen-address", "127.0.0.1:0", "-r", "-j", "-s"])
        .args(["--syslog-address", &syslog_path.display().to_string()])
        .args(["-f", &dir.join("sentrypeer.db").display().to_string()])
        .start();
    assert!(
        daemon.logged("TLS listener off: built without the tls feature"),
        "{:?}",
        daemon.log_lines()
    );
    let udp = daemon.udp.expect("UDP listening");
    let probe = options("1000", "UDP", "small-build-udp", "small-udp-1");
    let reply =
        String::from_utf8(udp_exchange(&udp_client(), udp, probe.as_bytes())).expect("UTF-8 reply");
    assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");

    let tcp = daemon.tcp.expect("TCP listening");
    let mut stream = TcpStream::connect(tcp).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let probe = options("1001", "TCP", "small-build-tcp", "small-tcp-1");
    stream.write_all(probe.as_bytes()).expect("write");
    let mut buffer = [0u8; 4096];
    let read = stream.read(&mut buffer).expect("TCP reply");
    let reply = String::from_utf8_lossy(&buffer[..read]);
    assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");
    // Over TCP the default personality (FreePBX) names itself.
    assert!(reply.contains("FPBX-"), "{reply}");
    daemon.wait_for_probes(2);
    drop(stream);

    let mut datagram = vec![0u8; 4096];
    let length = syslog.recv(&mut datagram).expect("syslog line");
    let line = String::from_utf8_lossy(&datagram[..length]).into_owned();
    assert!(
        line.contains("Method: OPTIONS, Agent: small-build-"),
        "{line}"
    );

    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let log = stopped.json_log();
    let agents: Vec<&str> = log
        .iter()
        .map(|event| event["sip_user_agent"].as_str().expect("string"))
        .collect();
    assert_eq!(agents, ["small-build-udp", "small-build-tcp"]);
    assert_eq!(log[0]["transport_type"], "UDP");
    assert_eq!(log[0]["destination_ip"], udp.to_string());
    let rows = stopped.rows(
        "SELECT transport_type, user_agent, called_number FROM honey ORDER BY honey_id",
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        },
    );
    assert_eq!(
        rows,
        [
            ("UDP".into(), "small-build-udp".into(), "1000".into()),
            ("TCP".into(), "small-build-tcp".into(), "1001".into()),
        ]
    );
}

#[test]
fn a_flag_for_a_part_not_built_fails_in_one_line() {
    for (flags, line) in [
        (
            &["-a"][..],
            "sentrypeer: built without the api feature: -a/--api needs it",
        ),
        (
            &["-p"][..],
            "sentrypeer: built without the p2p feature: -p/--p2p needs it",
        ),
        (
            &["-z", "127.0.0.1:0"][..],
            "sentrypeer: built without the tls feature: -z/--tls-listen-address needs it",
        ),
    ] {
        let builder = Daemon::builder()
            .binary(small_build::binary())
            .without_defaults();
        let database = builder.dir().join("sentrypeer.db");
        let stopped = builder
            .args(["--sip-listen-address", "127.0.0.1:0"])
            .args(flags.iter().copied())
            .start()
            .wait_exit();
        assert_eq!(
            stopped.status.code(),
            Some(2),
            "{flags:?}: {:?}",
            stopped.log
        );
        assert_eq!(stopped.the_error_line(), line);
        assert!(!database.exists(), "nothing opened before the error");
    }
}

/// `/api/v1/health` has the same keys whatever was built: a binary with the API and no other
/// optional part shows each part it lacks as `null`, as the full binary does with those parts
/// switched off.
#[test]
fn health_has_the_same_keys_in_a_build_without_the_parts_that_report() {
    let health_of = |binary: &Path| {
        let builder = Daemon::builder().binary(binary).without_defaults();
        let database = builder.dir().join("sentrypeer.db").display().to_string();
        let daemon = builder
            .args(["--sip-listen-address", "127.0.0.1:0", "-N", "-f", &database])
            .args(["-a", "--api-listen-address", "127.0.0.1:0"])
            .start();
        let document = health(daemon.api.expect("API serving"));
        daemon.stop().assert_clean_exit();
        document
    };
    let full = health_of(Path::new(BINARY));
    let api_only = health_of(small_build::api_only_binary());
    for part in ["webhook", "p2p", "community", "opendht", "sip_agent", "bgp"] {
        assert_eq!(
            api_only.get(part),
            Some(&Value::Null),
            "{part}: {api_only:#}"
        );
    }
    assert_eq!(shape(&api_only), shape(&full), "{api_only:#}\n{full:#}");
}

/// The keys of `value` with each leaf's JSON type in place of its value.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| (key.clone(), shape(value)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::Array(items) => items.iter().map(shape).collect(),
        Value::Null => Value::Null,
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
    }
}
