//! The real CrowdSec firewall bouncer and the real firewall tools (`nft`, `ipset`), run only
//! inside network namespaces the tests create and delete, never against the host's rules.
//!
//! # How it runs
//!
//! - [`NetNs`] is a named namespace (`ip netns add sp-test-<pid>-<n>`, loopback up, deleted on
//!   drop). Every firewall command goes through `ip netns exec NAME ...` ([`NetNs::command`]);
//!   `ip netns exec` execs the program, so the PID we hold is the program's own and we signal
//!   it by that PID.
//! - The bouncer and the LAPI it polls run **in the same namespace** and talk over that
//!   namespace's loopback (`http://127.0.0.1:PORT/`, port 0 chosen by the kernel). The test
//!   process itself stays in the host namespace, so anything that must listen inside the
//!   namespace is a child process: the daemon under test (`ns.command(daemon_exe)`, or prefix
//!   its command line with [`NetNs::exec_prefix`]), or, in the self-tests here, this very test
//!   binary started again inside the namespace as a tiny std-only LAPI stub ([`LapiStub`],
//!   via the ignored test `netns_child`). Child and test talk over stdin/stdout lines.
//! - To see packets really dropped, [`NetNs::connect`] joins two of our namespaces with a veth
//!   pair and documentation addresses (192.0.2.0/24, 2001:db8::/64): the "attacker" namespace
//!   sends from 192.0.2.7 to the "server" namespace. No interface is ever added to the host
//!   namespace and no traffic leaves our namespaces.
//! - Waits on our own children (log lines, exits) are condition-variable waits; only the state
//!   of the firewall (an external thing) is polled, every 50 ms, up to a deadline.
//!
//! # What the bouncer (Debian 12 `crowdsec-firewall-bouncer` 0.0.25) needs
//!
//! - It only ever calls `GET /v1/decisions/stream?startup=true` once, then
//!   `GET /v1/decisions/stream?` (empty query, trailing `?`) every `update_frequency`; with
//!   `scopes`/`origins`/`scenarios_containing` configured they are added as comma-joined,
//!   URL-encoded values (`scopes=ip%2Crange`). Headers: `X-Api-Key`, `User-Agent:
//!   crowdsec-firewall-bouncer/-` (Debian build: version `-`), `Accept-Encoding: gzip`. No
//!   heartbeat, no `/v1/usage-metrics` (newer upstream releases also POST usage metrics).
//! - A non-2xx answer (or a refused connection, or a body that is not the JSON object) to the
//!   *startup* call ends it: it logs `API error: <message>`, removes its tables and exits with
//!   status 0. Errors on later polls are logged and the poll goes on.
//! - Body: `{"new":[...]|null,"deleted":[...]|null}`; `{}` and `[]` are fine too. Each decision
//!   needs `value`, `type` and `duration` (a missing `type` or `duration` is a nil-pointer
//!   panic, in `deleted` too); `id` must be an integer if present; `scope`, `origin`,
//!   `scenario` are optional and other fields are ignored. `type` is matched case-insensitively
//!   against `supported_decisions_types` (`ban`).
//! - `duration` is a Go duration (`167h59m10s`, `1h30m0.5s`) and becomes the nft/ipset timeout;
//!   an unparsable one silently becomes 4h, and a negative one a set element with **no**
//!   timeout. One bad `value` makes the whole nftables batch fail (netlink EINVAL): no address
//!   of that poll goes in. In nftables mode a `Range` value such as `198.51.100.0/24` is cut to
//!   its first address; ipset mode keeps the CIDR. Send only single addresses, scope `Ip`.
//!   `::ffff:a.b.c.d` lands in the IPv4 set.
//! - nftables mode: `table ip crowdsec` / set `crowdsec-blacklists` (`ipv4_addr`, timeouts) /
//!   chain `crowdsec-chain` (input hook, `ip saddr @crowdsec-blacklists counter drop`), and
//!   `table ip6 crowdsec6` / `crowdsec6-blacklists` / `crowdsec6-chain`.
//!   ipset mode: only fills the sets, which must exist already with timeout support (this
//!   module creates them). iptables mode: creates the sets and `-I INPUT -m set ...` rules
//!   (needs the `iptables` package).
//!
//! These tests skip (saying why on stderr) when not root or when `ip`, `nft`, `ipset` or
//! `crowdsec-firewall-bouncer` is missing; set `SENTRYPEER_REQUIRE_FIREWALL=1` to make that a
//! failure instead. Packages: `crowdsec-firewall-bouncer ipset nftables iproute2` (and
//! `iptables` for the iptables mode), installed with `--no-install-recommends` so that the
//! `crowdsec` agent is not pulled in.
#![allow(
    dead_code,
    reason = "helpers for the REST API tests that are written in parallel"
)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long any firewall wait may take before a test fails.
pub(crate) const FIREWALL_WAIT: Duration = Duration::from_secs(20);

/// Set to make missing prerequisites a test failure instead of a skip.
pub(crate) const REQUIRE_ENV: &str = "SENTRYPEER_REQUIRE_FIREWALL";

