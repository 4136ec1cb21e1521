//! Sending the probe mix over UDP (one socket per source address, one sending thread) or TCP (one
//! connection per source address), paced to a target rate or as fast as possible, for a duration
//! or a count; replies are counted as they come back.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::probes::ProbeWriter;

/// How long to wait for replies after the last probe.
const REPLY_GRACE: Duration = Duration::from_millis(500);
/// How often replies are read off the UDP sockets when they are counted.
const REPLY_DRAIN_INTERVAL: Duration = Duration::from_millis(5);
/// Probes between two looks at the clock when sending as fast as possible.
const CLOCK_EVERY: u64 = 64;

/// When to stop sending.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    /// After this long.
    Duration(Duration),
    /// After this many probes.
    Count(u64),
}

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct SendOptions {
    /// Honeypot (or sink) address.
    pub(crate) target: SocketAddr,
    /// Probes to send.
    pub(crate) probes: ProbeWriter,
    /// Probes per second; `None` sends as fast as possible.
    pub(crate) rate: Option<u64>,
    /// When to stop.
    pub(crate) limit: Limit,
    /// Source addresses, one socket (UDP) or connection (TCP) each.
    pub(crate) sources: Vec<IpAddr>,
    /// Whether to read and count UDP replies (TCP replies are always read).
    pub(crate) count_replies: bool,
    /// UDP from more sources than sockets may be open: this many consecutive probes per source,
    /// one source's socket at a time (see [`udp_source_by_source`]); replies are not read.
    pub(crate) per_source: Option<u64>,
}

/// What a send did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SendReport {
    /// Probes handed to the kernel (UDP) or written whole (TCP).
    pub(crate) sent: u64,
    /// Probes the kernel refused (ICMP errors, no buffer).
    pub(crate) errors: u64,
    /// Replies received (UDP datagrams, when counted; TCP messages).
    pub(crate) replies: u64,
    /// Time spent sending.
    pub(crate) elapsed: Duration,
    /// UDP: probes `0..sequences` were written (sent or refused), so their called numbers are
    /// known; 0 for TCP (each connection numbers its own).
    pub(crate) sequences: u64,
}

impl SendReport {
    /// Probes per second sent.
    pub(crate) fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Paces a sender: how many probes may have gone by now.
struct Pacer {
    started: Instant,
    rate: Option<u64>,
    limit: Limit,
}

impl Pacer {
    fn new(rate: Option<u64>, limit: Limit) -> Self {
        Self {
            started: Instant::now(),
            rate,
            limit,
        }
    }

