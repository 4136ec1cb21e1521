//! A real OpenDHT node with its REST proxy (`dhtnode -s -v -p PORT --proxyserver PORT`, Debian's
//! `dhtnode` 2.4.12) on loopback, and the original's client side through `python3-opendht`.
//!
//! dhtnode cannot be told to pick its own proxy port and say which, so a free port is found by
//! binding port 0 and closing it; the node is accepted only once its proxy answers `GET /` with
//! the node id it logged, so a port another process took in between is noticed (dhtnode then
//! exits with "Address already in use", or the id differs) and another port is tried.

use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::daemon::WAIT;
use super::prerequisites;
use super::process::{Output, signal};

/// The original's 13 JSON keys in the C build's order (the compatibility surface the library
/// pins in its own tests).
pub(crate) use sentrypeer::event::ORIGINAL_JSON_KEYS;

/// The original's key.
pub(crate) const BAD_ACTORS: &str = "bad_actors";
/// Set to make missing `dhtnode` / `python3-opendht` a failure instead of a skip.
pub(crate) const REQUIRE_OPENDHT: &str = "SENTRYPEER_REQUIRE_OPENDHT";
/// Debian's interpreter: `python3-opendht` is installed for it only.
const PYTHON: &str = "/usr/bin/python3";

/// A running dhtnode; killed (by PID) when dropped.
pub(crate) struct DhtNode {
    child: Child,
    output: Arc<Output>,
    /// The REST proxy's port (on every address, loopback included).
    pub(crate) proxy_port: u16,
    /// The DHT's UDP port.
    pub(crate) dht_port: u16,
}

/// Whether `dhtnode` and `python3-opendht` are installed (or say why the test skips).
pub(crate) fn ready() -> bool {
    let mut missing = Vec::new();
    if !prerequisites::on_path("dhtnode") {
        missing.push("dhtnode".to_owned());
    }
    let python = Command::new(PYTHON)
        .args(["-c", "import opendht"])
        .stderr(Stdio::null())
        .status();
    if !python.is_ok_and(|status| status.success()) {
        missing.push("python3-opendht".to_owned());
    }
    prerequisites::ready(
        "OpenDHT test (apt-get install dhtnode python3-opendht)",
        REQUIRE_OPENDHT,
        &missing,
    )
}

impl DhtNode {
    /// Starts a node on free loopback-reachable ports.
    pub(crate) fn start() -> Self {
        for _ in 0..8 {
            if let Some(node) = Self::try_start(free_tcp_port(), free_udp_port()) {
                return node;
            }
        }
        panic!("dhtnode did not start on any of 8 free ports");
    }

    /// Kills the node and starts a new one on the same ports (a proxy restart, as an operator's
    /// `systemctl restart` does).
    pub(crate) fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(node) = Self::try_start(self.proxy_port, self.dht_port) {
                *self = node;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "dhtnode did not restart on its ports"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the node (SIGKILL) and waits for it.
    pub(crate) fn kill(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            signal(self.child.id(), "KILL");
        }
        let _ = self.child.wait();
    }

    /// The proxy's base URL.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy_port)
    }

    /// What the node printed so far.
    pub(crate) fn log_lines(&self) -> Vec<String> {
        self.output.lines()
    }

    fn try_start(proxy_port: u16, dht_port: u16) -> Option<Self> {
        let mut child = Command::new("dhtnode")
            .args(["-s", "-v", "-p", &dht_port.to_string()])
            .args(["--proxyserver", &proxy_port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dhtnode");
        let output = Arc::new(Output::default());
        let streams: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        drop(output.read_from("dhtnode", streams));
        let mut node = Self {
            child,
            output,
            proxy_port,
            dht_port,
        };
        let started = node.output.wait_for(Instant::now() + WAIT, |lines| {
            lines
                .iter()
                .any(|l| l.contains("server started on") || l.contains("failed to start"))
        });
        let lines = node.log_lines();
        let logged_id = lines.iter().find_map(|line| {
            line.split("DHT node initialised with ID ")
                .nth(1)
                .map(|id| id.trim().to_owned())
        });
        let ours = started
            && !lines.iter().any(|l| l.contains("failed to start"))
            && logged_id.is_some()
            && node.answered_id() == logged_id;
        if ours {
            Some(node)
        } else {
            node.kill();
            None
        }
    }

    /// The `node_id` the proxy's `GET /` answers.
    fn answered_id(&self) -> Option<String> {
        let out = Command::new("curl")
            .args(["-s", "-m", "5", &format!("{}/", self.url())])
            .output()
            .ok()?;
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        info["node_id"].as_str().map(str::to_owned)
    }

    /// Puts `value` under `key` from a python3-opendht node of its own, bootstrapped from this
    /// node (as an original SentryPeer puts its events).
    pub(crate) fn python_put(&self, key: &str, value: &[u8]) {
        let script = "
import sys, opendht
node = opendht.DhtRunner()
node.run(port=0)
node.bootstrap('127.0.0.1', sys.argv[1])
ok = node.put(opendht.InfoHash.get(sys.argv[2]), opendht.Value(sys.stdin.buffer.read()))
node.join()
print('put', ok)
";
        let out = self.python(script, &[key], value);
        assert!(
            out.contains("put True"),
            "python3-opendht put failed: {out}"
        );
    }

    /// The values stored under `key`, as a python3-opendht node of its own gets them (one
    /// `get`, retried until `until` holds or [`WAIT`] passes).
    pub(crate) fn python_get(&self, key: &str, until: impl Fn(&[Vec<u8>]) -> bool) -> Vec<Vec<u8>> {
        let script = "
import sys, base64, opendht
node = opendht.DhtRunner()
node.run(port=0)
node.bootstrap('127.0.0.1', sys.argv[1])
for value in node.get(opendht.InfoHash.get(sys.argv[2])):
    print(base64.b64encode(bytes(value.data)).decode())
node.join()
";
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self.python(script, &[key], b"");
            let values: Vec<Vec<u8>> = out
                .lines()
                .filter_map(|line| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(line).ok()
                })
                .collect();
            if until(&values) || Instant::now() > deadline {
                return values;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn python(&self, script: &str, args: &[&str], stdin: &[u8]) -> String {
        use std::io::Write;
        let mut child = Command::new(PYTHON)
            .args(["-c", script, &self.dht_port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python3");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("write stdin");
        let out = child.wait_with_output().expect("python3 ran");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for DhtNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP port free on every address right now.
fn free_tcp_port() -> u16 {
    TcpListener::bind("[::]:0")
        .or_else(|_| TcpListener::bind("0.0.0.0:0"))
        .and_then(|listener| listener.local_addr())
        .expect("free TCP port")
        .port()
}

/// A UDP port free right now.
fn free_udp_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| socket.local_addr())
        .expect("free UDP port")
        .port()
}