/// The bouncer's binary.
pub(crate) const BOUNCER: &str = "crowdsec-firewall-bouncer";

/// nftables names the bouncer uses (from the template, which keeps the package's defaults).
pub(crate) const NFT_TABLE_V4: &str = "crowdsec";
pub(crate) const NFT_TABLE_V6: &str = "crowdsec6";
pub(crate) const NFT_CHAIN_V4: &str = "crowdsec-chain";
pub(crate) const NFT_CHAIN_V6: &str = "crowdsec6-chain";
/// Set names, the same in nftables and ipset/iptables modes.
pub(crate) const SET_V4: &str = "crowdsec-blacklists";
pub(crate) const SET_V6: &str = "crowdsec6-blacklists";

/// The environment variable that makes this test binary act as a namespace child.
const CHILD_ENV: &str = "SENTRYPEER_NETNS_CHILD";
const STUB_KEY_ENV: &str = "SENTRYPEER_STUB_API_KEY";
const UDP_TARGET_ENV: &str = "SENTRYPEER_UDP_TARGET";
const UDP_PAYLOAD_ENV: &str = "SENTRYPEER_UDP_PAYLOAD";
/// The answer to a stream poll when nothing is queued.
pub(crate) const EMPTY_DELTA: &str = r#"{"new":null,"deleted":null}"#;

/// A fixture file in `tests/fixtures/crowdsec/`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/crowdsec")
        .join(name)
}

