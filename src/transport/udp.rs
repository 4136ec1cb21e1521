//! The UDP SIP listener: batched receive with each datagram's real destination address
//! (`IP_PKTINFO` / `IPV6_RECVPKTINFO`, through quinn-udp), whole datagrams up to 64 KiB, replies
//! sent from the address the probe was sent to. Later sends of a reply plan (final responses,
//! our `BYE`) are tasks, at most [`MAX_PENDING_UDP_SENDS`] at once, cancelled at shutdown.

use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ProbeHandler, ReplyLimit, TransportError};
use crate::event::Transport;
use crate::sip::{Outgoing, ReplyPlan, Timer};

/// Room for the largest UDP datagram (and for a GRO batch, which the kernel caps at 64 KiB).
const DATAGRAM_BUFFER_BYTES: usize = 65_536;
/// Datagrams read per system call (`recvmmsg`).
const RECEIVE_BATCH: usize = 16;
/// Receive calls made before the loop yields to other tasks and looks at the shutdown signal, so
/// a flood cannot starve the runtime or delay shutdown.
const RECEIVES_PER_TURN: usize = 64;
/// Receive calls made at shutdown to record what is already queued in the socket (enough for a
/// full receive buffer of small probes); bounded so a flood cannot hold shutdown forever.
const RECEIVES_AT_SHUTDOWN: usize = 1024;
/// Later sends (timers of reply plans) waiting at once; more are skipped and counted.
pub const MAX_PENDING_UDP_SENDS: usize = 4096;

/// The socket, shared by the receive loop and the tasks sending later replies.
struct UdpIo {
    socket: UdpSocket,
    state: UdpSocketState,
}

/// Where one conversation's datagrams go: the probe's source, from the address it was sent to.
#[derive(Debug, Clone, Copy)]
struct ReplyPath {
    destination: SocketAddr,
    src_ip: Option<IpAddr>,
}

