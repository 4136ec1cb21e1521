//! Connection bookkeeping for the TCP and TLS listeners (and the API): the per-source cap (live
//! connections per source IP, IPv6 sources grouped by their prefix, since one attacker holds a
//! whole /64), the connection counters shown in health and metrics, and the process's open-file
//! limit that every connection needs one descriptor of.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::report_per_transport;
use crate::event::Transport;
use crate::telemetry::{Count, Readings, Report};

/// Live connections per source on one listener: an IPv4 address, or an IPv6 prefix. An entry
/// exists only while its source has a connection open, so the map never holds more entries than
/// the listener's connection cap.
#[derive(Debug)]
pub struct SourceConnections {
    /// Most live connections from one source; 0 = no per-source cap.
    cap: usize,
    /// IPv6 sources are grouped by this many leading bits.
    ipv6_prefix: u8,
    live: Mutex<HashMap<IpAddr, usize>>,
}

impl SourceConnections {
    /// A tracker allowing `cap` live connections per source (0 = unlimited), IPv6 sources
    /// grouped by their first `ipv6_prefix` bits (at most 128).
    pub fn new(cap: usize, ipv6_prefix: u8) -> Arc<Self> {
        Arc::new(Self {
            cap,
            ipv6_prefix: ipv6_prefix.min(128),
            live: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a place for one more connection from `source`, or `None` when the source is at
    /// its cap. The place is given back when the returned guard is dropped.
    pub fn enter(self: &Arc<Self>, source: IpAddr) -> Option<SourcePlace> {
        let source = source_group(source, self.ipv6_prefix);
        if self.cap == 0 {
            return Some(SourcePlace {
                owner: None,
                source,
            });
        }
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let count = live.entry(source).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(SourcePlace {
            owner: Some(Arc::clone(self)),
            source,
        })
    }

    /// Sources with at least one live connection.
    #[cfg(test)]
    pub(crate) fn sources(&self) -> usize {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn leave(&self, source: IpAddr) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = live.get_mut(&source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                live.remove(&source);
            }
        }
    }
}

/// The source a connection counts against: an IPv4 address (IPv4-mapped IPv6 included), or the
/// first `ipv6_prefix` bits of an IPv6 address.
pub fn source_group(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
        v4 => v4,
    }
}

/// One connection's place in [`SourceConnections`]; released on drop.
#[derive(Debug)]
pub struct SourcePlace {
    owner: Option<Arc<SourceConnections>>,
    source: IpAddr,
}

impl Drop for SourcePlace {
    fn drop(&mut self) {
        if let Some(owner) = &self.owner {
            owner.leave(self.source);
        }
    }
}

/// Connection counters of the stream listeners, per transport in [`Transport::ALL`] order (the
/// UDP slot stays 0).
#[derive(Debug, Default)]
pub struct ConnectionCounters {
    /// Connections open now (a gauge).
    open: [AtomicU64; 3],
    /// Connections accepted and served since start-up.
    accepted: [AtomicU64; 3],
    /// Connections closed at once because their source already had its cap of live ones.
    over_source_cap: [AtomicU64; 3],
    /// Connections closed because a message was not complete in time after its first byte
    /// (slowloris).
    message_timeouts: [AtomicU64; 3],
    /// Connections closed because they stayed silent too long.
    idle_timeouts: [AtomicU64; 3],
    /// TLS connections whose handshake did not finish in time.
    handshake_timeouts: [AtomicU64; 3],
}

impl ConnectionCounters {
    /// Counts a connection accepted and served; it is open until the returned guard drops.
    pub(crate) fn opened(self: &Arc<Self>, transport: Transport) -> OpenConnection {
        bump(&self.accepted, transport);
        bump(&self.open, transport);
        OpenConnection {
            counters: Arc::clone(self),
            transport,
        }
    }

    /// Counts a connection refused because its source is at its cap.
    pub(crate) fn over_source_cap(&self, transport: Transport) {
        bump(&self.over_source_cap, transport);
    }

    /// Counts a connection closed because a message took too long (slowloris).
    pub(crate) fn message_timeout(&self, transport: Transport) {
        bump(&self.message_timeouts, transport);
    }

    /// Counts a connection closed because it was silent too long.
    pub(crate) fn idle_timeout(&self, transport: Transport) {
        bump(&self.idle_timeouts, transport);
    }

    /// Counts a TLS handshake that did not finish in time.
    #[cfg(feature = "tls")]
    pub(crate) fn handshake_timeout(&self, transport: Transport) {
        bump(&self.handshake_timeouts, transport);
    }
}

impl Report for ConnectionCounters {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["connections"]]
    }

    fn report(&self, out: &mut Readings) {
        const HELP: &str = "TCP/TLS connections: accepted, closed at once over the per-source \
                            cap, closed on a slow message (slowloris), on silence, or on a slow \
                            TLS handshake.";
        // UDP has no connections: health shows its zeros, metrics leave it out.
        let streams = |transport| transport != Transport::Udp;
        for (transport, open) in Transport::ALL.into_iter().zip(self.open.count()) {
            let label = transport.as_str();
            out.gauge("sentrypeer_connections_open", "Connections open now.", open)
                .label("transport", label)
                .health_in("connections", &[label])
                .in_metrics(streams(transport));
        }
        #[rustfmt::skip]
        report_per_transport(out, "connections", HELP, streams, &[
            ("sentrypeer_connections_accepted_total", &self.accepted),
            ("sentrypeer_connections_over_source_cap_total", &self.over_source_cap),
            ("sentrypeer_connections_message_timeouts_total", &self.message_timeouts),
            ("sentrypeer_connections_idle_timeouts_total", &self.idle_timeouts),
            ("sentrypeer_connections_handshake_timeouts_total", &self.handshake_timeouts),
        ]);
    }
}

