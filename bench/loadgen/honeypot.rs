//! The honeypot under test: started as a child process in a directory of its own, its ports
//! learnt from its log, its counters read from `/api/v1/health`, its CPU time and memory from
//! `/proc/<pid>`, stopped with SIGTERM, its stored events counted in its database afterwards.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long start-up and shutdown may take.
const PATIENCE: Duration = Duration::from_secs(60);
/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on every Linux target).
const TICKS_PER_SECOND: f64 = 100.0;

/// A running honeypot.
pub(crate) struct Honeypot {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// UDP SIP address.
    pub(crate) udp: Option<SocketAddr>,
    /// TCP SIP address.
    pub(crate) tcp: Option<SocketAddr>,
    /// API address.
    pub(crate) api: Option<SocketAddr>,
    /// SIP agent's UDP address (`--sip-agent-listen-address`).
    pub(crate) agent: Option<SocketAddr>,
}

/// The counters `/api/v1/health` gives, those the benchmark reports.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    /// Events received over UDP and TCP.
    pub(crate) received_udp: u64,
    pub(crate) received_tcp: u64,
    /// Events committed to the database.
    pub(crate) stored: u64,
    /// Events dropped by the store's queue (full) or failed batches.
    pub(crate) store_dropped: u64,
    /// Datagrams the kernel dropped on the UDP socket.
    pub(crate) kernel_dropped: u64,
    /// Replies sent over UDP and TCP.
    pub(crate) replied_udp: u64,
    pub(crate) replied_tcp: u64,
}

/// CPU time and memory of a process.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// User + system CPU seconds so far.
    pub(crate) cpu_seconds: f64,
    /// Resident set now, in KiB.
    pub(crate) rss_kib: u64,
    /// Peak resident set, in KiB.
    pub(crate) peak_rss_kib: u64,
}

impl Honeypot {
    /// Starts `binary` with `args` in `dir` (created), database `dir/sentrypeer.db` unless `args`
    /// names one, and waits until it is ready.
    pub(crate) fn start(binary: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut command = Command::new(binary);
        command
            .current_dir(dir)
            .env("HOME", dir)
            .env("RUST_LOG", "info")
            .args(["--sip-listen-address", "127.0.0.1:0", "-N"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !args.contains(&"-f") {
            command.arg("-f").arg(dir.join("sentrypeer.db"));
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let stderr = child.stderr.take().context("stderr")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
        });
        let mut honeypot = Self {
            child,
            log,
            udp: None,
            tcp: None,
            api: None,
            agent: None,
        };
        honeypot.wait_for_line("sentrypeer ready")?;
        honeypot.udp = honeypot.address("UDP");
        honeypot.tcp = honeypot.address("TCP");
        honeypot.api = honeypot.address("API");
        honeypot.agent = honeypot.address("SIP agent UDP");
        Ok(honeypot)
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn lines(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// Waits (polling its log) until a line contains `needle`.
    fn wait_for_line(&mut self, needle: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.lines().iter().any(|line| line.contains(needle)) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("honeypot exited ({status}):\n{}", self.lines().join("\n"));
            }
            if Instant::now() > deadline {
                bail!(
                    "no {needle:?} from the honeypot:\n{}",
                    self.lines().join("\n")
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn address(&self, transport: &str) -> Option<SocketAddr> {
        let marker = format!("listening for {transport} on ");
        self.lines().iter().find_map(|line| {
            let rest = line.split(&marker).nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
    }

    /// CPU and memory now.
    pub(crate) fn usage(&self) -> anyhow::Result<Usage> {
        process_usage(self.pid())
    }

    /// Its counters, from `/api/v1/health` (needs `-a`).
    pub(crate) async fn counters(&self, client: &reqwest::Client) -> anyhow::Result<Counters> {
        let api = self.api.context("the honeypot serves no API (-a)")?;
        let health: serde_json::Value = client
            .get(format!("http://{api}/api/v1/health"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let number = |path: &str| health.pointer(path).and_then(serde_json::Value::as_u64);
        Ok(Counters {
            received_udp: number("/events/received/UDP").unwrap_or(0),
            received_tcp: number("/events/received/TCP").unwrap_or(0),
            stored: number("/events/stored").unwrap_or(0),
            store_dropped: number("/events/dropped_by_consumer/store").unwrap_or(0)
                + number("/events/store_failed").unwrap_or(0),
            kernel_dropped: number("/events/kernel_dropped").unwrap_or(0),
            replied_udp: number("/replies/sent/UDP").unwrap_or(0),
            replied_tcp: number("/replies/sent/TCP").unwrap_or(0),
        })
    }

    /// Waits until every probe sent over UDP has been taken off the socket or counted as a kernel
    /// drop (`received + kernel_dropped >= expected_udp`), and TCP received `expected_tcp`, or
    /// until the counts stop moving for 2 s; returns the last counters.
    pub(crate) async fn settle(
        &self,
        client: &reqwest::Client,
        expected_udp: u64,
        expected_tcp: u64,
    ) -> anyhow::Result<Counters> {
        let mut last = self.counters(client).await?;
        let mut still_since = Instant::now();
        loop {
            let done = last.received_udp + last.kernel_dropped >= expected_udp
                && last.received_tcp >= expected_tcp;
            if done || still_since.elapsed() > Duration::from_secs(2) {
                return Ok(last);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.counters(client).await?;
            if now.received_udp != last.received_udp || now.received_tcp != last.received_tcp {
                still_since = Instant::now();
            }
            last = now;
        }
    }

    /// SIGTERM, then waits for a clean exit; returns the log's "stopped" line.
    pub(crate) fn stop(mut self) -> anyhow::Result<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.pid());
        }
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("the honeypot did not stop in time");
            }
            thread::sleep(Duration::from_millis(20));
        };
        // Let the log reader see the last lines.
        thread::sleep(Duration::from_millis(100));
        let lines = self.lines();
        if !status.success() {
            bail!("honeypot exited with {status}:\n{}", lines.join("\n"));
        }
        Ok(lines
            .iter()
            .rev()
            .find(|line| line.contains("stopped"))
            .cloned()
            .unwrap_or_default())
    }
}

impl Drop for Honeypot {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Rows in `honey` of the database at `path`.
pub(crate) fn count_rows(path: &Path) -> anyhow::Result<u64> {
    let conn = rusqlite::Connection::open(path)?;
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM honey", [], |row| row.get(0))?;
    Ok(u64::try_from(rows).unwrap_or(0))
}

/// CPU seconds and memory of process `pid`, from `/proc/<pid>/stat` and `/proc/<pid>/status`.
pub(crate) fn process_usage(pid: u32) -> anyhow::Result<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces, so split after its ')').
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |index: usize| -> f64 {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    Ok(Usage {
        cpu_seconds: (ticks(11) + ticks(12)) / TICKS_PER_SECOND,
        rss_kib: kib("VmRSS:"),
        peak_rss_kib: kib("VmHWM:"),
    })
}
