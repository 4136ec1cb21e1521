//! The API against the running daemon over real sockets: on every route but the POST ones, every
//! method but GET/HEAD gets 405 with `Allow` from `curl` (no body, `Content-Length`, chunked) and
//! writes nothing; header names go out in the original's case (raw bytes); the original's
//! placeholder routes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;

use sentrypeer::api::{DOCUMENTED_ROUTES, POST_ROUTES};

use crate::support::daemon::{Daemon, WAIT};
use crate::support::sip::{options, udp_client};

/// The 405 body.
const METHOD_NOT_ALLOWED: &str = r#"{"error": "Method not allowed: this API only answers GET."}"#;
/// Ends each transfer's output when one `curl` fetches many URLs.
const TRANSFER_END: &str = "\n--transfer-end--\n";

/// A daemon serving the API (CrowdSec routes on) with one probe stored.
fn daemon_with_one_probe() -> (Daemon, SocketAddr) {
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["--crowdsec-api-key", "bouncer-key"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let probe = options("100", "UDP", "friendly-scanner", "compat");
    udp_client()
        .send_to(probe.as_bytes(), udp)
        .expect("send OPTIONS");
    daemon.wait_for_stored(1);
    let api = daemon.api.expect("API listening");
    (daemon, api)
}

/// Rows in the tables a write through the API would touch: the events and their aggregates.
fn row_counts(database: &Path) -> Vec<(&'static str, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open database read-only");
    ["honey", "ip_addresses", "called_numbers"]
        .into_iter()
        .map(|table| {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let count = conn.query_row(&sql, [], |row| row.get(0));
            (table, count.expect("count rows"))
        })
        .collect()
}

/// One transfer of a multi-URL `curl -i`: status line, header lines as sent, body.
struct Transfer {
    status_line: String,
    headers: Vec<String>,
    body: String,
}

/// Runs `curl -i` with `args` on every URL in turn (one process, one connection where curl can)
/// and splits its output per transfer.
fn curl_each(api: SocketAddr, paths: &[String], args: &[&str]) -> Vec<Transfer> {
    let output = Command::new("curl")
        .args(["-s", "-i", "--max-time", &WAIT.as_secs().to_string()])
        .args(["-H", "X-Api-Key: bouncer-key", "-w", TRANSFER_END])
        .args(args)
        .args(paths.iter().map(|path| format!("http://{api}{path}")))
        .output()
        .expect("run curl (apt-get install curl)");
    let text = String::from_utf8_lossy(&output.stdout);
    let transfers: Vec<Transfer> = text
        .split_terminator(TRANSFER_END)
        .map(|transfer| {
            let (head, body) = transfer.split_once("\r\n\r\n").unwrap_or((transfer, ""));
            let mut lines = head.split("\r\n").map(str::to_owned);
            Transfer {
                status_line: lines.next().unwrap_or_default(),
                headers: lines.collect(),
                body: body.to_owned(),
            }
        })
        .collect();
    assert_eq!(
        transfers.len(),
        paths.len(),
        "one answer per URL for curl {args:?}: {text}"
    );
    transfers
}

#[test]
fn every_unserved_method_gets_405_from_the_daemon_and_nothing_is_written() {
    let (daemon, api) = daemon_with_one_probe();
    let database = daemon.path("sentrypeer.db");
    let before = row_counts(&database);
    assert_eq!(
        before,
        [("honey", 1), ("ip_addresses", 1), ("called_numbers", 1)],
        "the probe and its aggregates are stored"
    );
    // The POST routes (`/oauth/token`) answer other methods with `Allow: POST`: their own tests.
    let paths: Vec<String> = DOCUMENTED_ROUTES
        .iter()
        .filter(|route| !POST_ROUTES.contains(route))
        .map(|route| {
            route
                .replace("{ip}", "127.0.0.1")
                .replace("{number}", "100")
        })
        .collect();
    let body = r#"{"ip_address": "127.0.0.1", "delete": true}"#;
    let json = "Content-Type: application/json";
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"] {
        let payloads: [(&str, Vec<&str>); 3] = [
            ("no body", vec!["-X", method]),
            (
                "Content-Length",
                vec!["-X", method, "-H", json, "--data-raw", body],
            ),
            (
                "chunked",
                vec![
                    "-X",
                    method,
                    "-H",
                    json,
                    "-H",
                    "Transfer-Encoding: chunked",
                    "--data-raw",
                    body,
                ],
            ),
        ];
        for (payload, args) in payloads {
            for (path, answer) in paths.iter().zip(curl_each(api, &paths, &args)) {
                let what = format!("{method} {path} ({payload})");
                assert_eq!(
                    answer.status_line, "HTTP/1.1 405 Method Not Allowed",
                    "{what}"
                );
                assert!(
                    answer.headers.iter().any(|line| line == "Allow: GET, HEAD"),
                    "{what}: {:?}",
                    answer.headers
                );
                assert_eq!(answer.body, METHOD_NOT_ALLOWED, "{what}");
            }
        }
    }
    assert_eq!(
        row_counts(&database),
        before,
        "nothing written while running"
    );
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    assert_eq!(
        row_counts(&stopped.path("sentrypeer.db")),
        before,
        "nothing written at all"
    );
}

/// Sends a bare GET for `path` with `Connection: close` and returns the raw response.
fn raw_get(api: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(api).expect("connect to the API");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    String::from_utf8(response).expect("UTF-8 response")
}

#[test]
fn the_daemon_writes_the_originals_header_names_and_placeholder_routes() {
    let (daemon, api) = daemon_with_one_probe();
    let version = format!(
        "\r\nX-SentryPeer-Version: {}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (path, content_type, body) in [
        ("/health-check", "text/html", None),
        ("/numbers", "application/json", None),
        ("/countries", "text/html", Some("/countries")),
        ("/user-agents", "text/html", Some("/user-agents")),
        ("/sip-methods", "text/html", Some("/sip-methods")),
        (
            "/user-agents/:user_agent",
            "text/html",
            Some("/user-agents/:user_agent"),
        ),
    ] {
        let response = raw_get(api, path);
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        for line in [
            "\r\nAccess-Control-Allow-Origin: *\r\n",
            "\r\nX-Powered-By: SentryPeer\r\n",
            version.as_str(),
            &format!("\r\nContent-Type: {content_type}\r\n"),
        ] {
            assert!(response.contains(line), "{line:?} in:\n{response}");
        }
        if let Some(body) = body {
            assert!(response.ends_with(&format!("\r\n\r\n{body}")), "{response}");
        }
    }
    let agents = raw_get(api, "/api/v1/user-agents");
    assert!(
        agents.ends_with(
            "{\n  \"items\": [\n    {\n      \"user_agent\": \"friendly-scanner\",\n      \"count\": 1\n    }\n  ]\n}"
        ),
        "{agents}"
    );
    // What a script does: `curl -i ... | grep X-SentryPeer-Version`, case-sensitively.
    let curl = Command::new("curl")
        .args(["-s", "-i", &format!("http://{api}/")])
        .output()
        .expect("run curl");
    let head = String::from_utf8_lossy(&curl.stdout);
    assert!(head.contains(&version[2..]), "{head}");
    daemon.stop().assert_clean_exit();
}