// ---------------------------------------------------------------------------------------------
// Prerequisites

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether a firewall test can run: root, `ip` and every tool in `tools` on the PATH. When it
/// cannot, says why on stderr and returns false, or panics if [`REQUIRE_ENV`] is set.
pub(crate) fn firewall_ready(tools: &[&str]) -> bool {
    let mut missing: Vec<String> = Vec::new();
    if !is_root() {
        missing.push("root (CAP_NET_ADMIN, to create network namespaces)".to_owned());
    }
    for tool in std::iter::once(&"ip").chain(tools) {
        if !on_path(tool) {
            missing.push((*tool).to_owned());
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "firewall test skipped, missing: {} (apt-get install --no-install-recommends \
         crowdsec-firewall-bouncer ipset nftables iproute2)",
        missing.join(", ")
    );
    assert!(std::env::var_os(REQUIRE_ENV).is_none(), "{why}");
    eprintln!("{why}");
    false
}

// ---------------------------------------------------------------------------------------------
// Network namespaces

/// `ip netns add/del` share /run/netns; one at a time.
static NETNS_LOCK: Mutex<()> = Mutex::new(());
static NETNS_COUNTER: AtomicUsize = AtomicUsize::new(0);
static STALE_CLEANUP: std::sync::Once = std::sync::Once::new();
const NETNS_PREFIX: &str = "sp-test-";

/// A network namespace of our own, deleted on drop. Drop every process started in it first
/// (the borrow in [`NsProcess`] makes the compiler check that).
pub(crate) struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates `sp-test-<pid>-<n>` with loopback up.
    pub(crate) fn new() -> Result<NetNs, String> {
        STALE_CLEANUP.call_once(remove_stale_namespaces);
        let name = format!(
            "{NETNS_PREFIX}{}-{}",
            std::process::id(),
            NETNS_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        {
            let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            checked(Command::new("ip").args(["netns", "add", &name]))?;
        }
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `["ip", "netns", "exec", NAME]`: put it before any command line to run it in here.
    pub(crate) fn exec_prefix(&self) -> [String; 4] {
        [
            "ip".to_owned(),
            "netns".to_owned(),
            "exec".to_owned(),
            self.name.clone(),
        ]
    }

    /// A command that runs `program` inside the namespace (add args, env, stdio as usual).
    pub(crate) fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name])
            .arg(program)
            .stdin(Stdio::null());
        command
    }

    /// Runs `program args` inside the namespace and collects its output.
    pub(crate) fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program} in {}: {e}", self.name))
    }

    /// Runs `program args` inside the namespace with `input` on its stdin.
    pub(crate) fn run_with_input(&self, program: &str, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} in {}: {e}", self.name));
        let mut stdin = child.stdin.take().expect("stdin piped");
        let input = input.to_owned();
        // A writer thread, so a program that answers before reading everything cannot block us.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let output = child.wait_with_output().expect("wait for program");
        let _ = writer.join();
        output
    }

    /// Runs `ip -n NAME args`, Err with stderr on failure.
    pub(crate) fn ip(&self, args: &[&str]) -> Result<(), String> {
        checked(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// Joins this namespace and `other` with a veth pair and gives each end its addresses
    /// (CIDR, e.g. `192.0.2.1/24`, `2001:db8::1/64`; IPv6 ones without duplicate address
    /// detection so they work at once). Returns the interface name (the same on both sides).
    pub(crate) fn connect(
        &self,
        other: &NetNs,
        here: &[&str],
        there: &[&str],
    ) -> Result<String, String> {
        let link = format!("veth{}", NETNS_COUNTER.fetch_add(1, Ordering::Relaxed));
        self.ip(&[
            "link",
            "add",
            &link,
            "type",
            "veth",
            "peer",
            "name",
            &link,
            "netns",
            &other.name,
        ])?;
        for (ns, addresses) in [(self, here), (other, there)] {
            for address in addresses {
                let mut args = vec!["addr", "add", address, "dev", &link];
                if address.contains(':') {
                    args.push("nodad");
                }
                ns.ip(&args)?;
            }
            ns.ip(&["link", "set", &link, "up"])?;
        }
        Ok(link)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// Deletes `sp-test-<pid>-*` namespaces left by test processes that no longer exist.
fn remove_stale_namespaces() {
    let Ok(output) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(NETNS_PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn checked(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

// ---------------------------------------------------------------------------------------------
// Processes inside a namespace

#[derive(Default)]
struct ProcessState {
    lines: Vec<String>,
    exit: Option<ExitStatus>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<ProcessState>,
    changed: Condvar,
}

/// A process started inside a namespace: its stdout and stderr lines and its exit are
/// recorded by threads and can be awaited. Terminated (SIGTERM, then SIGKILL) on drop.
pub(crate) struct NsProcess<'ns> {
    pid: u32,
    label: String,
    shared: Arc<Shared>,
    stdin: Option<ChildStdin>,
    _ns: PhantomData<&'ns NetNs>,
}

impl<'ns> NsProcess<'ns> {
    /// Starts `command` (from [`NetNs::command`]) with stdout and stderr piped and stdin piped
    /// too if `with_stdin`.
    pub(crate) fn spawn(
        _ns: &'ns NetNs,
        label: &str,
        mut command: Command,
        with_stdin: bool,
    ) -> NsProcess<'ns> {
        command
            .stdin(if with_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child: Child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {label}: {e}"));
        let shared = Arc::new(Shared::default());
        let echo = std::env::var_os("SENTRYPEER_TEST_ECHO").is_some();
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|stream| {
            let shared = Arc::clone(&shared);
            let label = label.to_owned();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if echo {
                        eprintln!("[{label}] {line}");
                    }
                    let mut state = shared.state.lock().expect("process state");
                    state.lines.push(line);
                    shared.changed.notify_all();
                }
            })
        })
        .collect();
        let stdin = child.stdin.take();
        let pid = child.id();
        let waiter_shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            let status = child.wait().expect("wait for child");
            // Every line is in before the exit is seen.
            for reader in readers {
                let _ = reader.join();
            }
            let mut state = waiter_shared.state.lock().expect("process state");
            state.exit = Some(status);
            waiter_shared.changed.notify_all();
        });
        NsProcess {
            pid,
            label: label.to_owned(),
            shared,
            stdin,
            _ns: PhantomData,
        }
    }

    /// The process id (the program's own: `ip netns exec` execs it).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything it printed so far, stdout and stderr interleaved.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.shared
            .state
            .lock()
            .expect("process state")
            .lines
            .clone()
    }

    /// The lines as one text, for failure messages.
    pub(crate) fn log_text(&self) -> String {
        format!("--- {} output ---\n{}", self.label, self.lines().join("\n"))
    }

    /// Its exit status, if it has exited.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        self.shared.state.lock().expect("process state").exit
    }

    /// Waits until `done` holds for the lines so far; false if the process exited first or
    /// the deadline passed.
    pub(crate) fn wait_for_lines(
        &self,
        deadline: Instant,
        done: impl Fn(&[String]) -> bool,
    ) -> bool {
        let mut state = self.shared.state.lock().expect("process state");
        loop {
            if done(&state.lines) {
                return true;
            }
            let now = Instant::now();
            if state.exit.is_some() || now >= deadline {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .expect("process state")
                .0;
        }
    }

    /// Waits until some line contains `needle`.
    pub(crate) fn wait_for_line(&self, needle: &str, deadline: Instant) -> bool {
        self.wait_for_lines(deadline, |lines| lines.iter().any(|l| l.contains(needle)))
    }

    /// Waits for the exit, up to `deadline`.
    pub(crate) fn wait_exit(&self, deadline: Instant) -> Option<ExitStatus> {
        let mut state = self.shared.state.lock().expect("process state");
        loop {
            if state.exit.is_some() {
                return state.exit;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .expect("process state")
                .0;
        }
    }

    /// Writes one line to its stdin.
    pub(crate) fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("process started with stdin");
        writeln!(stdin, "{line}").expect("write to child stdin");
        stdin.flush().expect("flush child stdin");
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `grace`); returns the status.
    pub(crate) fn terminate(&mut self, grace: Duration) -> ExitStatus {
        drop(self.stdin.take());
        if self.exit_status().is_none() {
            signal(self.pid, "TERM");
        }
        if let Some(status) = self.wait_exit(Instant::now() + grace) {
            return status;
        }
        signal(self.pid, "KILL");
        self.wait_exit(Instant::now() + FIREWALL_WAIT)
            .unwrap_or_else(|| panic!("{} did not die after SIGKILL", self.label))
    }
}

