//! Starts the real daemon in a temporary directory with loopback port 0 everywhere, learns its
//! ports from its "listening for" lines, waits on its log lines, stops it with SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long any wait in a test may take before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// The daemon's stderr, line by line, shared with the reader thread.
#[derive(Default)]
struct LogLines {
    lines: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

/// What to start.
pub(crate) struct DaemonBuilder {
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

    /// Sets an environment variable for the daemon.
    pub(crate) fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
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
        let dir = self.dir;
        let binary = env!("CARGO_BIN_EXE_sentrypeer");
        let mut command = match self.wrapper.split_first() {
            None => Command::new(binary),
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(binary);
                command
            }
        };
        command
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("RUST_LOG", "sentrypeer=debug,info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if self.defaults {
            let path = |name: &str| dir.path().join(name).display().to_string();
            let defaults = [
                ("--sip-listen-address", "127.0.0.1:0".to_owned()),
                ("-z", "127.0.0.1:0".to_owned()),
                ("-f", path("sentrypeer.db")),
                ("-t", path("cert.pem")),
                ("-k", path("key.pem")),
                ("-l", path("sentrypeer_json.log")),
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
        let mut child = command.spawn().expect("start sentrypeer");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(LogLines::default());
        let reader_log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("SENTRYPEER_TEST_ECHO").is_some() {
                    eprintln!("[daemon] {line}");
                }
                let mut guard = reader_log.lines.lock().expect("log lock");
                guard.0.push(line);
                reader_log.changed.notify_all();
            }
            let mut guard = reader_log.lines.lock().expect("log lock");
            guard.1 = true;
            reader_log.changed.notify_all();
        });
        let mut daemon = Daemon {
            child,
            dir,
            log,
            udp: None,
            tcp: None,
            tls: None,
            api: None,
        };
        daemon.wait_ready();
        daemon
    }
}

