//! Datagrams the kernel dropped on a UDP socket because its receive buffer was full: the losses
//! that happen before the listener ever sees a datagram. Linux keeps a per-socket count, shown in
//! the `drops` column of `/proc/net/udp` and `/proc/net/udp6` on the socket's inode line; other
//! systems report nothing (`None`: `kernel_dropped` is `null` in `/api/v1/health`, and `/metrics`
//! leaves the counter out).

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use crate::telemetry::{Readings, Report};

/// The per-socket UDP tables of this process's network namespace.
const UDP_TABLES: [&str; 2] = ["/proc/net/udp", "/proc/net/udp6"];

/// Datagrams the kernel dropped on `socket` so far; `None` when it cannot be told (always, but
/// on Linux).
pub fn socket_drops(socket: &impl AsFd) -> Option<u64> {
    if cfg!(not(target_os = "linux")) {
        return None;
    }
    let inode = socket_inode(socket)?;
    UDP_TABLES.iter().find_map(|table| {
        let text = std::fs::read_to_string(table).ok()?;
        drops_of_inode(&text, inode)
    })
}

/// The socket's inode number, from its `/proc/self/fd` link (`socket:[12345]`).
fn socket_inode(socket: &impl AsFd) -> Option<u64> {
    let fd = socket.as_fd().as_raw_fd();
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The `drops` column (the last) of the line of a `/proc/net/udp` table whose `inode` column
/// (the tenth) is `inode`.
fn drops_of_inode(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let line_inode: u64 = fields.nth(9)?.parse().ok()?;
        if line_inode != inode {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

/// Watches the kernel drops of the UDP listener's socket. It holds a duplicate of the socket, so
/// the count stays readable after the listener has stopped (for the totals printed at
/// shutdown); cheap to clone.
#[derive(Debug, Clone)]
pub struct UdpDropMonitor {
    socket: Arc<socket2::Socket>,
}

impl UdpDropMonitor {
    /// Watches `socket`.
    ///
    /// # Errors
    /// The socket could not be duplicated (out of file descriptors).
    pub fn new(socket: &impl AsFd) -> std::io::Result<Self> {
        let socket = socket2::SockRef::from(socket).try_clone()?;
        Ok(Self {
            socket: Arc::new(socket),
        })
    }

    /// Datagrams dropped so far; `None` when the system does not tell.
    pub fn dropped(&self) -> Option<u64> {
        socket_drops(self.socket.as_ref())
    }
}

impl Report for UdpDropMonitor {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["events", "kernel_dropped"]]
    }

    fn report(&self, out: &mut Readings) {
        let health = ["events", "kernel_dropped"];
        match self.dropped() {
            Some(dropped) => {
                out.counter(
                    "sentrypeer_udp_kernel_dropped_total",
                    "Datagrams the kernel dropped on the UDP socket (receive buffer full).",
                    dropped,
                )
                .health(&health);
            }
            // The system does not tell: null in health, nothing in metrics.
            None => out.health(&health, serde_json::Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  75: 00000000:02CB 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2358 2 ffff81082a538c80 0
 111: 00000000:006F 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2286 2 ffff81042dd35c80 146348
";

    #[test]
    fn drops_are_read_from_the_line_of_the_inode() {
        assert_eq!(drops_of_inode(TABLE, 2286), Some(146_348));
        assert_eq!(drops_of_inode(TABLE, 2358), Some(0));
        assert_eq!(drops_of_inode(TABLE, 1), None, "no such socket");
        assert_eq!(drops_of_inode("", 2286), None);
        assert_eq!(drops_of_inode("header\ngarbage line\n", 2286), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_socket_that_overflows_reports_its_drops() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let monitor = UdpDropMonitor::new(&receiver).expect("monitor");
        assert_eq!(monitor.dropped(), Some(0));
        socket2::SockRef::from(&receiver)
            .set_recv_buffer_size(4096)
            .expect("small buffer");
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let target = receiver.local_addr().expect("address");
        // Nothing reads: a small buffer overflows after a few datagrams.
        for _ in 0..200 {
            sender.send_to(&[0u8; 1000], target).expect("send");
        }
        let dropped = monitor.dropped().expect("Linux reports drops");
        assert!(dropped > 0, "the full buffer dropped datagrams");
        drop(receiver);
        assert_eq!(
            monitor.dropped(),
            Some(dropped),
            "still readable after the listener's own handle is gone"
        );
    }
}