impl Drop for NsProcess<'_> {
    fn drop(&mut self) {
        if self.exit_status().is_none() {
            self.terminate(Duration::from_secs(5));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The bouncer

/// The bouncer's firewall backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BouncerMode {
    /// Own tables `ip crowdsec` / `ip6 crowdsec6` with sets and drop chains.
    Nftables,
    /// Only fills the ipsets (created here beforehand).
    Ipset,
    /// Creates the ipsets and iptables/ip6tables INPUT rules (needs `iptables`).
    Iptables,
}

impl BouncerMode {
    fn as_config(self) -> &'static str {
        match self {
            BouncerMode::Nftables => "nftables",
            BouncerMode::Ipset => "ipset",
            BouncerMode::Iptables => "iptables",
        }
    }

    /// The tools this mode needs besides the bouncer.
    pub(crate) fn tools(self) -> &'static [&'static str] {
        match self {
            BouncerMode::Nftables => &[BOUNCER, "nft"],
            BouncerMode::Ipset => &[BOUNCER, "ipset"],
            BouncerMode::Iptables => &[BOUNCER, "ipset", "iptables", "ip6tables"],
        }
    }
}

/// Settings for [`run_bouncer_with`].
#[derive(Clone, Debug)]
pub(crate) struct BouncerConfig {
    pub(crate) api_url: String,
    pub(crate) api_key: String,
    pub(crate) mode: BouncerMode,
    /// A Go duration; how often it polls after the start-up call.
    pub(crate) update_frequency: String,
    /// `debug` logs every request and response body.
    pub(crate) log_level: String,
    /// YAML appended to the config (e.g. `scopes:\n  - ip\n`).
    pub(crate) extra_yaml: String,
}

impl BouncerConfig {
    /// Defaults: poll every 200 ms, info log.
    pub(crate) fn new(api_url: &str, api_key: &str, mode: BouncerMode) -> BouncerConfig {
        BouncerConfig {
            api_url: api_url.to_owned(),
            api_key: api_key.to_owned(),
            mode,
            update_frequency: "200ms".to_owned(),
            log_level: "info".to_owned(),
            extra_yaml: String::new(),
        }
    }

    /// The config text, from `tests/fixtures/crowdsec/crowdsec-firewall-bouncer.yaml.in`.
    pub(crate) fn render(&self, work_dir: &Path) -> String {
        let template = std::fs::read_to_string(fixture("crowdsec-firewall-bouncer.yaml.in"))
            .expect("bouncer config template");
        let mut text = template
            .replace("@MODE@", self.mode.as_config())
            .replace("@API_URL@", &self.api_url)
            .replace("@API_KEY@", &self.api_key)
            .replace("@UPDATE_FREQUENCY@", &self.update_frequency)
            .replace("@LOG_LEVEL@", &self.log_level)
            .replace("@WORK_DIR@", &work_dir.display().to_string());
        text.push_str(&self.extra_yaml);
        assert!(!text.contains('@'), "unfilled placeholder in:\n{text}");
        text
    }
}

/// A running bouncer; stopped (SIGTERM: it removes its tables and rules) on drop.
pub(crate) struct BouncerProcess<'ns> {
    pub(crate) process: NsProcess<'ns>,
    ns: &'ns NetNs,
    mode: BouncerMode,
    dir: tempfile::TempDir,
}

/// Starts the bouncer in `ns` against `api_url` with the defaults of [`BouncerConfig::new`].
pub(crate) fn run_bouncer<'ns>(
    ns: &'ns NetNs,
    api_url: &str,
    api_key: &str,
    mode: BouncerMode,
) -> BouncerProcess<'ns> {
    run_bouncer_with(ns, &BouncerConfig::new(api_url, api_key, mode))
}

