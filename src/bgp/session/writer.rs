//! A connection's writing task: the state machine's messages first, in order; once established,
//! the routes, as the session's outbox says they changed (coalesced for a moment, so a burst of
//! new attackers goes out as a few full UPDATEs), the whole table first, then End-of-RIB.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustbgpd_wire::Afi;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bgp::stats::PeerStatus;
use crate::bgp::table::{Outbox, RouteTable};
use crate::bgp::update::UpdateEncoder;

/// How long changes gather before they are sent: a burst becomes few UPDATEs, and a single new
/// attacker still reaches the peer at once.
const COALESCE: Duration = Duration::from_millis(20);
/// Dirty prefixes handled per round (more wait for the next round, after queued messages).
const MAX_PER_ROUND: usize = 8_192;

/// What the session hands its writer.
#[derive(Debug)]
pub(super) enum Outgoing {
    /// An encoded message (OPEN, KEEPALIVE, NOTIFICATION).
    Message(Vec<u8>),
    /// The session is established: send routes from now on.
    Routes(Box<RouteFeed>),
}

/// Where an established session's routes come from and how they are encoded.
#[derive(Debug)]
pub(super) struct RouteFeed {
    /// The session's outbox.
    pub(super) outbox: Arc<Outbox>,
    /// The announced routes.
    pub(super) table: Arc<RouteTable>,
    /// Builds the UPDATEs.
    pub(super) encoder: UpdateEncoder,
    /// Whether IPv4 unicast was negotiated.
    pub(super) ipv4: bool,
    /// Whether IPv6 unicast was negotiated.
    pub(super) ipv6: bool,
    /// Whether End-of-RIB followed the first full table.
    pub(super) end_of_rib_sent: bool,
}

