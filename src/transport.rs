//! SIP listeners (UDP, TCP, TLS) and what they share: the probe handler that turns received bytes
//! into an event and maybe a reply, socket binding, and per-transport counters.
//!
//! Listener functions take already-bound sockets, so tests can bind port 0.

#[cfg(feature = "tls")]
pub mod certs;
mod connections;
mod handler;
mod pending;
mod stream;
pub mod tcp;
#[cfg(feature = "tls")]
mod tls;
pub mod udp;
pub mod udp_drops;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

pub use connections::{
    ConnectionCounters, SourceConnections, SourcePlace, raise_open_file_limit, source_group,
};
pub use handler::{ProbeHandler, ReplyLimit, TransportCounters};

use crate::event::Transport;
use crate::telemetry::{Count, Readings};

/// Kernel receive buffer requested for the UDP socket, so bursts wait in the kernel rather than
/// being dropped while the listener is busy.
const UDP_RECEIVE_BUFFER_BYTES: usize = 8 * 1024 * 1024;
/// Pending connections the kernel holds for TCP/TLS.
const LISTEN_BACKLOG: i32 = 1024;

/// Errors of a listener.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A socket could not be bound.
    #[error("cannot bind {transport} on {address}: {source}")]
    Bind {
        /// `UDP`, `TCP` or `TLS`.
        transport: &'static str,
        /// Address asked for.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The socket failed in a way the listener cannot recover from.
    #[error("{transport} listener failed: {source}")]
    Socket {
        /// `UDP`, `TCP` or `TLS`.
        transport: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// Limits that apply to every TCP/TLS connection.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Largest message; longer ones are recorded cut and the connection is closed.
    pub max_message_bytes: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// A message not complete (headers and body) this long after its first byte ends the
    /// connection (slowloris); what was received is recorded.
    pub message_timeout: Duration,
    /// TLS handshakes taking longer are abandoned.
    pub handshake_timeout: Duration,
    /// Concurrent connections (TCP and TLS each); further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Concurrent connections from one source IP (TCP and TLS each); further ones are closed at
    /// once and counted. 0 = no per-source cap.
    pub max_connections_per_source: usize,
    /// IPv6 sources count against the per-source cap by this prefix (an attacker holds a /64).
    pub ipv6_source_prefix: u8,
}

/// Creates a socket for `address` with address reuse, dual-stack for `[::]`, non-blocking, bound.
fn bound_socket(
    address: SocketAddr,
    kind: socket2::Type,
    protocol: socket2::Protocol,
    transport: &'static str,
) -> Result<socket2::Socket, TransportError> {
    let bind_error = |source| TransportError::Bind {
        transport,
        address,
        source,
    };
    let socket = socket2::Socket::new(socket2::Domain::for_address(address), kind, Some(protocol))
        .map_err(bind_error)?;
    socket.set_reuse_address(true).map_err(bind_error)?;
    if address.is_ipv6() {
        socket.set_only_v6(false).map_err(bind_error)?;
    }
    socket.set_nonblocking(true).map_err(bind_error)?;
    socket.bind(&address.into()).map_err(bind_error)?;
    Ok(socket)
}

/// Binds the UDP SIP socket, with a large receive buffer.
///
/// # Errors
/// [`TransportError::Bind`].
pub fn bind_udp(address: SocketAddr) -> Result<tokio::net::UdpSocket, TransportError> {
    let socket = bound_socket(address, socket2::Type::DGRAM, socket2::Protocol::UDP, "UDP")?;
    if let Err(error) = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER_BYTES) {
        tracing::debug!(%error, "cannot enlarge the UDP receive buffer");
    }
    tokio::net::UdpSocket::from_std(socket.into()).map_err(|source| TransportError::Bind {
        transport: "UDP",
        address,
        source,
    })
}

/// Binds a TCP listening socket (for SIP over TCP or TLS).
///
/// # Errors
/// [`TransportError::Bind`].
pub fn bind_tcp(
    address: SocketAddr,
    transport: &'static str,
) -> Result<tokio::net::TcpListener, TransportError> {
    let bind_error = |source| TransportError::Bind {
        transport,
        address,
        source,
    };
    let socket = bound_socket(
        address,
        socket2::Type::STREAM,
        socket2::Protocol::TCP,
        transport,
    )?;
    socket.listen(LISTEN_BACKLOG).map_err(bind_error)?;
    tokio::net::TcpListener::from_std(socket.into()).map_err(bind_error)
}

/// Binds UDP and TCP on the same address. With port 0 the kernel picks the UDP port and TCP is
/// bound to the same number (retrying with another port if that one is taken for TCP).
///
/// # Errors
/// [`TransportError::Bind`].
pub fn bind_udp_and_tcp(
    address: SocketAddr,
) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener), TransportError> {
    const ATTEMPTS_FOR_PORT_ZERO: usize = 20;
    let attempts = if address.port() == 0 {
        ATTEMPTS_FOR_PORT_ZERO
    } else {
        1
    };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = bind_udp(address)?;
        let udp_address = udp.local_addr().map_err(|source| TransportError::Bind {
            transport: "UDP",
            address,
            source,
        })?;
        match bind_tcp(SocketAddr::new(address.ip(), udp_address.port()), "TCP") {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or(TransportError::Bind {
        transport: "TCP",
        address,
        source: std::io::Error::other("no attempt made"),
    }))
}

/// Reports counters kept per transport (arrays in [`Transport::ALL`] order), each with a
/// `transport` label, in the health details under `section` (the key its name gives, then the
/// transport); `/metrics` shows the transports `in_metrics` accepts.
fn report_per_transport(
    out: &mut Readings,
    section: &str,
    help: &'static str,
    in_metrics: impl Fn(Transport) -> bool,
    counters: &[(&'static str, &[AtomicU64; 3])],
) {
    for (name, per_transport) in counters {
        for (transport, count) in Transport::ALL.into_iter().zip(per_transport.count()) {
            let label = transport.as_str();
            out.counter(name, help, count)
                .label("transport", label)
                .health_in(section, &[label])
                .in_metrics(in_metrics(transport));
        }
    }
}
