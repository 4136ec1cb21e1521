//! The UDP SIP listener: batched receive with each datagram's real destination address
//! (`IP_PKTINFO` / `IPV6_RECVPKTINFO`, through quinn-udp), whole datagrams up to 64 KiB, replies
//! sent from the address the probe was sent to.

use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::sync::Arc;

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::{ProbeHandler, ReplyLimit, TransportError};
use crate::event::Transport;

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
    let socket_error = |source| TransportError::Socket {
        transport: "UDP",
        source,
    };
    let state = UdpSocketState::new(UdpSockRef::from(&socket)).map_err(socket_error)?;
    let local = socket.local_addr().map_err(socket_error)?;
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
                        handle_received(&socket, &state, &handler, local, meta, buffer);
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
fn handle_received(
    socket: &UdpSocket,
    state: &UdpSocketState,
    handler: &ProbeHandler,
    local: SocketAddr,
    meta: &RecvMeta,
    buffer: &[u8],
) {
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
        handle_datagram(socket, state, handler, meta, destination, &[]);
    }
    for datagram in datagrams {
        handle_datagram(socket, state, handler, meta, destination, datagram);
    }
}

fn handle_datagram(
    socket: &UdpSocket,
    state: &UdpSocketState,
    handler: &ProbeHandler,
    meta: &RecvMeta,
    destination: SocketAddr,
    datagram: &[u8],
) {
    let reply = handler.handle(
        datagram,
        Transport::Udp,
        meta.addr,
        destination,
        ReplyLimit::AtMost(datagram.len()),
    );
    let Some(reply) = reply else {
        return;
    };
    let transmit = Transmit {
        destination: meta.addr,
        ecn: None,
        contents: &reply,
        segment_size: None,
        src_ip: meta.dst_ip,
    };
    // Never wait to send: a full send buffer loses the reply, not the next probe.
    match state.try_send(UdpSockRef::from(socket), &transmit) {
        Ok(()) => handler.counters().reply_sent(Transport::Udp),
        Err(error) => {
            handler.counters().reply_failed(Transport::Udp);
            tracing::debug!(%error, source = %meta.addr, "UDP reply not sent");
        }
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
