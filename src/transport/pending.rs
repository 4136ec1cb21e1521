//! Later sends of reply plans on one TCP/TLS connection: the due time of each timer, bounded per
//! connection, fired by the connection's own task while it is open.

use std::time::Instant;

use crate::sip::Timer;

/// Timers one connection may hold; more are skipped and counted.
pub(crate) const MAX_PENDING_PER_CONNECTION: usize = 64;

/// Timers waiting on one connection.
#[derive(Debug, Default)]
pub(crate) struct PendingTimers {
    timers: Vec<(Instant, Timer)>,
}

impl PendingTimers {
    /// Adds `timers` due from `now`; returns how many were skipped because the connection holds
    /// [`MAX_PENDING_PER_CONNECTION`] already.
    pub(crate) fn add(&mut self, timers: Vec<Timer>, now: Instant) -> usize {
        let mut skipped = 0;
        for timer in timers {
            if self.timers.len() < MAX_PENDING_PER_CONNECTION {
                self.timers.push((now + timer.after, timer));
            } else {
                skipped += 1;
            }
        }
        skipped
    }

    /// When the next timer is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.timers.iter().map(|(due, _)| *due).min()
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let (mut due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.timers)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.timers = waiting;
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, timer)| timer).collect()
    }
}

/// Waits until `due`, or forever when there is nothing pending.
pub(crate) async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await,
        None => std::future::pending().await,
    }
}