/// Writes until the session drops its sender (then shuts the stream down) or a write fails
/// (then cancels `failed`).
pub(super) async fn run(
    mut stream: OwnedWriteHalf,
    mut control: mpsc::Receiver<Outgoing>,
    peer: Arc<PeerStatus>,
    failed: CancellationToken,
) {
    let mut feed: Option<Box<RouteFeed>> = None;
    let outcome: std::io::Result<()> = async {
        loop {
            tokio::select! {
                biased;
                next = control.recv() => match next {
                    None => return stream.shutdown().await,
                    Some(Outgoing::Message(bytes)) => stream.write_all(&bytes).await?,
                    Some(Outgoing::Routes(routes)) => feed = Some(routes),
                },
                () = dirty(feed.as_deref()) => {
                    tokio::time::sleep(COALESCE).await;
                    if let Some(routes) = feed.as_deref_mut() {
                        for (bytes, announced, withdrawn) in routes.next_round() {
                            stream.write_all(&bytes).await?;
                            peer.updates_sent.fetch_add(1, Ordering::Relaxed);
                            peer.prefixes_announced.fetch_add(announced as u64, Ordering::Relaxed);
                            peer.prefixes_withdrawn.fetch_add(withdrawn as u64, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    }
    .await;
    if let Err(error) = outcome {
        tracing::debug!(peer = %peer.options.address, %error, "BGP write failed");
        failed.cancel();
    }
}

/// Completes when the feed's outbox has something (never without a feed).
async fn dirty(feed: Option<&RouteFeed>) {
    match feed {
        Some(feed) => feed.outbox.notify.notified().await,
        None => std::future::pending().await,
    }
}

impl RouteFeed {
    /// The UPDATEs of one round, each with the prefixes it announces and withdraws: withdrawals
    /// first, then announcements, then End-of-RIB after the first full table.
    fn next_round(&mut self) -> Vec<(Vec<u8>, usize, usize)> {
        let (announce, withdraw, full) = self.changes();
        let mut messages = Vec::new();
        match self.encoder.withdrawals(&withdraw) {
            Ok(encoded) => messages.extend(encoded.into_iter().map(|(bytes, n)| (bytes, 0, n))),
            Err(error) => tracing::error!(%error, "cannot encode BGP withdrawals"),
        }
        match self.encoder.announcements(&announce) {
            Ok(encoded) => messages.extend(encoded.into_iter().map(|(bytes, n)| (bytes, n, 0))),
            Err(error) => tracing::error!(%error, "cannot encode BGP announcements"),
        }
        if full && !self.end_of_rib_sent {
            self.end_of_rib_sent = true;
            for (afi, negotiated) in [(Afi::Ipv4, self.ipv4), (Afi::Ipv6, self.ipv6)] {
                if let (true, Ok(bytes)) = (negotiated, self.encoder.end_of_rib(afi)) {
                    messages.push((bytes, 0, 0));
                }
            }
        }
        messages
    }

    /// What to announce and withdraw now (recorded as sent), and whether the whole table was
    /// compared.
    fn changes(&self) -> (Vec<IpAddr>, Vec<IpAddr>, bool) {
        let (dirty, full, again) = self.take_dirty();
        let present: Vec<bool> = if full {
            Vec::new()
        } else {
            self.table.contains_each(&dirty)
        };
        let table: HashSet<IpAddr> = if full {
            self.table.ips().into_iter().collect()
        } else {
            HashSet::new()
        };
        let mut state = self.outbox.lock();
        let mut announce = Vec::new();
        let mut withdraw = Vec::new();
        if full {
            withdraw.extend(state.sent.iter().filter(|ip| !table.contains(ip)));
            announce.extend(
                (table.iter())
                    .filter(|ip| (again || !state.sent.contains(ip)) && self.family_sent(ip)),
            );
        } else {
            for (ip, present) in dirty.into_iter().zip(present) {
                let sent = state.sent.contains(&ip);
                if present && !sent && self.family_sent(&ip) {
                    announce.push(ip);
                } else if !present && sent {
                    withdraw.push(ip);
                }
            }
        }
        for ip in &withdraw {
            state.sent.remove(ip);
        }
        state.sent.extend(announce.iter().copied());
        (announce, withdraw, full)
    }

    /// Up to [`MAX_PER_ROUND`] dirty prefixes (waking the next round if more wait), or a full
    /// comparison when asked for (and whether to announce everything again).
    fn take_dirty(&self) -> (Vec<IpAddr>, bool, bool) {
        let mut state = self.outbox.lock();
        if state.resync {
            state.resync = false;
            state.dirty.clear();
            let again = std::mem::take(&mut state.announce_again);
            return (Vec::new(), true, again);
        }
        let taken: Vec<IpAddr> = state.dirty.iter().take(MAX_PER_ROUND).copied().collect();
        for ip in &taken {
            state.dirty.remove(ip);
        }
        if !state.dirty.is_empty() {
            self.outbox.notify.notify_one();
        }
        (taken, false, false)
    }

    fn family_sent(&self, ip: &IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(_) => self.ipv4,
            IpAddr::V6(_) => self.ipv6,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::bgp::options::BgpOptions;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))
    }

    fn feed(table: &Arc<RouteTable>) -> RouteFeed {
        let options = BgpOptions {
            local_as: 64512,
            router_id: Ipv4Addr::new(192, 0, 2, 10),
            next_hop_v4: Ipv4Addr::new(192, 0, 2, 1),
            next_hop_v6: "100::1".parse().expect("address"),
            communities: Vec::new(),
            large_communities: Vec::new(),
            max_routes: 10,
            peers: Vec::new(),
        };
        RouteFeed {
            outbox: table.open_outbox(),
            table: Arc::clone(table),
            encoder: UpdateEncoder::new(&options, 65001, true),
            ipv4: true,
            ipv6: true,
            end_of_rib_sent: false,
        }
    }

    #[test]
    fn a_route_refresh_announces_everything_again_and_still_withdraws_what_left() {
        let table = Arc::new(RouteTable::new(10));
        table.announce(ip(1), 100);
        table.announce(ip(2), 100);
        let feed = feed(&table);
        let (mut announced, withdrawn, full) = feed.changes();
        announced.sort();
        assert_eq!(
            (announced, withdrawn, full),
            (vec![ip(1), ip(2)], vec![], true)
        );

        // ip(2) leaves the table, and a refresh comes before the writer looked.
        table.withdraw(ip(2));
        feed.outbox.resync(true);
        let (announced, withdrawn, full) = feed.changes();
        assert_eq!(
            (announced, withdrawn, full),
            (vec![ip(1)], vec![ip(2)], true)
        );

        // A plain comparison announces nothing already sent.
        feed.outbox.resync(false);
        assert_eq!(feed.changes(), (vec![], vec![], true));
    }
}