/// Starts the bouncer in `ns` with `config` (written to a temporary directory).
pub(crate) fn run_bouncer_with<'ns>(ns: &'ns NetNs, config: &BouncerConfig) -> BouncerProcess<'ns> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crowdsec-firewall-bouncer.yaml");
    std::fs::write(&path, config.render(dir.path())).expect("write bouncer config");
    if config.mode == BouncerMode::Ipset {
        // ipset mode manages the sets' content only; they must exist, with timeout support
        // (without it every add fails silently).
        for args in [
            ["create", SET_V4, "hash:net", "timeout", "0", "-exist"].as_slice(),
            [
                "create", SET_V6, "hash:net", "family", "inet6", "timeout", "0", "-exist",
            ]
            .as_slice(),
        ] {
            let output = ns.run("ipset", args);
            assert!(
                output.status.success(),
                "ipset {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let mut command = ns.command(BOUNCER);
    command.arg("-c").arg(&path).current_dir(dir.path());
    let process = NsProcess::spawn(ns, "bouncer", command, false);
    BouncerProcess {
        process,
        ns,
        mode: config.mode,
        dir,
    }
}

impl BouncerProcess<'_> {
    /// Its mode.
    pub(crate) fn mode(&self) -> BouncerMode {
        self.mode
    }

    /// Its config file.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.path().join("crowdsec-firewall-bouncer.yaml")
    }

    /// Waits until `ip` is in its firewall set (false on deadline or if it exited).
    pub(crate) fn wait_for_blocked(&self, ip: IpAddr, deadline: Instant) -> bool {
        self.wait_firewall(ip, true, deadline)
    }

    /// Waits until `ip` is no longer in its firewall set.
    pub(crate) fn wait_for_unblocked(&self, ip: IpAddr, deadline: Instant) -> bool {
        self.wait_firewall(ip, false, deadline)
    }

    fn wait_firewall(&self, ip: IpAddr, blocked: bool, deadline: Instant) -> bool {
        poll_until(deadline, || {
            self.process.exit_status().is_none() && is_blocked(self.ns, ip) == blocked
        })
    }

    /// Its output so far, for failure messages.
    pub(crate) fn log_text(&self) -> String {
        self.process.log_text()
    }

    /// SIGTERM and wait: with `daemonize: true` it removes its tables/rules and exits 0.
    pub(crate) fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.process.terminate(Duration::from_secs(10));
        (status, self.process.lines())
    }
}

fn poll_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        // The firewall is external state with nothing to wait on: poll it.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `ip` is in the bouncer's set in `ns`: the nftables set (`nft get element`) or the
/// ipset (`ipset test`), whichever the mode made. IPv4-mapped IPv6 counts as IPv4.
pub(crate) fn is_blocked(ns: &NetNs, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    let (family, table, set) = match ip {
        IpAddr::V4(_) => ("ip", NFT_TABLE_V4, SET_V4),
        IpAddr::V6(_) => ("ip6", NFT_TABLE_V6, SET_V6),
    };
    let element = format!("{{ {ip} }}");
    let in_nft = ns
        .run("nft", &["get", "element", family, table, set, &element])
        .status
        .success();
    in_nft
        || ns
            .run("ipset", &["test", set, &ip.to_string()])
            .status
            .success()
}

/// Waits until `ip` is in the bouncer's set in `ns` (polls every 50 ms).
pub(crate) fn wait_for_blocked(ns: &NetNs, ip: IpAddr, deadline: Instant) -> bool {
    poll_until(deadline, || is_blocked(ns, ip))
}

/// Waits until `ip` is not in the bouncer's set in `ns`.
pub(crate) fn wait_for_unblocked(ns: &NetNs, ip: IpAddr, deadline: Instant) -> bool {
    poll_until(deadline, || !is_blocked(ns, ip))
}

/// The packet count of the first `counter` in an nftables chain (the bouncer's drop rule), or
/// None when the chain is not there.
pub(crate) fn nft_chain_packets(ns: &NetNs, family: &str, table: &str, chain: &str) -> Option<u64> {
    let output = ns.run("nft", &["list", "chain", family, table, chain]);
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let rest = text.split("counter packets ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The whole nftables ruleset of `ns`.
pub(crate) fn nft_ruleset(ns: &NetNs) -> String {
    String::from_utf8_lossy(&ns.run("nft", &["list", "ruleset"]).stdout).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Feed format checks

fn result_of(output: Output) -> Result<(), String> {
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout).trim()
        ))
    }
}

/// Loads `text` with `ipset restore` in `ns` (it changes that namespace's sets; ipset has no
/// dry run). Err carries ipset's message, with the failing line number.
pub(crate) fn ipset_restore_accepts(ns: &NetNs, text: &str) -> Result<(), String> {
    result_of(ns.run_with_input("ipset", &["restore"], text))
}

/// Checks `text` with `nft -c -f -` in `ns`: parsed and validated by the kernel against that
/// namespace's ruleset, nothing applied. Note that nft resolves names it does not parse as
/// addresses through DNS; in a namespace with only our links nothing can leave.
pub(crate) fn nft_check_accepts(ns: &NetNs, text: &str) -> Result<(), String> {
    result_of(ns.run_with_input("nft", &["-c", "-f", "-"], text))
}

/// Applies `text` with `nft -f -` in `ns`.
pub(crate) fn nft_apply(ns: &NetNs, text: &str) -> Result<(), String> {
    result_of(ns.run_with_input("nft", &["-f", "-"], text))
}

// ---------------------------------------------------------------------------------------------
// Decision JSON

/// One LAPI decision as the bouncer wants it (`type`, `duration` and `value` are the fields it
/// cannot do without).
pub(crate) fn decision_json(id: i64, ip: IpAddr, duration: &str) -> serde_json::Value {
    serde_json::json!({
        "duration": duration,
        "id": id,
        "origin": "sentrypeer",
        "scenario": "sentrypeer/sip-probe",
        "scope": "Ip",
        "type": "ban",
        "value": ip.to_string(),
    })
}

