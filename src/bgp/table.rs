//! The routes the speaker announces (one host route per IP), capped by least recently seen, and
//! each established session's outbox: the prefixes that changed since it last sent, and what it
//! has announced. Sessions never wait on the table's writer nor the other way round: a change
//! marks the prefix dirty in every outbox (coalescing per prefix), and a session that falls too
//! far behind is switched to a full comparison of the table against what it sent.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Dirty prefixes one outbox holds before it falls back to a full comparison.
const MAX_DIRTY: usize = 65_536;

/// What happened to the table on an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announced {
    /// A new route.
    Added,
    /// Already announced; its last-seen time is updated.
    Refreshed,
    /// A new route, and the least recently seen one was withdrawn to make room.
    AddedAtCap,
    /// Not added: the table is full of routes seen more recently.
    Refused,
}

/// One announced route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    /// The IP's newest counted event, Unix seconds.
    pub(crate) last_seen: i64,
}

/// The announced routes and the outboxes of the established sessions.
#[derive(Debug)]
pub(crate) struct RouteTable {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    routes: HashMap<IpAddr, Route>,
    by_age: BTreeSet<(i64, IpAddr)>,
    cap: usize,
    outboxes: Vec<Arc<Outbox>>,
}

impl RouteTable {
    /// An empty table of at most `cap` routes (at least 1).
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                routes: HashMap::new(),
                by_age: BTreeSet::new(),
                cap: cap.max(1),
                outboxes: Vec::new(),
            }),
        }
    }

    /// Announces `ip` (or refreshes its last-seen time). At the cap the least recently seen
    /// route is withdrawn first, unless `ip` is older than all of them.
    pub(crate) fn announce(&self, ip: IpAddr, last_seen: i64) -> Announced {
        let mut inner = self.lock();
        if let Some(route) = inner.routes.get(&ip).copied() {
            if route.last_seen != last_seen {
                inner.by_age.remove(&(route.last_seen, ip));
                inner.by_age.insert((last_seen, ip));
                inner.routes.insert(ip, Route { last_seen });
            }
            return Announced::Refreshed;
        }
        let mut outcome = Announced::Added;
        if inner.routes.len() >= inner.cap {
            let Some(&(oldest_seen, oldest)) = inner.by_age.first() else {
                return Announced::Refused;
            };
            if oldest_seen > last_seen {
                return Announced::Refused;
            }
            inner.remove(oldest);
            outcome = Announced::AddedAtCap;
        }
        inner.routes.insert(ip, Route { last_seen });
        inner.by_age.insert((last_seen, ip));
        inner.mark_dirty(ip);
        outcome
    }

    /// Withdraws `ip`; whether it was announced.
    pub(crate) fn withdraw(&self, ip: IpAddr) -> bool {
        self.lock().remove(ip)
    }

    /// Makes the table exactly `wanted` (IP and last-seen), keeping the cap by recency; the
    /// routes withdrawn.
    pub(crate) fn replace_all(&self, mut wanted: Vec<(IpAddr, i64)>) -> usize {
        // Newest first, so the cap keeps the most recently seen.
        wanted.sort_unstable_by_key(|route| std::cmp::Reverse(route.1));
        let cap = self.lock().cap;
        wanted.truncate(cap);
        let keep: HashSet<IpAddr> = wanted.iter().map(|(ip, _)| *ip).collect();
        let stale: Vec<IpAddr> = self
            .ips()
            .into_iter()
            .filter(|ip| !keep.contains(ip))
            .collect();
        for ip in &stale {
            self.withdraw(*ip);
        }
        for (ip, last_seen) in wanted {
            self.announce(ip, last_seen);
        }
        stale.len()
    }

    /// The announced IPs.
    pub(crate) fn ips(&self) -> Vec<IpAddr> {
        self.lock().routes.keys().copied().collect()
    }

    /// The announced routes.
    pub(crate) fn routes(&self) -> Vec<(IpAddr, Route)> {
        let inner = self.lock();
        inner
            .routes
            .iter()
            .map(|(ip, route)| (*ip, *route))
            .collect()
    }

    /// Whether each IP is announced.
    pub(crate) fn contains_each(&self, ips: &[IpAddr]) -> Vec<bool> {
        let inner = self.lock();
        ips.iter().map(|ip| inner.routes.contains_key(ip)).collect()
    }

    /// How many routes are announced.
    pub(crate) fn len(&self) -> usize {
        self.lock().routes.len()
    }

    /// A new outbox that first compares the whole table (a session just came up).
    pub(crate) fn open_outbox(&self) -> Arc<Outbox> {
        let outbox = Arc::new(Outbox::default());
        outbox.lock().resync = true;
        self.lock().outboxes.push(Arc::clone(&outbox));
        outbox.notify.notify_one();
        outbox
    }

    /// Stops marking changes in `outbox` (its session went down).
    pub(crate) fn close_outbox(&self, outbox: &Arc<Outbox>) {
        self.lock()
            .outboxes
            .retain(|open| !Arc::ptr_eq(open, outbox));
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn remove(&mut self, ip: IpAddr) -> bool {
        let Some(route) = self.routes.remove(&ip) else {
            return false;
        };
        self.by_age.remove(&(route.last_seen, ip));
        self.mark_dirty(ip);
        true
    }

    fn mark_dirty(&self, ip: IpAddr) {
        for outbox in &self.outboxes {
            outbox.mark_dirty(ip);
        }
    }
}

