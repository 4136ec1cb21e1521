//! HTTP to the daemon's API with the real `curl`: status, headers and body of a request; the
//! health document, and waiting on it.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use super::daemon::WAIT;

/// `curl -i` output: status code, lower-cased header lines, body.
pub(crate) struct Curl {
    pub(crate) status: u16,
    headers: Vec<String>,
    pub(crate) body: String,
}

impl Curl {
    /// A header's value (`name` in lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.headers
            .iter()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
    }
}

/// `curl -s -i` of `path` on `api`, with `extra` arguments before the URL.
pub(crate) fn curl(api: SocketAddr, path: &str, extra: &[&str]) -> Curl {
    let mut command = Command::new("curl");
    command
        .args(["-s", "-i", "--max-time", "20"])
        .args(extra)
        .arg(format!("http://{api}{path}"));
    let output = command.output().expect("run curl (apt-get install curl)");
    let text = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap_or((line, ""));
            format!("{}: {value}", name.to_ascii_lowercase())
        })
        .collect();
    Curl {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The JSON body of a `200` answer to `path`.
pub(crate) fn get_json(api: SocketAddr, path: &str) -> serde_json::Value {
    let answer = curl(api, path, &[]);
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    serde_json::from_str(&answer.body).expect("JSON body")
}

/// `/api/v1/health` as JSON.
pub(crate) fn health(api: SocketAddr) -> serde_json::Value {
    get_json(api, "/api/v1/health")
}

/// Polls `/api/v1/health` until `done` holds (what it waits for has no log line, e.g. a
/// connection count), failing the test after [`WAIT`]; returns the document that satisfied it.
pub(crate) fn wait_for_health(
    api: SocketAddr,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let details = health(api);
        if done(&details) {
            return details;
        }
        assert!(
            Instant::now() < deadline,
            "health never got there: {details}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `details["connections"][key][transport]` (`TCP` or `TLS`).
pub(crate) fn counter(details: &serde_json::Value, key: &str, transport: &str) -> u64 {
    details["connections"][key][transport]
        .as_u64()
        .unwrap_or_else(|| panic!("connections.{key}.{transport} in {details}"))
}