/// Keeps one connection counted as open until dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection {
    counters: Arc<ConnectionCounters>,
    transport: Transport,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Some(open) = self.counters.open.get(self.transport.index()) {
            open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn bump(counters: &[AtomicU64; 3], transport: Transport) {
    if let Some(counter) = counters.get(transport.index()) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// File descriptors kept for everything but SIP connections (database, logs, API, peers).
const DESCRIPTORS_FOR_THE_REST: u64 = 256;

/// Raises the soft open-file limit to the hard one (the default soft limit of 1024 is below the
/// default connection caps), and warns when the caps can still exhaust it: the listeners would
/// then back off on `EMFILE` instead of serving up to their caps.
pub fn raise_open_file_limit(stream_listeners: u64, max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    let current = if limit.current == limit.maximum {
        limit.current
    } else {
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => raised.current,
            Err(error) => {
                tracing::debug!(%error, "cannot raise the open-file limit");
                limit.current
            }
        }
    };
    let needed = stream_listeners
        .saturating_mul(u64::try_from(max_connections).unwrap_or(u64::MAX))
        .saturating_add(DESCRIPTORS_FOR_THE_REST);
    match current {
        Some(current) if current < needed => tracing::warn!(
            open_file_limit = current,
            needed,
            "the open-file limit is below what the connection caps allow; raise it (ulimit -n, LimitNOFILE=) or lower --max-connections"
        ),
        _ => tracing::debug!(open_file_limit = ?current, "open-file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_cap_and_its_places_back() {
        let tracker = SourceConnections::new(2, 64);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = tracker.enter(a).expect("first");
        let second = tracker.enter(a).expect("second");
        assert!(tracker.enter(a).is_none(), "third over the cap");
        let other = tracker.enter(b).expect("another source is not affected");
        assert_eq!(tracker.sources(), 2);
        drop(first);
        let third = tracker.enter(a).expect("a place came back");
        drop((second, third, other));
        assert_eq!(tracker.sources(), 0, "no entry is left for gone sources");
    }

    #[test]
    fn ipv4_mapped_sources_count_as_their_ipv4_address() {
        let tracker = SourceConnections::new(1, 64);
        let v4: IpAddr = "192.0.2.9".parse().expect("ip");
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().expect("ip");
        let _held = tracker.enter(v4).expect("first");
        assert!(tracker.enter(mapped).is_none());
    }

    #[test]
    fn zero_means_no_cap_and_no_map() {
        let tracker = SourceConnections::new(0, 64);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let places: Vec<_> = (0..100).filter_map(|_| tracker.enter(a)).collect();
        assert_eq!(places.len(), 100);
        assert_eq!(tracker.sources(), 0);
    }

    #[test]
    fn ipv6_sources_count_by_their_prefix() {
        let tracker = SourceConnections::new(2, 64);
        let in_one_64 = ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2::3"];
        let places: Vec<_> = in_one_64
            .iter()
            .filter_map(|ip| tracker.enter(ip.parse().expect("ip")))
            .collect();
        assert_eq!(places.len(), 2, "one /64 is one source");
        let _other = tracker
            .enter("2001:db8:1:3::1".parse().expect("ip"))
            .expect("another /64");
        let whole = SourceConnections::new(1, 128);
        let _a = whole.enter("2001:db8::1".parse().expect("ip")).expect("a");
        assert!(
            whole.enter("2001:db8::2".parse().expect("ip")).is_some(),
            "/128: each address"
        );
        let ip = |text: &str| text.parse::<IpAddr>().expect("ip");
        assert_eq!(
            source_group(ip("2001:db8:1:2:3:4:5:6"), 48),
            ip("2001:db8:1::")
        );
        assert_eq!(source_group(ip("::ffff:192.0.2.1"), 64), ip("192.0.2.1"));
        assert_eq!(source_group(ip("2001:db8::1"), 0), ip("::"));
    }

    #[test]
    fn open_connections_are_a_gauge() {
        let counters = Arc::new(ConnectionCounters::default());
        let one = counters.opened(Transport::Tcp);
        let two = counters.opened(Transport::Tls);
        assert_eq!(counters.open.count(), [0, 1, 1]);
        drop(one);
        drop(two);
        assert_eq!(counters.open.count(), [0, 0, 0]);
        assert_eq!(counters.accepted.count(), [0, 1, 1]);
    }
}
