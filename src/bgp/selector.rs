//! What the speaker announces: every IP on the live blocklist that the BGP policy lets through,
//! kept up to date from the blocklist's change stream (a new attacker is in the table as soon
//! as its change is published), and swept every few seconds for what no change announces: the
//! policy's `max_age` running out, and the recency the cap goes by. When the stream drops the
//! speaker for falling behind, it subscribes again and reads the whole list.

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::stats::SpeakerCounters;
use super::table::{Announced, RouteTable};
use crate::blocklist::{Blocklist, Change, EntryView, Key, Policy, SubscriptionEnded};

/// How often announced routes are checked against the blocklist and the policy.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How often the whole list is read again while the cap has turned routes away (an IP
/// withdrawn at the cap comes back when it is seen again, which publishes no change).
const REFILL_INTERVAL: Duration = Duration::from_secs(60);

/// The blocklist, the BGP policy and the table they fill.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    pub(crate) blocklist: Arc<Blocklist>,
    pub(crate) policy: Policy,
    pub(crate) table: Arc<RouteTable>,
    pub(crate) counters: Arc<super::stats::SpeakerStatus>,
}

impl Selector {
    /// Fills the table and keeps it up to date until `stop`.
    pub(crate) async fn run(self, stop: CancellationToken) {
        loop {
            // Subscribe first, then read: nothing that changes meanwhile is missed.
            let mut changes = self.blocklist.subscribe();
            self.refill_blocking().await;
            let mut capped_at_refill = self.counters().capped.load(Ordering::Relaxed);
            let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
            let mut refill = tokio::time::interval(REFILL_INTERVAL);
            sweep.tick().await;
            refill.tick().await;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    change = changes.recv() => match change {
                        Ok(change) => self.apply(&change, Timestamp::now()),
                        Err(SubscriptionEnded::TooSlow { missed }) => {
                            tracing::warn!(missed, "BGP speaker fell behind the blocklist; reading it again");
                            self.counters().resyncs.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Err(_) => return,
                    },
                    _ = sweep.tick() => self.sweep_blocking().await,
                    _ = refill.tick() => {
                        let capped = self.counters().capped.load(Ordering::Relaxed);
                        if capped != capped_at_refill {
                            self.refill_blocking().await;
                            capped_at_refill = self.counters().capped.load(Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    }

    fn counters(&self) -> &SpeakerCounters {
        &self.counters.counters
    }

    /// One change of the blocklist.
    pub(crate) fn apply(&self, change: &Change, now: Timestamp) {
        let Key::Ip(ip) = change.key else {
            return;
        };
        if change.kind.is_removal() {
            self.withdraw(ip);
        } else {
            self.decide(ip, &change.entry, now);
        }
    }

    /// Announces `ip` if the policy lets it through, else withdraws it.
    fn decide(&self, ip: IpAddr, entry: &EntryView, now: Timestamp) {
        match self.policy.decide_ip(ip, entry, now) {
            Ok(verdict) => {
                let outcome = self
                    .table
                    .announce(ip.to_canonical(), verdict.last_seen.as_second());
                if matches!(outcome, Announced::AddedAtCap | Announced::Refused) {
                    self.counters().capped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => self.withdraw(ip),
        }
    }

    fn withdraw(&self, ip: IpAddr) {
        if self.table.withdraw(ip.to_canonical()) {
            self.counters().withdrawn.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Makes the table what the whole list and the policy say.
    pub(crate) fn refill(&self, now: Timestamp) {
        let mut wanted = Vec::new();
        self.blocklist.for_each_ip(|ip, entry| {
            if let Ok(verdict) = self.policy.decide_ip(ip, &entry, now) {
                wanted.push((ip.to_canonical(), verdict.last_seen.as_second()));
            }
            ControlFlow::Continue(())
        });
        let found = wanted.len();
        let withdrawn = self.table.replace_all(wanted);
        let routes = self.table.len();
        let over_cap = found.saturating_sub(routes) as u64;
        self.counters()
            .capped
            .fetch_add(over_cap, Ordering::Relaxed);
        self.counters()
            .withdrawn
            .fetch_add(withdrawn as u64, Ordering::Relaxed);
        tracing::debug!(
            routes,
            withdrawn,
            over_cap,
            "BGP table filled from the blocklist"
        );
    }

    /// Checks every announced route against the list and the policy again.
    pub(crate) fn sweep(&self, now: Timestamp) {
        for ip in self.table.ips() {
            match self.blocklist.lookup_ip(ip) {
                Some(entry) => self.decide(ip, &entry, now),
                None => self.withdraw(ip),
            }
        }
    }

    async fn refill_blocking(&self) {
        let selector = self.clone();
        let _ = tokio::task::spawn_blocking(move || selector.refill(Timestamp::now())).await;
    }

    async fn sweep_blocking(&self) {
        let selector = self.clone();
        let _ = tokio::task::spawn_blocking(move || selector.sweep(Timestamp::now())).await;
    }
}

#[cfg(test)]
mod tests;
