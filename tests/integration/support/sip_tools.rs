//! The real SIP tools the tests drive (SIPVicious, SIPp, sipsak, fail2ban-regex): `.ci/run`
//! installs them, and a missing one fails the test saying what to install.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::prerequisites::on_path;

/// A command for `name`, which must be installed.
pub(crate) fn tool(name: &str) -> Command {
    assert!(
        on_path(name),
        "{name} is not installed; .ci/run installs it (apt-get install sipvicious sip-tester sipsak fail2ban)"
    );
    Command::new(name)
}

/// Runs `command` in `dir` (stdin closed) and collects its output.
pub(crate) fn run(mut command: Command, dir: &Path) -> Output {
    command.current_dir(dir).stdin(Stdio::null());
    command.output().expect("run tool")
}

/// A tool's stdout and stderr, for failure messages.
pub(crate) fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs SIPVicious `svmap` against a UDP SIP address on loopback.
pub(crate) fn svmap(target: SocketAddr, dir: &Path) -> Output {
    let mut svmap = tool("svmap");
    svmap.args([
        &target.ip().to_string(),
        "-p",
        &target.port().to_string(),
        "-P",
        &free_udp_port().to_string(),
    ]);
    run(svmap, dir)
}

/// SIPp making one call from 127.0.0.1 (a port of its own) to `target`, calling `number`, with
/// `scenario` (`["-sn", "uac"]`, or `["-sf", path]`); it gives up after 20 s and then fails. Add
/// more arguments, then [`run`] it.
pub(crate) fn sipp_call(target: SocketAddr, number: &str, scenario: &[&str]) -> Command {
    let mut sipp = tool("sipp");
    sipp.args(scenario)
        .arg(target.to_string())
        .args(["-s", number, "-i", "127.0.0.1", "-p"])
        .arg(free_udp_port().to_string())
        .args(["-m", "1", "-timeout", "20s", "-timeout_error"])
        .args(["-nostdin", "-trace_err"]);
    sipp
}

/// A UDP port on 127.0.0.1 nobody uses right now (for a tool's own socket).
pub(crate) fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}