    /// Whether probe number `sent` (0-based) may go; waits for its time when paced. `None` when
    /// the limit is reached.
    fn next(&self, sent: u64) -> Option<()> {
        let done = match self.limit {
            Limit::Count(count) => sent >= count,
            Limit::Duration(duration) => {
                (sent.is_multiple_of(CLOCK_EVERY) || self.rate.is_some())
                    && self.started.elapsed() >= duration
            }
        };
        if done {
            return None;
        }
        if let Some(rate) = self.rate {
            let due = Duration::from_secs_f64(sent as f64 / rate.max(1) as f64);
            loop {
                let now = self.started.elapsed();
                if now >= due {
                    break;
                }
                // Sleeps are coarse (~60 µs); probes then go in small bursts, on time on average.
                thread::sleep((due - now).min(Duration::from_millis(1)));
            }
        }
        Some(())
    }
}

/// Sends over UDP on this thread. With `options.count_replies`, one more thread drains the
/// source sockets every few milliseconds and counts the replies (never blocking in a receive, so
/// replies do not wake it one by one: on a 2-core box such wake-ups would preempt the honeypot
/// at every reply). Without it nothing reads them; the honeypot counts what it sent.
/// `on_sent` is called as soon as the last probe is sent, before waiting for late replies.
pub(crate) fn udp(options: &SendOptions, on_sent: impl FnOnce()) -> anyhow::Result<SendReport> {
    if let Some(per_source) = options.per_source {
        return udp_source_by_source(options, per_source, on_sent);
    }
    let sockets = options
        .sources
        .iter()
        .map(|ip| {
            let socket = UdpSocket::bind((*ip, 0)).with_context(|| format!("bind {ip}"))?;
            Ok(socket)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let replies = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let drain = if options.count_replies {
        let readers = sockets
            .iter()
            .map(|socket| {
                let reader = socket.try_clone()?;
                reader.set_nonblocking(true)?;
                Ok(reader)
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let (replies, stop) = (Arc::clone(&replies), Arc::clone(&stop));
        Some(thread::spawn(move || {
            let mut buffer = vec![0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(REPLY_DRAIN_INTERVAL);
                for reader in &readers {
                    while reader.recv(&mut buffer).is_ok() {
                        replies.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }))
    } else {
        None
    };
    let locals = sockets
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<Result<Vec<_>, _>>()?;
    let pacer = Pacer::new(options.rate, options.limit);
    let mut report = SendReport::default();
    let mut buffer = Vec::with_capacity(70_000);
    let mut sequence = 0u64;
    while pacer.next(report.sent).is_some() {
        let index = usize::try_from(sequence % sockets.len() as u64).unwrap_or(0);
        options
            .probes
            .write(sequence, locals[index], "UDP", &mut buffer);
        sequence += 1;
        match sockets[index].send_to(&buffer, options.target) {
            Ok(_) => report.sent += 1,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => report.errors += 1,
        }
        if report.errors > 0 && report.errors % 1_000_000 == 0 {
            anyhow::bail!(
                "{} send errors: is {} listening?",
                report.errors,
                options.target
            );
        }
    }
    report.elapsed = pacer.started.elapsed();
    report.sequences = sequence;
    on_sent();
    if let Some(drain) = drain {
        wait_for_replies(&replies);
        stop.store(true, Ordering::Relaxed);
        let _ = drain.join();
    }
    report.replies = replies.load(Ordering::Relaxed);
    Ok(report)
}

/// Sends over UDP from more source addresses than a process may hold sockets (20,000 here):
/// source after source, each with a socket of its own for `per_source` consecutive probes,
/// closed before the next source's is opened. Replies are not read. `on_sent` as for [`udp`].
fn udp_source_by_source(
    options: &SendOptions,
    per_source: u64,
    on_sent: impl FnOnce(),
) -> anyhow::Result<SendReport> {
    let per_source = per_source.max(1);
    let pacer = Pacer::new(options.rate, options.limit);
    let mut report = SendReport::default();
    let mut buffer = Vec::with_capacity(2048);
    let mut sequence = 0u64;
    let mut socket: Option<(UdpSocket, SocketAddr)> = None;
    while pacer.next(report.sent).is_some() {
        if sequence.is_multiple_of(per_source) {
            let index = usize::try_from(sequence / per_source).unwrap_or(0) % options.sources.len();
            let ip = options.sources[index];
            let bound = UdpSocket::bind((ip, 0)).with_context(|| format!("bind {ip}"))?;
            let local = bound.local_addr()?;
            socket = Some((bound, local));
        }
        let (current, local) = socket.as_ref().context("a socket is bound first")?;
        options.probes.write(sequence, *local, "UDP", &mut buffer);
        sequence += 1;
        match current.send_to(&buffer, options.target) {
            Ok(_) => report.sent += 1,
            Err(_) => report.errors += 1,
        }
    }
    report.elapsed = pacer.started.elapsed();
    report.sequences = sequence;
    on_sent();
    Ok(report)
}

/// Waits until no reply came for [`REPLY_GRACE`].
fn wait_for_replies(replies: &AtomicU64) {
    let mut last = replies.load(Ordering::Relaxed);
    loop {
        thread::sleep(REPLY_GRACE);
        let now = replies.load(Ordering::Relaxed);
        if now == last {
            return;
        }
        last = now;
    }
}

/// Sends over TCP, one connection and one thread per source address (each paced to its share
/// of the rate), writing probes back to back; each connection's replies are counted by a
/// reader thread. Connections are half-closed at the end and read until the honeypot closes.
/// `on_sent` is called once every connection has written its last probe.
pub(crate) fn tcp(options: &SendOptions, on_sent: impl FnOnce()) -> anyhow::Result<SendReport> {
    let connections = options.sources.len().max(1) as u64;
    // Every connection first, so a refused one stops the run before any thread waits.
    let mut streams = Vec::new();
    for ip in &options.sources {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(options.target),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.bind(&SocketAddr::new(*ip, 0).into())?;
        socket
            .connect(&options.target.into())
            .with_context(|| format!("connect from {ip}"))?;
        let stream: TcpStream = socket.into();
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    let started = Instant::now();
    let writing = Arc::new(std::sync::Barrier::new(streams.len() + 1));
    let mut workers = Vec::new();
    for (index, stream) in streams.into_iter().enumerate() {
        let options = options.clone();
        let index = index as u64;
        let writing = Arc::clone(&writing);
        workers.push(thread::spawn(move || {
            connection(&options, stream, index, connections, &writing)
        }));
    }
    writing.wait();
    let sent_at = started.elapsed();
    on_sent();
    let mut report = SendReport::default();
    for worker in workers {
        let part = worker
            .join()
            .map_err(|_| anyhow::anyhow!("sender thread panicked"))??;
        report.sent += part.sent;
        report.errors += part.errors;
        report.replies += part.replies;
    }
    report.elapsed = sent_at;
    Ok(report)
}

/// One TCP connection: probes `index`, `index + connections`, ... at `rate / connections`.
/// Meets the others at `writing` once done writing (whatever happened), then reads replies
/// until the honeypot closes.
fn connection(
    options: &SendOptions,
    mut stream: TcpStream,
    index: u64,
    connections: u64,
    writing: &std::sync::Barrier,
) -> anyhow::Result<SendReport> {
    let setup = stream
        .local_addr()
        .and_then(|local| Ok((local, stream.try_clone()?)));
    let (local, mut reader) = match setup {
        Ok(setup) => setup,
        Err(error) => {
            writing.wait();
            return Err(error.into());
        }
    };
    let counter = thread::spawn(move || count_messages(&mut reader));
    let limit = match options.limit {
        Limit::Count(count) => {
            Limit::Count(count / connections + u64::from(index < count % connections))
        }
        duration => duration,
    };
    let pacer = Pacer::new(options.rate.map(|rate| (rate / connections).max(1)), limit);
    let mut report = SendReport::default();
    let mut buffer = Vec::with_capacity(2048);
    while pacer.next(report.sent).is_some() {
        options
            .probes
            .write(index + report.sent * connections, local, "TCP", &mut buffer);
        match stream.write_all(&buffer) {
            Ok(()) => report.sent += 1,
            Err(_) => {
                report.errors += 1;
                break;
            }
        }
    }
    report.elapsed = pacer.started.elapsed();
    writing.wait();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    report.replies = counter
        .join()
        .map_err(|_| anyhow::anyhow!("reader thread panicked"))?;
    Ok(report)
}

/// Counts SIP messages on a stream until it closes: each reply ends its headers with a blank
/// line and carries no body.
fn count_messages(stream: &mut TcpStream) -> u64 {
    let finder = memchr::memmem::Finder::new(b"\r\n\r\n");
    let mut buffer = vec![0u8; 65_536];
    let mut carried = 0usize;
    let mut messages = 0u64;
    loop {
        let read = match stream.read(&mut buffer[carried..]) {
            Ok(0) | Err(_) => return messages,
            Ok(read) => read,
        };
        let filled = carried + read;
        let mut start = 0;
        while let Some(at) = finder.find(&buffer[start..filled]) {
            messages += 1;
            start += at + 4;
        }
        // Keep the last 3 bytes: a delimiter may straddle two reads.
        let keep = (filled - start).min(3);
        buffer.copy_within(filled - keep..filled, 0);
        carried = keep;
    }
}
