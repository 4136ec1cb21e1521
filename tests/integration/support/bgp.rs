//! The BGP blackhole feed's world: three namespaces of our own (attacker ─ router ─ honeypot,
//! the router forwarding between them), the daemon in the honeypot namespace with `--bgp`, and
//! real routers in the router namespace: BIRD 2 (`bird`, `birdc`), GoBGP (`gobgpd`, `gobgp`) and
//! FRR's `bgpd` (`vtysh`), configured from `tests/fixtures/bgp/`. TCP and UDP probes come from a chosen attacker address
//! (this test binary run again as the `probe-send` child).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::daemon::WAIT;
use super::namespaces::{NetNs, NsProcess, child_said, child_says, daemon_in, new_ns, self_child};
use super::prerequisites::root_ready;

mod frr;

pub(crate) use frr::{BGPD, Frr};

/// The router's address towards the honeypot (the BGP peer of the daemon).
pub(crate) const ROUTER: &str = "198.51.100.1";
/// The honeypot's address.
pub(crate) const HONEYPOT: &str = "198.51.100.2";
/// The honeypot's IPv6 address.
pub(crate) const HONEYPOT_V6: &str = "2001:db8:b::2";
/// The attacker's addresses: the one that gets blackholed, and one on the never-announce list.
pub(crate) const ATTACKER: &str = "203.0.113.7";
pub(crate) const ATTACKER_NEVER: &str = "203.0.113.8";
/// More attacker addresses (for the cap).
pub(crate) const ATTACKER_MORE: [&str; 2] = ["203.0.113.9", "203.0.113.10"];
/// The attacker's IPv6 addresses.
pub(crate) const ATTACKER_V6: &str = "2001:db8:a::7";
pub(crate) const ATTACKER_V6_NEVER: &str = "2001:db8:a::8";
/// Our AS and the router's.
pub(crate) const DAEMON_AS: u32 = 64512;
pub(crate) const ROUTER_AS: u32 = 65001;

const PROBE_SOURCE_ENV: &str = "SENTRYPEER_PROBE_SOURCE";
const PROBE_TARGET_ENV: &str = "SENTRYPEER_PROBE_TARGET";
const PROBE_PAYLOAD_ENV: &str = "SENTRYPEER_PROBE_PAYLOAD";
const PROBE_UDP_ENV: &str = "SENTRYPEER_PROBE_UDP";
/// How long a TCP probe waits to connect before it counts as blocked.
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether a BGP test can run: root, `ip` and `tools` ([`super::prerequisites::REQUIRE_ROOT`]).
pub(crate) fn bgp_ready(tools: &[&str]) -> bool {
    root_ready(
        "BGP test (apt-get install bird2 gobgpd iproute2 nftables)",
        &[&["ip", "curl"], tools].concat(),
    )
}

/// Attacker, router and honeypot namespaces, the router forwarding between the other two.
pub(crate) struct Topology {
    pub(crate) attacker: NetNs,
    pub(crate) router: NetNs,
    pub(crate) honeypot: NetNs,
}

