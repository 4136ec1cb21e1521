//! A minimal CrowdSec LAPI for the bouncer's self-tests: this test binary started again inside a
//! namespace (child role `lapi-stub`), with std only. Bodies to serve arrive on its stdin, one
//! per line; what it sees (requests, datagrams) it prints on stdout, one line each.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::daemon::WAIT;
use crate::support::namespaces::{NetNs, NsProcess, child_says, self_child};

/// The API key the stub accepts, passed to its process.
const STUB_KEY_ENV: &str = "SENTRYPEER_STUB_API_KEY";
/// The answer to a stream poll when nothing is queued.
pub(crate) const EMPTY_DELTA: &str = r#"{"new":null,"deleted":null}"#;

/// One request the stub saw.
#[derive(Clone, Debug, serde::Deserialize)]
pub(crate) struct StubRequest {
    pub(crate) method: String,
    /// Path and query as sent, e.g. `/v1/decisions/stream?startup=true`.
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl StubRequest {
    /// A header's value (name case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal CrowdSec LAPI inside a namespace: `GET /v1/decisions/stream` answers the next
/// queued body (see [`LapiStub::push`]) or [`EMPTY_DELTA`]; a wrong or missing `X-Api-Key` gets
/// 403 and anything else 404, like LAPI. It also records UDP datagrams on [`LapiStub::udp_port`]
/// (all addresses), to show whether packets get through the firewall.
pub(crate) struct LapiStub<'ns> {
    pub(crate) process: NsProcess<'ns>,
    /// Where it listens, on the namespace's loopback.
    pub(crate) addr: SocketAddr,
    /// Its UDP port, on every address of the namespace.
    pub(crate) udp_port: u16,
    pushed: usize,
}

impl<'ns> LapiStub<'ns> {
    /// Starts it in `ns`, accepting `api_key`.
    pub(crate) fn start(ns: &'ns NetNs, api_key: &str) -> LapiStub<'ns> {
        let mut command = self_child(ns, "lapi-stub");
        command.env(STUB_KEY_ENV, api_key);
        let process = NsProcess::spawn(ns, "lapi-stub", command, true);
        let deadline = Instant::now() + WAIT;
        let ready = process.wait_for_lines(deadline, |lines| {
            lines.iter().any(|l| l.starts_with("STUB-UDP "))
                && lines.iter().any(|l| l.starts_with("STUB-TCP "))
        });
        assert!(ready, "LAPI stub did not start\n{}", process.log_text());
        let find = |prefix: &str| {
            process
                .lines()
                .iter()
                .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
                .expect("stub address line")
        };
        let addr = find("STUB-TCP ").parse().expect("stub TCP address");
        let udp_port = find("STUB-UDP ").parse().expect("stub UDP port");
        LapiStub {
            process,
            addr,
            udp_port,
            pushed: 0,
        }
    }

    /// `http://127.0.0.1:PORT/`, for the bouncer's `api_url`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Queues one stream answer (a single-line JSON body) and waits until the stub has it.
    pub(crate) fn push(&mut self, body: &str) {
        assert!(!body.contains('\n'), "one line per body");
        self.process.send_line(body);
        self.pushed += 1;
        let ack = format!("STUB-QUEUED {}", self.pushed);
        assert!(
            self.process.wait_for_line(&ack, Instant::now() + WAIT),
            "stub did not queue the body\n{}",
            self.process.log_text()
        );
    }

    /// The requests seen so far, in order.
    pub(crate) fn requests(&self) -> Vec<StubRequest> {
        self.process
            .lines()
            .iter()
            .filter_map(|l| l.strip_prefix("STUB-REQUEST "))
            .map(|json| serde_json::from_str(json).expect("stub request line"))
            .collect()
    }

    /// Waits until it has seen `count` requests.
    pub(crate) fn wait_for_requests(&self, count: usize, deadline: Instant) -> bool {
        self.process.wait_for_lines(deadline, |lines| {
            lines
                .iter()
                .filter(|l| l.starts_with("STUB-REQUEST "))
                .count()
                >= count
        })
    }

    /// How many UDP datagrams came from `ip`.
    pub(crate) fn datagrams_from(&self, ip: IpAddr) -> usize {
        datagram_count(&self.process.lines(), ip)
    }

    /// Waits until `count` datagrams came from `ip`.
    pub(crate) fn wait_for_datagrams_from(
        &self,
        ip: IpAddr,
        count: usize,
        deadline: Instant,
    ) -> bool {
        self.process
            .wait_for_lines(deadline, |lines| datagram_count(lines, ip) >= count)
    }
}

fn datagram_count(lines: &[String], ip: IpAddr) -> usize {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("STUB-DATAGRAM "))
        .filter(|from| {
            from.parse::<IpAddr>()
                .is_ok_and(|from| from == ip.to_canonical())
        })
        .count()
}

/// The stub's own process (the `lapi-stub` child role), inside the namespace: serves until its
/// stdin ends.
pub(crate) fn serve() -> ! {
    let api_key = std::env::var(STUB_KEY_ENV).unwrap_or_default();
    let queue: Arc<Mutex<std::collections::VecDeque<String>>> = Arc::default();

    let udp = UdpSocket::bind("[::]:0").expect("bind UDP (dual stack)");
    child_says(&format!(
        "STUB-UDP {}",
        udp.local_addr().expect("UDP address").port()
    ));
    std::thread::spawn(move || {
        let mut buffer = [0u8; 2048];
        while let Ok((_, from)) = udp.recv_from(&mut buffer) {
            child_says(&format!("STUB-DATAGRAM {}", from.ip().to_canonical()));
        }
    });

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind LAPI stub");
    child_says(&format!(
        "STUB-TCP {}",
        listener.local_addr().expect("TCP address")
    ));
    let server_queue = Arc::clone(&queue);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let queue = Arc::clone(&server_queue);
            let api_key = api_key.clone();
            std::thread::spawn(move || {
                if let Err(e) = serve_one(stream, &api_key, &queue) {
                    child_says(&format!("STUB-ERROR {e}"));
                }
            });
        }
    });

    // Bodies to serve arrive on stdin, one per line; end of stdin ends the stub.
    let mut count = 0usize;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        queue.lock().expect("queue").push_back(line);
        count += 1;
        child_says(&format!("STUB-QUEUED {count}"));
    }
    std::process::exit(0)
}

/// Reads one HTTP/1.1 request, answers it and closes the connection.
fn serve_one(
    stream: TcpStream,
    api_key: &str,
    queue: &Mutex<std::collections::VecDeque<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    child_says(&format!(
        "STUB-REQUEST {}",
        serde_json::json!({ "method": method, "target": target, "headers": headers })
    ));

    let path = target.split('?').next().unwrap_or_default();
    let (status, body) = if header("x-api-key").as_deref() != Some(api_key) {
        (
            "403 Forbidden",
            r#"{"message":"access forbidden"}"#.to_owned(),
        )
    } else if method == "GET" && path == "/v1/decisions/stream" {
        let next = queue.lock().expect("queue").pop_front();
        ("200 OK", next.unwrap_or_else(|| EMPTY_DELTA.to_owned()))
    } else {
        ("404 Not Found", r#"{"message":"not found"}"#.to_owned())
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
