//! The daemon under test: started in a temporary directory with loopback port 0 everywhere, its
//! ports learnt from its "listening for" lines, awaited on its log lines, stopped with SIGTERM.

mod stopped;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use stopped::Stopped;

use super::process::{Output, signal};

/// How long any wait in a test may take before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// The binary under test.
pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_sentrypeer");

/// The log filter the tests run the daemon with: its own debug lines (per probe, per peer).
pub(crate) const TEST_LOG: &str = "sentrypeer=debug,info";

/// What to start.
pub(crate) struct DaemonBuilder {
    binary: PathBuf,
    wrapper: Vec<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    defaults: bool,
    dir: tempfile::TempDir,
}

impl DaemonBuilder {
    /// Adds command-line arguments.
    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs `binary` instead of the one cargo built for the tests (e.g. the small build).
    pub(crate) fn binary(mut self, binary: &Path) -> Self {
        self.binary = binary.to_path_buf();
        self
    }

    /// Sets an environment variable for the daemon (`RUST_LOG` to `""`: the default filter).
    pub(crate) fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Writes `toml` to `sentrypeer.toml` in the daemon's directory and passes it with `-g`.
    pub(crate) fn config_file(self, toml: &str) -> Self {
        let path = self.dir().join("sentrypeer.toml");
        std::fs::write(&path, toml).expect("write config file");
        self.args(["-g".to_owned(), path.display().to_string()])
    }

    /// Starts the daemon through `wrapper` (a program that ends by exec'ing its trailing
    /// arguments, e.g. `prlimit ... --` or `unshare ... sh -c '...; exec "$@"'`), so the
    /// daemon keeps the wrapper's process id.
    pub(crate) fn wrapped<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        wrapper: I,
    ) -> Self {
        self.wrapper = wrapper.into_iter().map(Into::into).collect();
        self
    }

    /// Starts the daemon in a private mount namespace of its own after `setup`, a shell command
    /// in which `$0` is `dir` (e.g. mounting a tmpfs or a read-only bind mount on it); the daemon
    /// keeps the wrapper's process id. Needs root.
    pub(crate) fn in_mount_namespace(self, setup: &str, dir: &Path) -> Self {
        let script = format!("{setup} && exec \"$@\"");
        let dir = dir.display().to_string();
        self.wrapped([
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &script,
            &dir,
        ])
    }

    /// Do not add the default test flags (addresses, files); the test passes its own.
    pub(crate) fn without_defaults(mut self) -> Self {
        self.defaults = false;
        self
    }

    /// The temporary directory the daemon runs in.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the daemon and waits until it is ready (or has exited).
    pub(crate) fn start(self) -> Daemon {
        let mut command = self.command();
        let mut child = command.spawn().expect("start sentrypeer");
        let output = Arc::new(Output::default());
        let stderr = child.stderr.take().expect("stderr piped");
        let readers = output.read_from("daemon", vec![Box::new(stderr)]);
        let finisher = Arc::clone(&output);
        std::thread::spawn(move || {
            for reader in readers {
                let _ = reader.join();
            }
            finisher.finish(None);
        });
        let mut daemon = Daemon {
            child,
            dir: self.dir,
            output,
            udp: None,
            tcp: None,
            tls: None,
            api: None,
        };
        daemon.wait_ready();
        daemon
    }

    fn command(&self) -> Command {
        let dir = self.dir.path();
        // Through setsid(1): a session of its own, as a service manager starts a daemon. Linux
        // shares the CPU between sessions (autogroups) before thread priorities count, so the
        // daemon's niced store writer yields to the daemon's own capture rather than to whatever
        // else the machine runs (a stress-ng beside the suite starved it for minutes). setsid
        // execs in place (the child is no process group leader): the daemon keeps the PID.
        let mut command = Command::new("setsid");
        command.args(&self.wrapper).arg(&self.binary);
        command
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("RUST_LOG", TEST_LOG)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if self.defaults {
            let path = |name: &str| dir.join(name).display().to_string();
            let defaults = [
                ("--sip-listen-address", "127.0.0.1:0".to_owned()),
                ("-z", "127.0.0.1:0".to_owned()),
                ("-f", path("sentrypeer.db")),
                ("-t", path("cert.pem")),
                ("-k", path("key.pem")),
            ];
            for (flag, value) in defaults {
                // A test that passes the flag itself wins over the default.
                if !self.args.iter().any(|arg| arg == flag) {
                    command.args([flag.to_owned(), value]);
                }
            }
        }
        for (name, value) in &self.env {
            if name == "RUST_LOG" && value.is_empty() {
                command.env_remove("RUST_LOG");
            } else {
                command.env(name, value);
            }
        }
        command.args(&self.args);
        command
    }
}

/// A running daemon.
pub(crate) struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    output: Arc<Output>,
    /// UDP SIP address, when listening.
    pub(crate) udp: Option<SocketAddr>,
    /// TCP SIP address, when listening.
    pub(crate) tcp: Option<SocketAddr>,
    /// TLS SIP address, when listening.
    pub(crate) tls: Option<SocketAddr>,
    /// REST API address, when serving.
    pub(crate) api: Option<SocketAddr>,
}

