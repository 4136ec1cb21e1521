//! Hostile set-ups and clients around the daemon's files and its token (issue 21): a database
//! path that is a dangling symbolic link ends with private files, a JSON log path that is a FIFO
//! stops start-up with one line instead of hanging it, the API token can come from a file and
//! its `Bearer` scheme is matched in any case, a TCP connection sending only CRLF keep-alives
//! still ends at the idle timeout, and IPv6 sources of one /64 share one per-source cap (in a
//! network namespace of our own, where the test can hold several addresses).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::support::daemon::{Daemon, WAIT, listening_address};
use crate::support::http::curl;
use crate::support::namespaces::{NsProcess, daemon_in, new_ns};
use crate::support::prerequisites::root_ready;
use crate::support::sip::{options, udp_client};

#[test]
fn a_database_path_that_is_a_dangling_symlink_ends_with_private_files() {
    let builder = Daemon::builder();
    let data = builder.dir().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let link = builder.dir().join("link.db");
    std::os::unix::fs::symlink("data/real.db", &link).expect("dangling symlink");
    let daemon = builder
        .args(["-f", link.to_str().expect("UTF-8 path")])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    udp_client()
        .send_to(options("100", "UDP", "link", "link-1").as_bytes(), udp)
        .expect("send probe");
    daemon.wait_for_stored(1);
    // While it runs, so the WAL and shared-memory files exist.
    for name in ["real.db", "real.db-wal", "real.db-shm"] {
        let meta = std::fs::metadata(data.join(name)).expect(name);
        let actual = meta.permissions().mode() & 0o777;
        assert_eq!(actual, 0o600, "{name} is {actual:o}");
    }
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the link is left a link"
    );
    daemon.stop().assert_clean_exit();
}

#[test]
fn a_json_log_path_that_is_a_fifo_stops_start_up_with_one_line() {
    let builder = Daemon::builder();
    let fifo = builder.dir().join("events.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo");
    let started = Instant::now();
    let stopped = builder
        .args(["--json-log-file", fifo.to_str().expect("UTF-8 path")])
        .start()
        .wait_exit();
    assert!(started.elapsed() < WAIT, "did not hang");
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.log.join("\n"));
    let error = stopped.the_error_line();
    assert!(error.contains("FIFO"), "{error}");
    assert!(error.contains(&fifo.display().to_string()), "{error}");
}

#[test]
fn the_api_token_comes_from_a_file_and_bearer_is_matched_in_any_case() {
    let builder = Daemon::builder();
    let token_file = builder.dir().join("api.token");
    std::fs::write(&token_file, "s3cret-from-a-file\n").expect("token file");
    let daemon = builder
        .args([
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
            "--api-token-file",
        ])
        .args([token_file.to_str().expect("path")])
        .start();
    let api = daemon.api.expect("API listening");
    let status = |authorization: &str| {
        let header = format!("Authorization: {authorization}");
        curl(api, "/api/v1/health", &["-H", &header]).status
    };
    assert_eq!(curl(api, "/api/v1/health", &[]).status, 401);
    assert_eq!(status("Bearer wrong"), 401);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        assert_eq!(
            status(&format!("{scheme} s3cret-from-a-file")),
            200,
            "{scheme}"
        );
    }
    assert!(
        !std::fs::read_to_string(format!("/proc/{}/cmdline", daemon.pid()))
            .expect("cmdline")
            .contains("s3cret"),
        "the token is not on the command line"
    );
    daemon.stop().assert_clean_exit();
}

#[test]
fn a_connection_sending_only_keep_alives_ends_at_the_idle_timeout() {
    let daemon = Daemon::builder().args(["--tcp-idle-timeout", "1"]).start();
    let tcp = daemon.tcp.expect("TCP listening");
    let mut stream = TcpStream::connect(tcp).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let deadline = Instant::now() + WAIT;
    let mut buffer = [0u8; 64];
    let closed = loop {
        if Instant::now() >= deadline {
            break false;
        }
        // A keep-alive every 100 ms, ten within the idle timeout.
        if stream.write_all(b"\r\n\r\n").is_err() {
            break true;
        }
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
    };
    assert!(
        closed,
        "keep-alives held the connection open past the deadline"
    );
    // What it sent is recorded: one empty probe.
    daemon.wait_for_stored(1);
    daemon.stop().assert_clean_exit();
}

/// Connects to the SIP port from each address given (in order), says `connected`, and closes
/// them all when told `close` on stdin.
const HOLD_CONNECTIONS: &str = r#"
import socket, sys
server, port, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
held = []
for source in sources:
    conn = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    conn.bind((source, 0))
    conn.connect((server, port))
    held.append(conn)
print("connected", flush=True)
sys.stdin.readline()
for conn in held:
    conn.close()
print("closed", flush=True)
"#;

#[test]
fn ipv6_sources_of_one_prefix_share_the_per_source_cap() {
    if !root_ready("IPv6 per-source cap test", &["ip", "python3"]) {
        return;
    }
    let ns = new_ns();
    let server = "2001:db8:0:9::1";
    let same_prefix = ["2001:db8:0:1::a", "2001:db8:0:1::b", "2001:db8:0:1::c"];
    let other_prefix = "2001:db8:0:2::a";
    for address in [server, other_prefix].iter().chain(&same_prefix) {
        ns.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{address}/64"),
            "dev",
            "lo",
            "nodad",
        ])
        .expect("address on the namespace's loopback");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = daemon_in(&ns, dir.path());
    command
        .args(["-N", "--sip-listen-address", &format!("[{server}]:0")])
        .args(["--sip-max-connections-per-source", "2"])
        .args(["-f", "sentrypeer.db"]);
    let mut daemon = NsProcess::spawn(&ns, "sentrypeer", command, false);
    let deadline = Instant::now() + WAIT;
    assert!(
        daemon.wait_for_line("sentrypeer ready", deadline),
        "{}",
        daemon.log_text()
    );
    let port = listening_address(&daemon.lines(), "TCP")
        .expect("TCP port")
        .port();
    let mut client_command = ns.command("python3");
    client_command
        .args(["-c", HOLD_CONNECTIONS, server, &port.to_string()])
        .args(same_prefix)
        .arg(other_prefix);
    let mut client = NsProcess::spawn(&ns, "client", client_command, true);
    assert!(
        client.wait_for_line("connected", deadline),
        "{}",
        client.log_text()
    );
    let refused = "connection refused: source at its connection cap";
    assert!(
        daemon.wait_for_line(refused, deadline),
        "the third address of one /64 was let in: {}",
        daemon.log_text()
    );
    client.send_line("close");
    assert!(
        client.wait_for_line("closed", deadline),
        "{}",
        client.log_text()
    );
    // The other /64 was served; of the first, two were, the third refused.
    let closed_from = |address: &str| {
        daemon.wait_for_lines(deadline, |lines| {
            lines
                .iter()
                .any(|l| l.contains("connection closed") && l.contains(address))
        })
    };
    assert!(closed_from(other_prefix), "{}", daemon.log_text());
    assert!(closed_from(same_prefix[0]) && closed_from(same_prefix[1]));
    let lines = daemon.lines();
    let refusals: Vec<&String> = lines.iter().filter(|l| l.contains(refused)).collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(refusals[0].contains(same_prefix[2]), "{}", refusals[0]);
    drop(client);
    daemon.terminate(WAIT);
}
