//! The bare UDP sink: a trivial blocking receive loop on a socket with the honeypot's receive
//! buffer size. What it receives from one sender is the machine's ceiling for that sender. As an
//! echo sink it also sends every datagram straight back to its source (a reply of the same size,
//! the honeypot's largest): the ceiling for probes received *and answered*, since on loopback
//! each reply costs about what the sender's own send costs.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::Context;

/// The honeypot's requested receive buffer (`transport::bind_udp`), for a fair comparison.
const RECEIVE_BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// A running sink.
pub(crate) struct Sink {
    /// Where it listens.
    pub(crate) address: SocketAddr,
    socket: UdpSocket,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// What a sink saw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SinkReport {
    /// Datagrams received.
    pub(crate) received: u64,
    /// Datagrams the kernel dropped on the sink's socket (its buffer was full).
    pub(crate) kernel_dropped: Option<u64>,
}

impl Sink {
    /// Binds `address` and starts receiving on a thread of its own; with `echo`, every datagram
    /// is sent back to where it came from.
    pub(crate) fn start(address: SocketAddr, echo: bool) -> anyhow::Result<Self> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(address),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
        socket.bind(&address.into()).context("bind sink")?;
        let socket: UdpSocket = socket.into();
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let address = socket.local_addr()?;
        let receiver = socket.try_clone()?;
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopping) = (Arc::clone(&received), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            let mut buffer = vec![0u8; 65_536];
            loop {
                match receiver.recv_from(&mut buffer) {
                    Ok((length, source)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        if echo {
                            // Never waits: a full send buffer loses the echo, as the
                            // honeypot's replies would be lost.
                            let _ = receiver.send_to(&buffer[..length], source);
                        }
                    }
                    // Timed out with nothing queued: stop if asked.
                    Err(_) if stopping.load(Ordering::Relaxed) => return,
                    Err(_) => {}
                }
            }
        });
        Ok(Self {
            address,
            socket,
            received,
            stop,
            thread,
        })
    }

    /// Datagrams received so far.
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Drains what is queued, stops, and reports.
    pub(crate) fn stop(self) -> SinkReport {
        let kernel_dropped = sentrypeer::transport::udp_drops::socket_drops(&self.socket);
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        SinkReport {
            received: self.received.load(Ordering::Relaxed),
            kernel_dropped,
        }
    }
}