/// A running daemon.
pub(crate) struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    log: Arc<LogLines>,
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
    /// A daemon with the test defaults (loopback port 0, files in a temp dir, JSON log path set
    /// but not enabled unless `-j` is given).
    pub(crate) fn builder() -> DaemonBuilder {
        DaemonBuilder {
            wrapper: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            defaults: true,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn wait_ready(&mut self) {
        let ready = self.wait_for(|lines| lines.iter().any(|l| l.contains("sentrypeer ready")));
        if !ready {
            return;
        }
        let lines = self.log_lines();
        let find = |transport: &str| {
            let marker = format!("listening for {transport} on ");
            lines.iter().find_map(|line| {
                line.split(&marker)
                    .nth(1)
                    .and_then(|rest| rest.trim().parse().ok())
            })
        };
        self.udp = find("UDP");
        self.tcp = find("TCP");
        self.tls = find("TLS");
        self.api = find("API");
    }

    /// Waits until `done` holds for the log lines seen so far; false when the daemon exited or
    /// the wait timed out first.
    pub(crate) fn wait_for(&self, done: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + WAIT;
        let mut guard = self.log.lines.lock().expect("log lock");
        loop {
            if done(&guard.0) {
                return true;
            }
            let now = Instant::now();
            if guard.1 || now >= deadline {
                return false;
            }
            guard = self
                .log
                .changed
                .wait_timeout(guard, deadline - now)
                .expect("log lock")
                .0;
        }
    }

    /// Waits until the daemon has recorded `count` probes in total.
    pub(crate) fn wait_for_probes(&self, count: usize) {
        let seen = self.wait_for(|lines| probes_recorded(lines) >= count);
        assert!(
            seen,
            "expected {count} probes recorded, saw {}; log:\n{}",
            probes_recorded(&self.log_lines()),
            self.log_lines().join("\n")
        );
    }

    /// The peer-to-peer listen multiaddr, once the node has printed it.
    pub(crate) fn p2p_address(&self) -> String {
        let marker = "listening for P2P on ";
        let seen = self.wait_for(|lines| lines.iter().any(|l| l.contains(marker)));
        assert!(
            seen,
            "no P2P listen address; log:\n{}",
            self.log_lines().join("\n")
        );
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

    /// Waits until this node's gossip knows `peer_id` takes its records (its subscription
    /// arrived), so a record published now reaches that peer.
    pub(crate) fn wait_for_subscriber(&self, peer_id: &str) {
        let seen = self.wait_for(|lines| {
            lines
                .iter()
                .any(|line| line.contains("peer subscribed") && line.contains(peer_id))
        });
        assert!(
            seen,
            "{peer_id} never subscribed; log:\n{}",
            self.log_lines().join("\n")
        );
    }

    /// How many lines so far contain `needle`.
    pub(crate) fn count_logged(&self, needle: &str) -> usize {
        self.log_lines()
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Waits until `count` lines contain `needle`.
    pub(crate) fn wait_for_logged(&self, needle: &str, count: usize) {
        let seen = self
            .wait_for(|lines| lines.iter().filter(|line| line.contains(needle)).count() >= count);
        assert!(
            seen,
            "expected {count} lines with {needle:?}; log:\n{}",
            self.log_lines().join("\n")
        );
    }

    /// Waits until the store writer has committed `count` events in total.
    pub(crate) fn wait_for_stored(&self, count: u64) {
        let seen = self.wait_for(|lines| stored_total(lines) >= count);
        assert!(
            seen,
            "expected {count} events stored; log:\n{}",
            self.log_lines().join("\n")
        );
    }

    /// Everything the daemon printed so far.
    pub(crate) fn log_lines(&self) -> Vec<String> {
        self.log.lines.lock().expect("log lock").0.clone()
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
        let status = wait_with_deadline(&mut self.child);
        // Let the reader thread see EOF so every line is in.
        let _ = self.wait_for(|_| false);
        Stopped {
            status,
            log: self.log_lines(),
            dir: std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir")),
        }
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

/// A daemon that has exited, with its files.
pub(crate) struct Stopped {
    /// Exit status.
    pub(crate) status: ExitStatus,
    /// Everything it printed.
    pub(crate) log: Vec<String>,
    dir: tempfile::TempDir,
}

impl Stopped {
    /// A path in its directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The last `stored_total=N` the store writer logged (every event up to it is committed).
    pub(crate) fn stored_total_logged(&self) -> u64 {
        stored_total(&self.log)
    }

    /// Opens its database.
    pub(crate) fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("sentrypeer.db")).expect("open database")
    }

    /// Runs a query on its database and collects every row.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        let db = self.db();
        let mut statement = db.prepare(sql).expect("prepare");
        statement
            .query_map([], row)
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// The JSON log, one value per line.
    pub(crate) fn json_log(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.path("sentrypeer_json.log")).expect("JSON log");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }

    /// The one `sentrypeer: ...` line a failed start prints (asserts there is exactly one).
    pub(crate) fn the_error_line(&self) -> &str {
        let errors: Vec<&String> = self
            .log
            .iter()
            .filter(|line| line.starts_with("sentrypeer: "))
            .collect();
        assert_eq!(errors.len(), 1, "one clear error line: {:?}", self.log);
        errors[0]
    }

    /// Asserts a clean exit.
    pub(crate) fn assert_clean_exit(&self) {
        assert!(
            self.status.success(),
            "daemon exited with {:?}; log:\n{}",
            self.status,
            self.log.join("\n")
        );
    }
}

/// The last running total the writer logged (`stored_total=N`).
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

fn probes_recorded(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|line| line.contains("probe recorded"))
        .count()
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status();
}

fn wait_with_deadline(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for daemon") {
            return status;
        }
        assert!(Instant::now() < deadline, "daemon did not exit in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An OPTIONS probe like T-Pot's smoke test sends.
pub(crate) fn options(to_user: &str, transport: &str, user_agent: &str, call_id: &str) -> String {
    format!(
        "OPTIONS sip:{to_user}@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"tester\" <sip:tester@127.0.0.1>;tag={call_id}\r\n\
         To: <sip:{to_user}@127.0.0.1>\r\n\
         Call-ID: {call_id}@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         User-Agent: {user_agent}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A UDP socket on loopback with a receive timeout.
pub(crate) fn udp_client() -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind client");
    socket
        .set_read_timeout(Some(WAIT))
        .expect("set read timeout");
    socket
}

/// Sends a datagram and returns the reply.
pub(crate) fn udp_exchange(
    socket: &std::net::UdpSocket,
    to: SocketAddr,
    message: &[u8],
) -> Vec<u8> {
    socket.send_to(message, to).expect("send datagram");
    let mut buffer = vec![0u8; 65_536];
    let (length, from) = loop {
        match socket.recv_from(&mut buffer) {
            Ok(received) => break received,
            // A signal for the test process (a child exiting) interrupts the wait; wait again.
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => panic!("reply datagram: {error}"),
        }
    };
    assert_eq!(
        from, to,
        "reply comes from the address the probe was sent to"
    );
    buffer.truncate(length);
    buffer
}
