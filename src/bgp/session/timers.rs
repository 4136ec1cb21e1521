//! The state machine's three timers (connect-retry, hold, keepalive) as deadlines, awaited
//! together.

use std::time::Duration;

use rustbgpd_fsm::{Event, TimerType};
use tokio::time::Instant;

/// Deadlines of the running timers.
#[derive(Debug, Default)]
pub(super) struct Timers {
    connect_retry: Option<Instant>,
    hold: Option<Instant>,
    keepalive: Option<Instant>,
}

impl Timers {
    /// Starts (or restarts) `timer` to fire in `seconds`.
    pub(super) fn start(&mut self, timer: TimerType, seconds: u32) {
        if let Some(slot) = self.slot(timer) {
            *slot = Some(Instant::now() + Duration::from_secs(u64::from(seconds)));
        }
    }

    /// Stops `timer`.
    pub(super) fn stop(&mut self, timer: TimerType) {
        if let Some(slot) = self.slot(timer) {
            *slot = None;
        }
    }

    /// Waits for the earliest running timer and stops it; its event. Never completes while no
    /// timer runs.
    pub(super) async fn expired(&mut self) -> Event {
        let earliest = [
            (self.connect_retry, TimerType::ConnectRetry),
            (self.hold, TimerType::Hold),
            (self.keepalive, TimerType::Keepalive),
        ]
        .into_iter()
        .filter_map(|(deadline, timer)| deadline.map(|deadline| (deadline, timer)))
        .min_by_key(|(deadline, _)| *deadline);
        let Some((deadline, timer)) = earliest else {
            return std::future::pending().await;
        };
        tokio::time::sleep_until(deadline).await;
        self.stop(timer);
        match timer {
            TimerType::Hold => Event::HoldTimerExpires,
            TimerType::Keepalive => Event::KeepaliveTimerExpires,
            _ => Event::ConnectRetryTimerExpires,
        }
    }

    fn slot(&mut self, timer: TimerType) -> Option<&mut Option<Instant>> {
        match timer {
            TimerType::ConnectRetry => Some(&mut self.connect_retry),
            TimerType::Hold => Some(&mut self.hold),
            TimerType::Keepalive => Some(&mut self.keepalive),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_earliest_timer_fires_first_and_stopped_ones_never() {
        let mut timers = Timers::default();
        timers.start(TimerType::Hold, 90);
        timers.start(TimerType::Keepalive, 30);
        timers.start(TimerType::ConnectRetry, 10);
        timers.stop(TimerType::ConnectRetry);
        let started = Instant::now();
        assert!(matches!(
            timers.expired().await,
            Event::KeepaliveTimerExpires
        ));
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert!(matches!(timers.expired().await, Event::HoldTimerExpires));
        assert_eq!(started.elapsed(), Duration::from_secs(90));
        let none = tokio::time::timeout(Duration::from_secs(3600), timers.expired()).await;
        assert!(none.is_err(), "no timer runs");
    }
}