/// Sends reply plans: immediate datagrams at once, timers as bounded, cancellable tasks.
#[derive(Clone)]
struct Replier {
    io: Arc<UdpIo>,
    handler: Arc<ProbeHandler>,
    pending: Arc<Semaphore>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// Receives datagrams until `shutdown` is cancelled, then handles what is already queued in the
/// socket and returns.
///
/// # Errors
/// [`TransportError::Socket`] when the socket fails for good; per-datagram problems never end
/// the loop.
pub async fn run(
    socket: UdpSocket,
    handler: Arc<ProbeHandler>,
    shutdown: CancellationToken,
) -> Result<(), TransportError> {
    run_with_pending_cap(socket, handler, shutdown, MAX_PENDING_UDP_SENDS).await
}

/// [`run`] with at most `pending_cap` later sends waiting at once.
async fn run_with_pending_cap(
    socket: UdpSocket,
    handler: Arc<ProbeHandler>,
    shutdown: CancellationToken,
    pending_cap: usize,
) -> Result<(), TransportError> {
    let socket_error = |source| TransportError::Socket {
        transport: "UDP",
        source,
    };
    let state = UdpSocketState::new(UdpSockRef::from(&socket)).map_err(socket_error)?;
    let local = socket.local_addr().map_err(socket_error)?;
    let replier = Replier {
        io: Arc::new(UdpIo { socket, state }),
        handler,
        pending: Arc::new(Semaphore::new(pending_cap)),
        tasks: TaskTracker::new(),
        shutdown: shutdown.child_token(),
    };
    let result = receive_loop(&replier, local, &shutdown).await;
    // Pending sends end now (also when the socket failed); none may outlive the listener (they
    // hold the handler, and with it the event pipeline).
    replier.shutdown.cancel();
    replier.tasks.close();
    replier.tasks.wait().await;
    result
}

async fn receive_loop(
    replier: &Replier,
    local: SocketAddr,
    shutdown: &CancellationToken,
) -> Result<(), TransportError> {
    let socket_error = |source| TransportError::Socket {
        transport: "UDP",
        source,
    };
    let UdpIo { socket, state } = &*replier.io;
    let mut buffers = vec![0u8; DATAGRAM_BUFFER_BYTES * RECEIVE_BATCH];
    let mut metas = [RecvMeta::default(); RECEIVE_BATCH];
    loop {
        let stopping = tokio::select! {
            biased;
            () = shutdown.cancelled() => true,
            ready = socket.readable() => {
                ready.map_err(socket_error)?;
                false
            }
        };
        // Read until the socket is empty (on shutdown this drains what already arrived), or
        // until this turn's share is used up.
        let receives = if stopping {
            RECEIVES_AT_SHUTDOWN
        } else {
            RECEIVES_PER_TURN
        };
        for _ in 0..receives {
            let received = {
                let mut slices: Vec<IoSliceMut<'_>> = buffers
                    .chunks_mut(DATAGRAM_BUFFER_BYTES)
                    .map(IoSliceMut::new)
                    .collect();
                socket.try_io(Interest::READABLE, || {
                    state.recv(UdpSockRef::from(&socket), &mut slices, &mut metas)
                })
            };
            match received {
                Ok(count) => {
                    for (meta, buffer) in metas
                        .iter()
                        .zip(buffers.chunks(DATAGRAM_BUFFER_BYTES))
                        .take(count)
                    {
                        handle_received(replier, local, meta, buffer);
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) if is_transient(&error) => {
                    tracing::debug!(%error, "transient UDP receive error");
                }
                Err(error) => return Err(socket_error(error)),
            }
        }
        if stopping {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}

/// Splits a receive (several datagrams when the kernel coalesced them) and handles each one.
fn handle_received(replier: &Replier, local: SocketAddr, meta: &RecvMeta, buffer: &[u8]) {
    let received = buffer.get(..meta.len.min(buffer.len())).unwrap_or_default();
    let destination = SocketAddr::new(meta.dst_ip.unwrap_or(local.ip()), local.port());
    let stride = if meta.stride == 0 {
        received.len().max(1)
    } else {
        meta.stride
    };
    let mut datagrams = received.chunks(stride).peekable();
    if datagrams.peek().is_none() {
        // A zero-byte datagram is a probe too (nmap sends them).
        handle_datagram(replier, meta, destination, &[]);
    }
    for datagram in datagrams {
        handle_datagram(replier, meta, destination, datagram);
    }
}

fn handle_datagram(replier: &Replier, meta: &RecvMeta, destination: SocketAddr, datagram: &[u8]) {
    let plan = replier.handler.handle(
        datagram,
        Transport::Udp,
        meta.addr,
        destination,
        ReplyLimit::AtMost(datagram.len()),
    );
    let path = ReplyPath {
        destination: meta.addr,
        src_ip: meta.dst_ip,
    };
    replier.carry_out(plan, path);
}

impl Replier {
    /// Sends the plan's datagrams now and schedules its timers.
    fn carry_out(&self, plan: ReplyPlan, path: ReplyPath) {
        for outgoing in &plan.immediate {
            self.send(outgoing, path);
        }
        for timer in plan.timers {
            self.schedule(timer, path);
        }
    }

    fn send(&self, outgoing: &Outgoing, path: ReplyPath) {
        let counters = self.handler.counters();
        let transmit = Transmit {
            destination: path.destination,
            ecn: None,
            contents: &outgoing.bytes,
            segment_size: None,
            src_ip: path.src_ip,
        };
        // Never wait to send: a full send buffer loses the reply, not the next probe.
        match self
            .io
            .state
            .try_send(UdpSockRef::from(&self.io.socket), &transmit)
        {
            Ok(()) => counters.reply_sent(Transport::Udp, outgoing.status),
            Err(error) => {
                counters.reply_failed(Transport::Udp);
                tracing::debug!(%error, source = %path.destination, "UDP reply not sent");
            }
        }
    }

    /// Fires `timer` after its delay on a task holding one of the pending slots; with none
    /// left the send is skipped and counted.
    fn schedule(&self, timer: Timer, path: ReplyPath) {
        let Ok(slot) = Arc::clone(&self.pending).try_acquire_owned() else {
            self.handler.counters().delayed_skipped(Transport::Udp);
            tracing::debug!(source = %path.destination, "later UDP send skipped: too many pending");
            return;
        };
        let replier = self.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = replier.shutdown.cancelled() => return,
                () = tokio::time::sleep(timer.after) => {}
            }
            drop(slot);
            let plan = replier.handler.fire(&timer, Transport::Udp);
            replier.carry_out(plan, path);
        });
    }
}

/// Errors that concern one datagram or an ICMP report, not the socket.
fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
    ) || error
        .raw_os_error()
        .is_some_and(|code| code == 90 /* EMSGSIZE */)
}

#[cfg(test)]
mod tests;
