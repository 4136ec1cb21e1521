//! Network namespaces of our own (`ip netns add sp-test-<pid>-<n>`, deleted on drop), joined by
//! veth pairs with documentation addresses (192.0.2.0/24, 2001:db8::/64); programs run inside
//! them ([`NsProcess`]); this test binary run again inside one as a small child process
//! ([`self_child`]). No interface is ever added to the host namespace and no traffic leaves
//! our namespaces.
//!
//! `ip netns exec` execs the program, so the PID we hold is the program's own and we signal it
//! by that PID.

mod process;

use std::ffi::OsStr;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) use process::NsProcess;

use super::daemon::{BINARY, TEST_LOG};
use super::{CHILD_ENV, child_test_name};

const UDP_TARGET_ENV: &str = "SENTRYPEER_UDP_TARGET";
const UDP_PAYLOAD_ENV: &str = "SENTRYPEER_UDP_PAYLOAD";

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

/// A namespace for a test (the test fails when it cannot be made).
pub(crate) fn new_ns() -> NetNs {
    NetNs::new().unwrap_or_else(|e| panic!("create network namespace: {e}"))
}

/// The daemon under test inside `ns`, in `dir` (its files and `HOME`), logging as in the other
/// tests; add its flags.
pub(crate) fn daemon_in(ns: &NetNs, dir: &Path) -> Command {
    let mut command = ns.command(BINARY);
    command
        .current_dir(dir)
        .env("HOME", dir)
        .env("RUST_LOG", TEST_LOG);
    command
}

/// A command that runs this test binary inside `ns` as the child `role` (see
/// `support::netns_child`).
pub(crate) fn self_child(ns: &NetNs, role: &str) -> Command {
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

/// A line on the real stdout of a child (not libtest's capture), flushed.
pub(crate) fn child_says(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Sends one UDP datagram with `payload` (text, e.g. a SIP OPTIONS from `support::sip::options`)
/// from inside `ns` to `target`, from the address the route picks (this test binary as a
/// child).
pub(crate) fn send_udp_from(ns: &NetNs, target: SocketAddr, payload: &str) -> Result<(), String> {
    let output: Output = self_child(ns, "udp-send")
        .env(UDP_TARGET_ENV, target.to_string())
        .env(UDP_PAYLOAD_ENV, payload)
        .output()
        .map_err(|e| e.to_string())?;
    child_said(&output, "UDP-SENT ")
}

/// `Ok` when a child process succeeded and printed a line starting with `marker`; otherwise
/// its status and what it printed.
pub(crate) fn child_said(output: &Output, marker: &str) -> Result<(), String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.lines().any(|l| l.starts_with(marker)) {
        Ok(())
    } else {
        Err(format!(
            "{}: {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The `udp-send` child of [`send_udp_from`], inside the namespace.
pub(crate) fn send_udp_as_child() {
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
    child_says(&format!(
        "UDP-SENT {}",
        socket.local_addr().expect("local address")
    ));
}
