//! The switch side of the SIP agent's tests: Kamailio with the dip config kept in
//! `tests/fixtures/kamailio/`, a SIPp UAS standing for the carrier, and any such program run in
//! the background with its output collected (killed when dropped, with the workers it forked:
//! each runs in a process group of its own, and the group is killed).

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use super::daemon::WAIT;
use super::process::{Output, signal};
use super::sip::{options, udp_client};
use super::sip_tools::{free_udp_port, tool};

/// A program this test started, running in the background.
pub(crate) struct Background {
    child: Child,
    output: Arc<Output>,
    label: String,
}

impl Background {
    /// Starts `command` with its stdout and stderr collected under `label`.
    pub(crate) fn spawn(mut command: Command, label: &str) -> Background {
        // A group of its own (its id is the child's PID), so dropping it also ends what it forked:
        // Kamailio's workers outlive a killed main process otherwise.
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {label}: {error}"));
        let output = Arc::new(Output::default());
        let streams: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().expect("stdout piped")),
            Box::new(child.stderr.take().expect("stderr piped")),
        ];
        let readers = output.read_from(label, streams);
        let finisher = Arc::clone(&output);
        std::thread::spawn(move || {
            for reader in readers {
                let _ = reader.join();
            }
            finisher.finish(None);
        });
        Background {
            child,
            output,
            label: label.to_owned(),
        }
    }

    /// Everything it printed so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.output.lines()
    }

    /// Waits until a line contains `needle`, or fails the test showing the output.
    pub(crate) fn expect_line(&self, needle: &str) {
        let seen = self.output.wait_for(Instant::now() + WAIT, |lines| {
            lines.iter().any(|line| line.contains(needle))
        });
        assert!(
            seen,
            "{} never printed {needle:?}:\n{}",
            self.label,
            self.lines().join("\n")
        );
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // The group this program leads: it and every process it forked, nothing else.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        signal(self.child.id(), "KILL");
        let _ = self.child.wait();
    }
}

/// The fixture file `name` under `tests/fixtures/`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Kamailio on a free loopback UDP port with `tests/fixtures/kamailio/sip_agent_dip.cfg`,
/// asking the agent at `agent` and routing calls normally to `route`; returned once it answers
/// an `OPTIONS`.
pub(crate) fn kamailio(
    dir: &Path,
    agent: SocketAddr,
    route: SocketAddr,
) -> (Background, SocketAddr) {
    let listen = SocketAddr::from(([127, 0, 0, 1], free_udp_port()));
    let template = std::fs::read_to_string(fixture("kamailio/sip_agent_dip.cfg"))
        .expect("read the Kamailio config");
    let config = template
        .replace("@LISTEN@", &listen.to_string())
        .replace("@AGENT@", &agent.to_string())
        .replace("@ROUTE@", &route.to_string());
    let config_path = dir.join("kamailio.cfg");
    std::fs::write(&config_path, config).expect("write the Kamailio config");
    let runtime = dir.join("kamailio-run");
    std::fs::create_dir_all(&runtime).expect("Kamailio runtime dir");
    let mut command = tool("kamailio");
    command
        .arg("-f")
        .arg(&config_path)
        .arg("-P")
        .arg(runtime.join("kamailio.pid"))
        .arg("-Y")
        .arg(&runtime)
        .args(["-E", "-DD"]);
    let kamailio = Background::spawn(command, "kamailio");
    wait_for_options_answer(listen, &kamailio);
    (kamailio, listen)
}

/// Pings `target` with `OPTIONS` until it answers (each ping waits a little for its answer),
/// within [`WAIT`].
fn wait_for_options_answer(target: SocketAddr, process: &Background) {
    let client = udp_client();
    client
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .expect("set read timeout");
    let deadline = Instant::now() + WAIT;
    let ping = options("", "UDP", "test", "kamailio-ready").replace("sip:@", "sip:");
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        client
            .send_to(ping.as_bytes(), target)
            .expect("send OPTIONS");
        if let Ok((length, _)) = client.recv_from(&mut buffer)
            && buffer[..length].starts_with(b"SIP/2.0 200")
        {
            return;
        }
    }
    panic!(
        "{target} never answered OPTIONS:\n{}",
        process.lines().join("\n")
    );
}

/// SIPp's built-in UAS (answers every call 180, 200, then the BYE) on a free loopback port.
pub(crate) fn sipp_uas(dir: &Path) -> (Background, SocketAddr) {
    let address = SocketAddr::from(([127, 0, 0, 1], free_udp_port()));
    let mut command = tool("sipp");
    command
        .current_dir(dir)
        .args(["-sn", "uas", "-i", "127.0.0.1", "-p"])
        .arg(address.port().to_string())
        .args(["-nostdin", "-trace_err"]);
    (Background::spawn(command, "sipp-uas"), address)
}
