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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sip::{Inbound, Pbx, Personality, parse};

    /// A real timer: the final-response timer of a generic-personality INVITE.
    fn timer(ring_ms: u64) -> Timer {
        let mut personality = Personality::builtin("generic").expect("built in");
        personality.invite.ring = Duration::from_millis(ring_ms);
        let now = Instant::now();
        let mut pbx = Pbx::new(personality, [0; 16], now);
        let invite = b"INVITE sip:1@x SIP/2.0\r\nVia: SIP/2.0/TCP a:1;branch=z9hG4bK1\r\n\
From: <sip:a@x>;tag=1\r\nTo: <sip:1@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        let probe = parse(invite);
        let inbound = Inbound {
            probe: &probe,
            source: "127.0.0.1:5000".parse().expect("address"),
            local: "127.0.0.1:5060".parse().expect("address"),
            transport: "TCP",
            max_reply_bytes: None,
        };
        pbx.handle(&inbound, now).timers.remove(0)
    }

    #[test]
    fn timers_come_out_when_due_earliest_first_and_the_cap_holds() {
        let now = Instant::now();
        let mut pending = PendingTimers::default();
        assert_eq!(pending.next_due(), None);
        assert_eq!(pending.add(vec![timer(300), timer(100)], now), 0);
        assert_eq!(pending.next_due(), Some(now + Duration::from_millis(100)));
        assert!(pending.take_due(now).is_empty());
        let due = pending.take_due(now + Duration::from_millis(400));
        let delays: Vec<Duration> = due.iter().map(|timer| timer.after).collect();
        assert_eq!(
            delays,
            [Duration::from_millis(100), Duration::from_millis(300)]
        );
        assert_eq!(pending.next_due(), None);
        let many = vec![timer(1); MAX_PENDING_PER_CONNECTION + 3];
        assert_eq!(pending.add(many, now), 3);
    }
}