impl Topology {
    pub(crate) fn new() -> Topology {
        let topology = Topology {
            attacker: new_ns(),
            router: new_ns(),
            honeypot: new_ns(),
        };
        let attacker_addresses: Vec<String> = [ATTACKER, ATTACKER_NEVER]
            .iter()
            .chain(&ATTACKER_MORE)
            .map(|ip| format!("{ip}/24"))
            .chain([ATTACKER_V6, ATTACKER_V6_NEVER].map(|ip| format!("{ip}/64")))
            .collect();
        let attacker_addresses: Vec<&str> = attacker_addresses.iter().map(String::as_str).collect();
        (topology.router)
            .connect(
                &topology.attacker,
                &["203.0.113.1/24", "2001:db8:a::1/64"],
                &attacker_addresses,
            )
            .expect("veth router-attacker");
        (topology.router)
            .connect(
                &topology.honeypot,
                &[&format!("{ROUTER}/24"), "2001:db8:b::1/64"],
                &[&format!("{HONEYPOT}/24"), &format!("{HONEYPOT_V6}/64")],
            )
            .expect("veth router-honeypot");
        for (ns, v4, v6) in [
            (&topology.attacker, "203.0.113.1", "2001:db8:a::1"),
            (&topology.honeypot, ROUTER, "2001:db8:b::1"),
        ] {
            ns.ip(&["route", "add", "default", "via", v4])
                .expect("IPv4 default route");
            ns.ip(&["-6", "route", "add", "default", "via", v6])
                .expect("IPv6 default route");
        }
        for setting in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
            sysctl(&topology.router, setting);
        }
        topology
    }

    /// Turns on reverse-path filtering in the router: strict `rp_filter` for IPv4 (the kernel
    /// takes the highest of `all` and the interface's own), and its
    /// IPv6 equivalent in nftables (`fib saddr . iif oif missing drop`): a packet whose source
    /// has no usable route back through the interface it came in on (a blackhole) is dropped.
    pub(crate) fn enable_rp_filter(&self) {
        for setting in [
            "net.ipv4.conf.all.rp_filter=1",
            "net.ipv4.conf.default.rp_filter=1",
        ] {
            sysctl(&self.router, setting);
        }
        let rules = "table ip6 sentrypeer_rpf {\n chain prerouting {\n  type filter hook prerouting priority -300; policy accept;\n  fib saddr . iif oif missing drop\n }\n}\n";
        let output = self.router.run_with_input("nft", &["-f", "-"], rules);
        assert!(
            output.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The router's kernel route for `ip` (`ip route show` of its host route).
    pub(crate) fn router_kernel_route(&self, ip: &str) -> String {
        let family = if ip.contains(':') { "-6" } else { "-4" };
        let output = self.router.run("ip", &[family, "route", "show", ip]);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

fn sysctl(ns: &NetNs, setting: &str) {
    let output = ns.run("sysctl", &["-qw", setting]);
    assert!(output.status.success(), "sysctl {setting}: {output:?}");
}

/// A fixture file under `tests/fixtures/bgp/` with `@NAME@` placeholders replaced.
pub(crate) fn fixture(name: &str, values: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bgp")
        .join(name);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (name, value) in values {
        text = text.replace(&format!("@{name}@"), value);
    }
    text
}

/// The daemon in the honeypot namespace with `config` as its TOML file; SIP on every address
/// (TCP and UDP, IPv4 and IPv6), special-purpose addresses counting (the test uses documentation
/// ranges), the API on loopback. Returns once it is ready, with its SIP port and API address.
pub(crate) fn start_daemon<'ns>(
    ns: &'ns NetNs,
    dir: &Path,
    config: &str,
    extra: &[&str],
) -> (NsProcess<'ns>, u16, SocketAddr) {
    let file = dir.join("sentrypeer.toml");
    std::fs::write(&file, config).expect("write the config");
    let mut command = daemon_in(ns, dir);
    command
        .args(["-g", file.to_str().expect("utf-8 path")])
        .args([
            "-N",
            "--sip-listen-address",
            "[::]:0",
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
        ])
        .args(["--verdict-include-special-addresses"])
        .args(extra);
    let daemon = NsProcess::spawn(ns, "sentrypeer", command, false);
    assert!(
        daemon.wait_for_line("sentrypeer ready", Instant::now() + WAIT),
        "{}",
        daemon.log_text()
    );
    let lines = daemon.lines();
    let sip = super::daemon::listening_address(&lines, "TCP").expect("TCP port");
    let api = super::daemon::listening_address(&lines, "API").expect("API address");
    (daemon, sip.port(), api)
}

/// `GET path` of the API inside `ns`, as JSON.
pub(crate) fn api_json(ns: &NetNs, api: SocketAddr, path: &str) -> serde_json::Value {
    let output = ns.run(
        "curl",
        &["-s", "--max-time", "10", &format!("http://{api}{path}")],
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// Events the daemon counted from `ip` (0 when it does not know it).
pub(crate) fn seen_count(ns: &NetNs, api: SocketAddr, ip: &str) -> u64 {
    let output = ns.run(
        "curl",
        &[
            "-s",
            "--max-time",
            "10",
            &format!("http://{api}/api/v1/ip-addresses/{ip}"),
        ],
    );
    serde_json::from_slice::<serde_json::Value>(&output.stdout)
        .ok()
        .and_then(|value| value["seen_count"].as_u64())
        .unwrap_or(0)
}

/// Waits until `done` holds, polling every 50 ms until `deadline`.
pub(crate) fn eventually(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// A SIP OPTIONS over TCP from `source` (an attacker address) to `target`, from inside `ns`;
/// `Err` when it cannot connect within a few seconds (blocked on the way).
pub(crate) fn tcp_probe(ns: &NetNs, source: &str, target: SocketAddr) -> Result<(), String> {
    let payload = super::sip::options("100", "TCP", "bgp-test", &format!("bgp-{source}"));
    probe(ns, source, target, &payload, false)
}

/// One UDP datagram with `payload` from `source` (an attacker address) to `target`.
pub(crate) fn udp_probe(
    ns: &NetNs,
    source: &str,
    target: SocketAddr,
    payload: &str,
) -> Result<(), String> {
    probe(ns, source, target, payload, true)
}

fn probe(
    ns: &NetNs,
    source: &str,
    target: SocketAddr,
    payload: &str,
    udp: bool,
) -> Result<(), String> {
    let mut command = self_child(ns, "probe-send");
    command
        .env(PROBE_SOURCE_ENV, source)
        .env(PROBE_TARGET_ENV, target.to_string())
        .env(PROBE_PAYLOAD_ENV, payload);
    if udp {
        command.env(PROBE_UDP_ENV, "1");
    }
    let output = command.output().map_err(|e| e.to_string())?;
    child_said(&output, "PROBE-SENT")
}

/// The `probe-send` child of [`tcp_probe`] and [`udp_probe`], inside the namespace.
pub(crate) fn send_probe_as_child() {
    let source: IpAddr = std::env::var(PROBE_SOURCE_ENV)
        .expect("source")
        .parse()
        .expect("source address");
    let target: SocketAddr = std::env::var(PROBE_TARGET_ENV)
        .expect("target")
        .parse()
        .expect("target address");
    let payload = std::env::var(PROBE_PAYLOAD_ENV).unwrap_or_default();
    if std::env::var_os(PROBE_UDP_ENV).is_some() {
        let socket = UdpSocket::bind(SocketAddr::new(source, 0)).expect("bind the source address");
        socket.send_to(payload.as_bytes(), target).expect("send");
        child_says("PROBE-SENT");
        return;
    }
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(target),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .expect("socket");
    socket
        .bind(&SocketAddr::new(source, 0).into())
        .expect("bind the source address");
    socket
        .connect_timeout(&target.into(), TCP_CONNECT_TIMEOUT)
        .expect("connect");
    let mut stream: TcpStream = socket.into();
    stream.write_all(payload.as_bytes()).expect("send");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    // Until the daemon closes (it answers nothing without -r): the message was read.
    let _ = stream.set_read_timeout(Some(TCP_CONNECT_TIMEOUT));
    let _ = stream.read_to_end(&mut Vec::new());
    child_says("PROBE-SENT");
}

/// BIRD 2 running in the router namespace with `bird.conf` from the fixtures.
pub(crate) struct Bird<'ns> {
    ns: &'ns NetNs,
    process: Option<NsProcess<'ns>>,
    config: PathBuf,
    socket: PathBuf,
}

impl<'ns> Bird<'ns> {
    /// Starts BIRD with `config` (written to `dir`).
    pub(crate) fn start(ns: &'ns NetNs, dir: &Path, config: &str) -> Bird<'ns> {
        let path = dir.join("bird.conf");
        std::fs::write(&path, config).expect("write bird.conf");
        let mut bird = Bird {
            ns,
            process: None,
            config: path,
            socket: dir.join("bird.ctl"),
        };
        bird.run();
        bird
    }

    fn run(&mut self) {
        let mut command = self.ns.command("bird");
        command
            .arg("-f")
            .arg("-c")
            .arg(&self.config)
            .arg("-s")
            .arg(&self.socket);
        let process = NsProcess::spawn(self.ns, "bird", command, false);
        assert!(
            process.wait_for_line("<INFO> Started", Instant::now() + WAIT),
            "{}",
            process.log_text()
        );
        self.process = Some(process);
    }

    /// Stops BIRD (SIGTERM) and starts it again.
    pub(crate) fn restart(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.terminate(Duration::from_secs(5));
        }
        self.run();
    }

    /// `birdc show route all for <prefix>` (the whole output; empty of routes when none).
    pub(crate) fn route(&self, prefix: &str) -> String {
        self.birdc(&["show", "route", "all", "for", prefix])
    }

    /// Whether BIRD has a route for exactly `prefix` (a /32 or /128).
    pub(crate) fn has_route(&self, prefix: &str) -> bool {
        self.route(prefix)
            .lines()
            .any(|line| line.starts_with(prefix))
    }

    /// `birdc reload in sentrypeer`: BIRD asks the daemon for its routes again (ROUTE-REFRESH).
    pub(crate) fn reload_in(&self) -> String {
        self.birdc(&["reload", "in", "sentrypeer"])
    }

    /// `birdc show protocols all sentrypeer`.
    pub(crate) fn protocol(&self) -> String {
        self.birdc(&["show", "protocols", "all", "sentrypeer"])
    }

    fn birdc(&self, args: &[&str]) -> String {
        let socket = self.socket.to_str().expect("utf-8 path");
        let output = self.ns.run("birdc", &[&["-s", socket], args].concat());
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Everything BIRD logged.
    pub(crate) fn log_text(&self) -> String {
        self.process
            .as_ref()
            .map(NsProcess::log_text)
            .unwrap_or_default()
    }
}

/// GoBGP running in the router namespace with `gobgpd.toml` from the fixtures, its gRPC API
/// on the namespace's loopback.
pub(crate) struct GoBgp<'ns> {
    ns: &'ns NetNs,
    process: NsProcess<'ns>,
}

/// GoBGP's gRPC address inside its namespace.
const GOBGP_API: &str = "127.0.0.1:50051";

impl<'ns> GoBgp<'ns> {
    pub(crate) fn start(ns: &'ns NetNs, dir: &Path, config: &str) -> GoBgp<'ns> {
        let path = dir.join("gobgpd.toml");
        std::fs::write(&path, config).expect("write gobgpd.toml");
        let mut command = ns.command("gobgpd");
        command.args(["-t", "toml", "-f"]).arg(&path).args([
            "--api-hosts",
            GOBGP_API,
            "-l",
            "info",
        ]);
        let process = NsProcess::spawn(ns, "gobgpd", command, false);
        assert!(
            process.wait_for_line("gobgpd started", Instant::now() + WAIT),
            "{}",
            process.log_text()
        );
        GoBgp { ns, process }
    }

    /// `gobgp <args> -j` as JSON.
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let output = self.run(&[args, &["-j"]].concat());
        serde_json::from_str(&output).unwrap_or(serde_json::Value::Null)
    }

    /// `gobgp <args>`, its output.
    pub(crate) fn run(&self, args: &[&str]) -> String {
        let (host, port) = GOBGP_API.split_once(':').expect("host:port");
        let output = self
            .ns
            .run("gobgp", &[&["-u", host, "-p", port], args].concat());
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr)
    }

    /// The path GoBGP holds for `prefix` in its global RIB (`family` `ipv4` or `ipv6`).
    pub(crate) fn path(&self, family: &str, prefix: &str) -> Option<serde_json::Value> {
        let rib = self.json(&["global", "rib", "-a", family]);
        rib.get(prefix)?.as_array()?.first().cloned()
    }

    pub(crate) fn log_text(&self) -> String {
        self.process.log_text()
    }
}