impl Daemon {
    /// A daemon with the test defaults: loopback port 0, its files in a temporary directory (which
    /// is also its working directory, so `-j` writes `sentrypeer_json.log` there).
    pub(crate) fn builder() -> DaemonBuilder {
        DaemonBuilder {
            binary: PathBuf::from(BINARY),
            wrapper: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            defaults: true,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A responsive daemon (UDP and TCP, no TLS) with `[personality]` set to `table`, and
    /// `extra` flags.
    pub(crate) fn with_personality(table: &str, extra: &[&str]) -> Daemon {
        Daemon::builder()
            .config_file(&format!("[personality]\n{table}\n"))
            .args(["-r", "-N"])
            .args(extra.iter().copied())
            .start()
    }

    fn wait_ready(&mut self) {
        if !self.wait_for(|lines| lines.iter().any(|l| l.contains("sentrypeer ready"))) {
            return;
        }
        let lines = self.log_lines();
        self.udp = listening_address(&lines, "UDP");
        self.tcp = listening_address(&lines, "TCP");
        self.tls = listening_address(&lines, "TLS");
        self.api = listening_address(&lines, "API");
    }

    /// Waits until `done` holds for the log lines seen so far; false when the daemon exited or
    /// [`WAIT`] passed first.
    pub(crate) fn wait_for(&self, done: impl Fn(&[String]) -> bool) -> bool {
        self.output.wait_for(Instant::now() + WAIT, done)
    }

    /// Waits until `done` holds, or fails the test saying `what` and showing the log.
    pub(crate) fn expect(&self, what: &str, done: impl Fn(&[String]) -> bool) {
        assert!(
            self.wait_for(done),
            "{what}; log:\n{}",
            self.log_lines().join("\n")
        );
    }

    /// Waits until the daemon has recorded `count` probes in total.
    pub(crate) fn wait_for_probes(&self, count: usize) {
        let recorded = |lines: &[String]| {
            lines
                .iter()
                .filter(|line| line.contains("probe recorded"))
                .count()
        };
        self.expect(&format!("expected {count} probes recorded"), |lines| {
            recorded(lines) >= count
        });
    }

    /// Waits until `count` lines contain `needle`.
    pub(crate) fn wait_for_logged(&self, needle: &str, count: usize) {
        self.expect(
            &format!("expected {count} lines with {needle:?}"),
            |lines| lines.iter().filter(|line| line.contains(needle)).count() >= count,
        );
    }

    /// Waits until the store writer has committed `count` events in total.
    pub(crate) fn wait_for_stored(&self, count: u64) {
        self.expect(&format!("expected {count} events stored"), |lines| {
            stored_total(lines) >= count
        });
    }

    /// The peer-to-peer listen multiaddr, once the node has printed it.
    pub(crate) fn p2p_address(&self) -> String {
        let marker = "listening for P2P on ";
        self.expect("no P2P listen address", |lines| {
            lines.iter().any(|l| l.contains(marker))
        });
        self.log_lines()
            .iter()
            .find_map(|line| line.split(marker).nth(1).map(|rest| rest.trim().to_owned()))
            .unwrap_or_default()
    }

    /// The node's PeerId, from its start-up line.
    pub(crate) fn peer_id(&self) -> String {
        self.log_lines()
            .iter()
            .find_map(|line| {
                let rest = line.split("peer_id=").nth(1)?;
                rest.split_whitespace().next().map(str::to_owned)
            })
            .unwrap_or_default()
    }

    /// How many lines so far contain `needle`.
    pub(crate) fn count_logged(&self, needle: &str) -> usize {
        self.log_lines()
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Everything the daemon printed so far.
    pub(crate) fn log_lines(&self) -> Vec<String> {
        self.output.lines()
    }

    /// Whether any line so far contains `needle`.
    pub(crate) fn logged(&self, needle: &str) -> bool {
        self.log_lines().iter().any(|line| line.contains(needle))
    }

    /// The daemon's working directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the daemon's directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The daemon's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit; returns the status and keeps the directory.
    pub(crate) fn stop(self) -> Stopped {
        signal(self.child.id(), "TERM");
        self.wait_exit()
    }

    /// Sends SIGKILL (no chance to flush anything) and waits for the exit.
    pub(crate) fn kill(self) -> Stopped {
        signal(self.child.id(), "KILL");
        self.wait_exit()
    }

    /// Waits for the daemon to exit (on its own, or after [`Daemon::stop`]'s signal).
    pub(crate) fn wait_exit(mut self) -> Stopped {
        // Its stderr ends when it exits (the wrappers exec it): then every line is in.
        let ended = self.output.wait_finished(Instant::now() + WAIT);
        assert!(
            ended.is_some(),
            "daemon did not exit in time; log:\n{}",
            self.log_lines().join("\n")
        );
        let status = self.child.wait().expect("wait for daemon");
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        Stopped::new(status, self.log_lines(), dir)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), "KILL");
            let _ = self.child.wait();
        }
    }
}

/// The address after `listening for <what> on ` in a daemon's log (`UDP`, `TCP`, `TLS`, `API`).
pub(crate) fn listening_address(lines: &[String], what: &str) -> Option<std::net::SocketAddr> {
    let marker = format!("listening for {what} on ");
    lines
        .iter()
        .find_map(|line| line.split(&marker).nth(1)?.trim().parse().ok())
}

/// The last running total the store writer logged (`stored_total=N`; every event up to it is
/// committed).
pub(crate) fn stored_total(lines: &[String]) -> u64 {
    lines
        .iter()
        .rev()
        .find_map(|line| {
            let rest = line.split("stored_total=").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
