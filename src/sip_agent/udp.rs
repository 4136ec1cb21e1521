//! The agent's UDP loop: batched receive with each datagram's destination address (replies
//! leave from the address the request was sent to, as capture's listener does), the redirect
//! server's answer sent at once, Timer G retransmissions when due, and once a second the rate
//! limiter's quiet sources forgotten. One task; run it on a thread of its own.

use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::{Admission, Agent, AgentError, AgentTransport};
use crate::sip::redirect::{Outcome, RedirectServer, Request};
use crate::transport::udp::is_transient;

/// Room for the largest UDP datagram.
const DATAGRAM_BUFFER_BYTES: usize = 65_536;
/// Datagrams read per system call.
const RECEIVE_BATCH: usize = 8;
/// Receive calls before the loop looks at its timers and the shutdown signal again.
const RECEIVES_PER_TURN: usize = 32;
/// How often quiet sources' rate state is forgotten and the gauges refreshed.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);
/// A reply may be as large as its request or this (RFC 3261 §18.1.1: what fits any path's MTU
/// without fragments), whichever is larger: only allowed sources are answered, and a small
/// INVITE's answer still carries its verdict header.
const UDP_REPLY_LIMIT: usize = 1300;

/// The socket and its quinn-udp state.
struct Socket {
    socket: UdpSocket,
    state: UdpSocketState,
}

/// Answers dips on `socket` until `stop` is cancelled.
///
/// # Errors
/// [`AgentError::Socket`] when the socket fails for good; per-datagram problems never end the
/// loop.
pub async fn run(
    socket: UdpSocket,
    agent: Arc<Agent>,
    stop: CancellationToken,
) -> Result<(), AgentError> {
    let socket_error = |source| AgentError::Socket {
        transport: "UDP",
        source,
    };
    let state = UdpSocketState::new(UdpSockRef::from(&socket)).map_err(socket_error)?;
    let local = socket.local_addr().map_err(socket_error)?;
    let io = Socket { socket, state };
    let mut server = agent.redirect_server(false);
    let mut buffers = vec![0u8; DATAGRAM_BUFFER_BYTES * RECEIVE_BATCH];
    let mut metas = [RecvMeta::default(); RECEIVE_BATCH];
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    loop {
        let next_due = server.next_due();
        tokio::select! {
            biased;
            () = stop.cancelled() => return Ok(()),
            ready = io.socket.readable() => {
                ready.map_err(socket_error)?;
                for _ in 0..RECEIVES_PER_TURN {
                    let received = {
                        let mut slices: Vec<IoSliceMut<'_>> = buffers
                            .chunks_mut(DATAGRAM_BUFFER_BYTES)
                            .map(IoSliceMut::new)
                            .collect();
                        io.socket.try_io(Interest::READABLE, || {
                            io.state.recv(UdpSockRef::from(&io.socket), &mut slices, &mut metas)
                        })
                    };
                    match received {
                        Ok(count) => {
                            for (meta, buffer) in metas.iter().zip(buffers.chunks(DATAGRAM_BUFFER_BYTES)).take(count) {
                                let datagram = buffer.get(..meta.len.min(buffer.len())).unwrap_or_default();
                                answer(&io, &agent, &mut server, meta, local, datagram);
                            }
                        }
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(error) if is_transient(&error) => {
                            tracing::debug!(%error, "transient SIP agent UDP receive error");
                        }
                        Err(error) => return Err(socket_error(error)),
                    }
                }
            }
            () = sleep_until(next_due) => retransmit(&io, &agent, &mut server),
            _ = housekeeping.tick() => {
                agent.forget_quiet_sources();
                agent.counters.transactions(server.transactions(), server.evicted());
            }
        }
    }
}

/// Answers one datagram (GRO-coalesced receives are not enabled on this socket: one datagram
/// per receive).
fn answer(
    io: &Socket,
    agent: &Agent,
    server: &mut RedirectServer,
    meta: &RecvMeta,
    local: SocketAddr,
    datagram: &[u8],
) {
    let received_at = Instant::now();
    let source = meta.addr;
    match agent.admit(source, AgentTransport::Udp) {
        Admission::Answer => {}
        // No reply: a refused or flooding source must not get us to send anything.
        Admission::Refused | Admission::RateLimited => return,
    }
    let probe = crate::sip::parse(datagram);
    let request = Request {
        probe: &probe,
        source,
        max_reply_bytes: Some(datagram.len().max(UDP_REPLY_LIMIT)),
    };
    let handled = server.handle(&request, received_at, |dip| {
        agent.decide(dip, Timestamp::now())
    });
    agent.counters.handled(handled.outcome);
    let from = Some(meta.dst_ip.unwrap_or(local.ip()));
    for reply in &handled.replies {
        send(io, agent, source, from, &reply.bytes);
    }
    if handled.outcome == Outcome::Dip {
        agent.counters.dip_took(received_at.elapsed());
    }
    tracing::debug!(%source, outcome = ?handled.outcome, "SIP agent request");
}

/// Sends the final responses whose Timer G is due, within each destination's rate.
fn retransmit(io: &Socket, agent: &Agent, server: &mut RedirectServer) {
    let due = server.due(Instant::now());
    let mut sent = 0;
    for retransmission in &due.retransmissions {
        let destination = retransmission.destination;
        if agent.within_rate(destination.ip()) {
            send(io, agent, destination, None, &retransmission.bytes);
            sent += 1;
        }
    }
    agent.counters.timers_fired(sent, due.timed_out);
}

/// Sends one datagram without waiting: a full send buffer loses the reply, counted.
fn send(io: &Socket, agent: &Agent, destination: SocketAddr, from: Option<IpAddr>, bytes: &[u8]) {
    let transmit = Transmit {
        destination,
        ecn: None,
        contents: bytes,
        segment_size: None,
        src_ip: from,
    };
    if let Err(error) = io.state.try_send(UdpSockRef::from(&io.socket), &transmit) {
        agent.counters.reply_failed();
        tracing::debug!(%error, %destination, "SIP agent reply not sent");
    }
}

/// Sleeps until `at`, forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