/// A `/v1/decisions/stream` body; an empty list is sent as `null`, like CrowdSec's LAPI.
pub(crate) fn stream_body(new: &[serde_json::Value], deleted: &[serde_json::Value]) -> String {
    let list = |items: &[serde_json::Value]| {
        if items.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::Array(items.to_vec())
        }
    };
    serde_json::json!({ "new": list(new), "deleted": list(deleted) }).to_string()
}

// ---------------------------------------------------------------------------------------------
// The LAPI stub: this test binary again, inside the namespace

/// The libtest name of [`netns_child`] (module path without the crate).
fn child_test_name() -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::netns_child")
}

/// A command that runs this test binary inside `ns` as the child `role`.
fn self_child(ns: &NetNs, role: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = ns.command(exe);
    command
        .args([
            child_test_name().as_str(),
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD_ENV, role);
    command
}

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
        let deadline = Instant::now() + FIREWALL_WAIT;
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
            self.process
                .wait_for_line(&ack, Instant::now() + FIREWALL_WAIT),
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

/// Sends one UDP datagram with `payload` (text, e.g. a SIP OPTIONS from `harness::options`)
/// from inside `ns` to `target`, from the address the route picks (this test binary as a
/// child).
pub(crate) fn send_udp_from(ns: &NetNs, target: SocketAddr, payload: &str) -> Result<(), String> {
    let output = self_child(ns, "udp-send")
        .env(UDP_TARGET_ENV, target.to_string())
        .env(UDP_PAYLOAD_ENV, payload)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.lines().any(|l| l.starts_with("UDP-SENT ")) {
        Ok(())
    } else {
        Err(format!(
            "{}: {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Entry point of the processes [`self_child`] starts inside a namespace; does nothing in a
/// normal test run.
#[test]
#[ignore = "entry point for the child processes the firewall tests start in a namespace"]
fn netns_child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    match role.as_str() {
        "lapi-stub" => child_lapi_stub(),
        "udp-send" => child_udp_send(),
        other => panic!("unknown child role {other}"),
    }
}

/// A line on the real stdout (not libtest's capture), flushed.
fn out(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn child_udp_send() {
    let target: SocketAddr = std::env::var(UDP_TARGET_ENV)
        .expect("target")
        .parse()
        .expect("target address");
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).expect("bind UDP");
    socket
        .send_to(
            std::env::var(UDP_PAYLOAD_ENV)
                .unwrap_or_default()
                .as_bytes(),
            target,
        )
        .expect("send datagram");
    out(&format!(
        "UDP-SENT {}",
        socket.local_addr().expect("local address")
    ));
}

fn child_lapi_stub() -> ! {
    let api_key = std::env::var(STUB_KEY_ENV).unwrap_or_default();
    let queue: Arc<Mutex<std::collections::VecDeque<String>>> = Arc::default();

    let udp = UdpSocket::bind("[::]:0").expect("bind UDP (dual stack)");
    out(&format!(
        "STUB-UDP {}",
        udp.local_addr().expect("UDP address").port()
    ));
    std::thread::spawn(move || {
        let mut buffer = [0u8; 2048];
        while let Ok((_, from)) = udp.recv_from(&mut buffer) {
            out(&format!("STUB-DATAGRAM {}", from.ip().to_canonical()));
        }
    });

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind LAPI stub");
    out(&format!(
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
                    out(&format!("STUB-ERROR {e}"));
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
        out(&format!("STUB-QUEUED {count}"));
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
    out(&format!(
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

// ---------------------------------------------------------------------------------------------
// Self-tests

const API_KEY: &str = "sentrypeer-test-key-0123456789abcdef";

fn v4_attacker() -> IpAddr {
    IpAddr::from([192, 0, 2, 7])
}

fn v6_attacker() -> IpAddr {
    "2001:db8::7".parse().expect("IPv6 address")
}

fn new_ns() -> NetNs {
    NetNs::new().unwrap_or_else(|e| panic!("create network namespace: {e}"))
}

/// The whole chain with real packets: a stub LAPI in a "server" namespace serves one ban for
/// 192.0.2.7 (and 2001:db8::7), the real bouncer there puts it in its nftables set, the
/// "attacker" namespace's datagrams from 192.0.2.7 stop arriving, and a `deleted` entry lifts
/// the ban.
#[test]
fn bouncer_nftables_blocks_the_stub_decision_and_lifts_it() {
    if !firewall_ready(BouncerMode::Nftables.tools()) {
        return;
    }
    let server = new_ns();
    let attacker = new_ns();
    server
        .connect(
            &attacker,
            &["192.0.2.1/24", "2001:db8::1/64"],
            &["192.0.2.7/24", "2001:db8::7/64"],
        )
        .expect("veth between our namespaces");
    let mut stub = LapiStub::start(&server, API_KEY);
    let server_udp = SocketAddr::new(IpAddr::from([192, 0, 2, 1]), stub.udp_port);
    let deadline = Instant::now() + FIREWALL_WAIT;

    // Before any ban the attacker gets through.
    send_udp_from(&attacker, server_udp, "sentrypeer firewall test").expect("send from attacker");
    assert!(
        stub.wait_for_datagrams_from(v4_attacker(), 1, deadline),
        "no datagram from 192.0.2.7 before the ban\n{}",
        stub.process.log_text()
    );

    let bans = [
        decision_json(1, v4_attacker(), "167h59m10s"),
        decision_json(2, v6_attacker(), "1h"),
    ];
    stub.push(&stream_body(&bans, &[]));
    let bouncer = run_bouncer(&server, &stub.url(), API_KEY, BouncerMode::Nftables);
    for ip in [v4_attacker(), v6_attacker()] {
        assert!(
            bouncer.wait_for_blocked(ip, deadline),
            "{ip} not blocked\n{}\n{}\nruleset:\n{}",
            bouncer.log_text(),
            stub.process.log_text(),
            nft_ruleset(&server)
        );
    }
    let ruleset = nft_ruleset(&server);
    assert!(
        ruleset.contains("table ip crowdsec {")
            && ruleset.contains("ip saddr @crowdsec-blacklists counter packets")
            && ruleset.contains("table ip6 crowdsec6 {"),
        "unexpected ruleset:\n{ruleset}"
    );

    // What it asked: start-up call first, then plain polls, with key and user agent.
    assert!(
        stub.wait_for_requests(2, deadline),
        "no poll after start-up"
    );
    let requests = stub.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, "/v1/decisions/stream?startup=true");
    assert_eq!(requests[1].target, "/v1/decisions/stream?");
    for request in &requests {
        assert_eq!(request.header("X-Api-Key"), Some(API_KEY));
        assert!(
            request
                .header("User-Agent")
                .is_some_and(|ua| ua.starts_with("crowdsec-firewall-bouncer/")),
            "{request:?}"
        );
        assert!(
            request.target.starts_with("/v1/decisions/stream?"),
            "unexpected call {request:?}"
        );
    }

    // Now the attacker's datagram is dropped by the bouncer's rule: the drop counter moves and
    // the stub never sees it.
    let dropped_before =
        nft_chain_packets(&server, "ip", NFT_TABLE_V4, NFT_CHAIN_V4).expect("drop chain");
    send_udp_from(&attacker, server_udp, "sentrypeer firewall test").expect("send from attacker");
    assert!(
        poll_until(deadline, || {
            nft_chain_packets(&server, "ip", NFT_TABLE_V4, NFT_CHAIN_V4)
                .is_some_and(|n| n > dropped_before)
        }),
        "drop counter did not move\n{}",
        nft_ruleset(&server)
    );
    assert_eq!(
        stub.datagrams_from(v4_attacker()),
        1,
        "a datagram got through"
    );

    // A deleted decision lifts the ban.
    stub.push(&stream_body(&[], &[decision_json(1, v4_attacker(), "1h")]));
    assert!(
        bouncer.wait_for_unblocked(v4_attacker(), deadline),
        "ban not lifted\n{}",
        bouncer.log_text()
    );
    assert!(is_blocked(&server, v6_attacker()), "the other ban stays");

    let (status, log) = bouncer.stop();
    assert!(
        status.success(),
        "bouncer exit {status:?}\n{}",
        log.join("\n")
    );
    assert!(
        !nft_ruleset(&server).contains("crowdsec"),
        "tables left after SIGTERM"
    );
}

/// ipset mode: the bouncer only fills sets that exist (the helper creates them).
#[test]
fn bouncer_ipset_mode_fills_the_sets() {
    if !firewall_ready(BouncerMode::Ipset.tools()) {
        return;
    }
    let ns = new_ns();
    let mut stub = LapiStub::start(&ns, API_KEY);
    stub.push(&stream_body(
        &[
            decision_json(1, v4_attacker(), "1h"),
            decision_json(2, v6_attacker(), "1h"),
        ],
        &[],
    ));
    let bouncer = run_bouncer(&ns, &stub.url(), API_KEY, BouncerMode::Ipset);
    let deadline = Instant::now() + FIREWALL_WAIT;
    for ip in [v4_attacker(), v6_attacker()] {
        assert!(
            bouncer.wait_for_blocked(ip, deadline),
            "{ip} not in the ipset\n{}",
            bouncer.log_text()
        );
    }
    let (status, log) = bouncer.stop();
    assert!(
        status.success(),
        "bouncer exit {status:?}\n{}",
        log.join("\n")
    );
}

/// iptables mode (only where the `iptables` package is installed).
#[test]
fn bouncer_iptables_mode_blocks_the_stub_decision() {
    if !on_path("iptables") && std::env::var_os(REQUIRE_ENV).is_none() {
        eprintln!("iptables mode skipped: iptables is not installed");
        return;
    }
    if !firewall_ready(BouncerMode::Iptables.tools()) {
        return;
    }
    let ns = new_ns();
    let mut stub = LapiStub::start(&ns, API_KEY);
    stub.push(&stream_body(&[decision_json(1, v4_attacker(), "1h")], &[]));
    let bouncer = run_bouncer(&ns, &stub.url(), API_KEY, BouncerMode::Iptables);
    assert!(
        bouncer.wait_for_blocked(v4_attacker(), Instant::now() + FIREWALL_WAIT),
        "not blocked\n{}",
        bouncer.log_text()
    );
    let rules = ns.run("iptables", &["-S", "INPUT"]);
    assert!(
        String::from_utf8_lossy(&rules.stdout).contains("--match-set crowdsec-blacklists src"),
        "no INPUT rule: {rules:?}"
    );
    let (status, log) = bouncer.stop();
    assert!(
        status.success(),
        "bouncer exit {status:?}\n{}",
        log.join("\n")
    );
}

/// A refused start-up call (wrong key: 403) ends the bouncer on its own, with status 0, and the
/// API's `message` in its log: a test must look at the log, not the exit status.
#[test]
fn bouncer_gives_up_when_the_startup_call_fails() {
    if !firewall_ready(BouncerMode::Nftables.tools()) {
        return;
    }
    let ns = new_ns();
    let stub = LapiStub::start(&ns, API_KEY);
    let bouncer = run_bouncer(&ns, &stub.url(), "wrong-key", BouncerMode::Nftables);
    let status = bouncer
        .process
        .wait_exit(Instant::now() + FIREWALL_WAIT)
        .unwrap_or_else(|| panic!("bouncer kept running\n{}", bouncer.log_text()));
    assert!(status.success(), "{status:?}");
    let log = bouncer.log_text();
    assert!(log.contains("API error: access forbidden"), "{log}");
    assert_eq!(stub.requests().len(), 1, "{log}");
    assert!(!nft_ruleset(&ns).contains("crowdsec"), "tables left behind");
}

/// The recommended feed files load (and the sets then hold the addresses); broken ones fail.
#[test]
fn blocklist_feed_formats_are_accepted_by_ipset_and_nft() {
    if !firewall_ready(&["ipset", "nft"]) {
        return;
    }
    let ns = new_ns();
    let read = |name: &str| std::fs::read_to_string(fixture(name)).expect("fixture");

    let ipset = read("blocklist-sample.ipset");
    ipset_restore_accepts(&ns, &ipset).expect("sample ipset file");
    ipset_restore_accepts(&ns, &ipset).expect("sample ipset file, again (idempotent)");
    for (set, ip) in [
        ("sentrypeer-v4", "192.0.2.7"),
        ("sentrypeer-v4", "198.51.100.23"),
        ("sentrypeer-v6", "2001:db8::7"),
        ("sentrypeer-v6", "2001:db8:1::23"),
    ] {
        assert!(
            ns.run("ipset", &["test", set, ip]).status.success(),
            "{ip} not in {set}"
        );
    }
    for broken in [
        // IPv6 in an IPv4 set.
        "create bad-a hash:ip family inet -exist\nadd bad-a 2001:db8::7\n",
        // Not an address.
        "create bad-b hash:ip family inet -exist\nadd bad-b 192.0.2.300\n",
        // A duplicate without -exist (which, once given on any line, holds for every later
        // line of the same restore).
        "create bad-c hash:ip family inet\nadd bad-c 192.0.2.7\nadd bad-c 192.0.2.7\n",
        // Unknown command.
        "create bad-d hash:ip family inet -exist\nblock bad-d 192.0.2.7\n",
    ] {
        let result = ipset_restore_accepts(&ns, broken);
        assert!(result.is_err(), "accepted broken ipset input:\n{broken}");
    }

    let nft = read("blocklist-sample.nft");
    nft_check_accepts(&ns, &nft).expect("sample nft file");
    assert!(
        !nft_ruleset(&ns).contains("sentrypeer"),
        "nft -c applied something"
    );
    nft_apply(&ns, &nft).expect("apply sample nft file");
    nft_apply(&ns, &nft).expect("apply sample nft file again (idempotent)");
    for (set, ip) in [
        ("blocklist-v4", "192.0.2.7"),
        ("blocklist-v4", "198.51.100.23"),
        ("blocklist-v6", "2001:db8::7"),
        ("blocklist-v6", "2001:db8:1::23"),
    ] {
        let element = format!("{{ {ip} }}");
        assert!(
            ns.run(
                "nft",
                &["get", "element", "inet", "sentrypeer", set, &element]
            )
            .status
            .success(),
            "{ip} not in {set}"
        );
    }
    for broken in [
        // An empty element list is a syntax error: leave the line out instead.
        "add table inet t\nadd set inet t s { type ipv4_addr; }\nadd element inet t s { }\n",
        // IPv6 in an IPv4 set.
        "add table inet t\nadd set inet t s { type ipv4_addr; }\nadd element inet t s { 2001:db8::7 }\n",
        // Not an address.
        "add table inet t\nadd set inet t s { type ipv4_addr; }\nadd element inet t s { 192.0.2.300 }\n",
        // Elements for a table that does not exist.
        "add element inet nosuch s { 192.0.2.7 }\n",
    ] {
        let result = nft_check_accepts(&ns, broken);
        assert!(result.is_err(), "accepted broken nft input:\n{broken}");
    }
}