/// One established session's view of the table: what changed since it last looked, and what
/// it has announced.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    state: Mutex<OutboxState>,
    /// Woken when something is dirty.
    pub(crate) notify: Notify,
}

/// An outbox's contents.
#[derive(Debug, Default)]
pub(crate) struct OutboxState {
    /// Prefixes changed since the session last looked.
    pub(crate) dirty: HashSet<IpAddr>,
    /// Compare the whole table instead (too many dirty, or a new or refreshed session).
    pub(crate) resync: bool,
    /// With `resync`: announce every route again, sent or not (a ROUTE-REFRESH).
    pub(crate) announce_again: bool,
    /// What the session has announced.
    pub(crate) sent: HashSet<IpAddr>,
}

impl Outbox {
    /// Locks the contents.
    pub(crate) fn lock(&self) -> MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `ip` was announced by this session.
    pub(crate) fn has_sent(&self, ip: &IpAddr) -> bool {
        self.lock().sent.contains(ip)
    }

    /// Asks for the whole table to be compared and, if `again`, announced again (a ROUTE-REFRESH);
    /// what was sent and left the table is withdrawn either way.
    pub(crate) fn resync(&self, again: bool) {
        let mut state = self.lock();
        state.resync = true;
        state.announce_again |= again;
        state.dirty.clear();
        drop(state);
        self.notify.notify_one();
    }

    fn mark_dirty(&self, ip: IpAddr) {
        let mut state = self.lock();
        if state.resync {
            return;
        }
        if state.dirty.len() >= MAX_DIRTY {
            state.dirty.clear();
            state.resync = true;
        } else {
            state.dirty.insert(ip);
        }
        drop(state);
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    #[test]
    fn at_the_cap_the_least_recently_seen_route_goes_first() {
        let table = RouteTable::new(2);
        assert_eq!(table.announce(ip(1), 100), Announced::Added);
        assert_eq!(table.announce(ip(2), 200), Announced::Added);
        // Seen again: now the most recent.
        assert_eq!(table.announce(ip(1), 300), Announced::Refreshed);
        assert_eq!(table.announce(ip(3), 250), Announced::AddedAtCap);
        let mut ips = table.ips();
        ips.sort();
        assert_eq!(ips, vec![ip(1), ip(3)]);
        // Older than everything announced: not added.
        assert_eq!(table.announce(ip(4), 10), Announced::Refused);
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn changes_mark_every_open_outbox_and_closed_ones_no_more() {
        let table = RouteTable::new(10);
        let outbox = table.open_outbox();
        assert!(
            outbox.lock().resync,
            "a new outbox compares the whole table"
        );
        outbox.lock().resync = false;
        table.announce(ip(1), 1);
        table.withdraw(ip(2));
        table.withdraw(ip(1));
        assert_eq!(outbox.lock().dirty, HashSet::from([ip(1)]));
        table.close_outbox(&outbox);
        table.announce(ip(5), 1);
        assert!(!outbox.lock().dirty.contains(&ip(5)));
    }

    #[test]
    fn an_outbox_too_far_behind_switches_to_a_full_comparison() {
        let table = RouteTable::new(MAX_DIRTY * 2);
        let outbox = table.open_outbox();
        outbox.lock().resync = false;
        for n in 0..=MAX_DIRTY as u32 {
            table.announce(IpAddr::from((0x0A00_0000 + n).to_be_bytes()), 1);
        }
        let state = outbox.lock();
        assert!(state.resync);
        assert!(state.dirty.len() < MAX_DIRTY);
    }

    #[test]
    fn replace_all_keeps_the_most_recent_within_the_cap_and_withdraws_the_rest() {
        let table = RouteTable::new(2);
        table.announce(ip(9), 1);
        let withdrawn = table.replace_all(vec![(ip(1), 10), (ip(2), 30), (ip(3), 20)]);
        assert_eq!(withdrawn, 1);
        let mut ips = table.ips();
        ips.sort();
        assert_eq!(ips, vec![ip(2), ip(3)]);
    }
}
