//! Load on the daemon and what it costs: a paced UDP flood of distinct probes from a thread,
//! raw HTTP clients that never read, and the daemon's resident memory, threads and CPU time
//! from `/proc`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::sip::options;

/// A flood running on its own thread until it has sent its probes or is stopped.
pub(crate) struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Flood {
    /// Sends `total` OPTIONS probes (distinct called numbers) to `udp` at `per_second`.
    pub(crate) fn start(udp: SocketAddr, per_second: u64, total: u64) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind flood socket");
            let started = Instant::now();
            let mut sent = 0u64;
            while sent < total && !stopping.load(Ordering::Relaxed) {
                let due = started + Duration::from_secs_f64(sent as f64 / per_second as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    // Pacing the sender, not waiting for the daemon.
                    std::thread::sleep(wait);
                }
                let probe = options(&format!("7{sent:09}"), "UDP", "flood", &format!("f{sent}"));
                if socket.send_to(probe.as_bytes(), udp).is_ok() {
                    sent += 1;
                }
            }
            sent
        });
        Flood {
            stop,
            thread: Some(thread),
        }
    }

    /// Whether it has sent everything.
    pub(crate) fn is_done(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the flood to end; how many probes it sent.
    pub(crate) fn finish(mut self) -> u64 {
        self.thread
            .take()
            .map_or(0, |thread| thread.join().expect("flood thread"))
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection from `from` to `api` that asks for `path` and never reads the answer, with a
/// small receive buffer so the daemon's writes soon wait.
pub(crate) fn unread_request(from: IpAddr, api: SocketAddr, path: &str) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .expect("bind the source address");
    socket.connect(&api.into()).expect("connect");
    let mut stream: TcpStream = socket.into();
    let request = format!("GET {path} HTTP/1.1\r\nHost: sentrypeer\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    stream
}

/// A process's resident memory (KiB), threads, and CPU time used so far (user + system).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) rss_kib: u64,
    pub(crate) threads: u64,
    pub(crate) cpu: Duration,
}

/// What `/proc/<pid>` says `pid` uses now.
pub(crate) fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Usage {
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
        // The kernel counts in clock ticks of 1/100 s on every Linux this runs on (USER_HZ).
        cpu: Duration::from_millis(ticks * 10),
    }
}
