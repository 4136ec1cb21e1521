//! When to try a failed POST again: capped exponential back-off with jitter, or the wait the
//! server asked for (`Retry-After` in seconds or as an HTTP date, else `ratelimit-reset`).

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// `ratelimit-reset` values above this are read as a Unix time rather than seconds to wait.
const UNIX_TIME_THRESHOLD: u64 = 1_000_000_000;

/// The retry budget of one POST and the waits between its attempts.
///
/// With the defaults a POST is tried 6 times; the waits before attempts 2 to 6 are drawn from
/// 0.5–1, 1–2, 2–4, 4–8 and 8–16 s (about 31 s at most in all), unless the server asked for a
/// longer wait with `Retry-After` or `ratelimit-reset`, which is honoured up to one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per POST (the first one included); then its events are dropped.
    pub max_attempts: u32,
    /// Back-off before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// Longest back-off.
    pub max_delay: Duration,
    /// Longest wait a server may ask for.
    pub max_server_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: crate::config::defaults::WEBHOOK_MAX_ATTEMPTS,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_server_wait: Duration::from_secs(3_600),
        }
    }
}

impl RetryPolicy {
    /// The back-off after `failures` failed attempts (1 = after the first): the exponential
    /// delay `base × 2^(failures−1)`, capped at `max_delay`, with "equal jitter" (a random point
    /// in its upper half), so receivers are not hit in lock-step after an outage.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        let delay = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let half = delay / 2;
        let half_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if half_nanos == 0 {
            0
        } else {
            random_u64() % (half_nanos + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    /// The wait a server asked for, capped at `max_server_wait`.
    pub fn server_wait(&self, headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
        server_wait(headers, now).map(|wait| wait.min(self.max_server_wait))
    }
}

/// `Retry-After` (seconds or an HTTP date), else `ratelimit-reset` (seconds, or a Unix time as
/// some rate limiters send). A date in the past is a wait of zero.
pub(super) fn server_wait(headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = text(RETRY_AFTER.as_str()) {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(date) = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value) {
            return Some(until(date, now));
        }
    }
    let reset = text("ratelimit-reset")?.parse::<u64>().ok()?;
    if reset < UNIX_TIME_THRESHOLD {
        return Some(Duration::from_secs(reset));
    }
    let at = Timestamp::from_second(i64::try_from(reset).ok()?).ok()?;
    Some(until(at, now))
}

fn until(at: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// A random number for jitter (not for cryptography): std's per-process random hash keys.
fn random_u64() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered_in_its_upper_half() {
        let policy = RetryPolicy::default();
        for failures in 1..=12u32 {
            let full = Duration::from_secs(1u64 << (failures - 1).min(10)).min(policy.max_delay);
            for _ in 0..50 {
                let wait = policy.backoff(failures);
                assert!(
                    wait >= full / 2 && wait <= full,
                    "failures {failures}: {wait:?} not in [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
        let samples: std::collections::HashSet<Duration> =
            (0..20).map(|_| policy.backoff(3)).collect();
        assert!(samples.len() > 1, "jitter varies the wait");
        assert!(policy.backoff(u32::MAX) <= policy.max_delay);
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().expect("timestamp");
        assert_eq!(
            server_wait(&headers(&[("retry-after", "30")]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            server_wait(
                &headers(&[("retry-after", "Sat, 21 Nov 2026 12:02:00 GMT")]),
                now
            ),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            server_wait(
                &headers(&[("retry-after", "Sat, 21 Nov 2026 11:00:00 GMT")]),
                now
            ),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(server_wait(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(server_wait(&HeaderMap::new(), now), None);
    }

    #[test]
    fn ratelimit_reset_as_seconds_or_unix_time_and_retry_after_first() {
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().expect("timestamp");
        assert_eq!(
            server_wait(&headers(&[("ratelimit-reset", "42")]), now),
            Some(Duration::from_secs(42))
        );
        let in_ten = (now.as_second() + 10).to_string();
        assert_eq!(
            server_wait(&headers(&[("ratelimit-reset", &in_ten)]), now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            server_wait(
                &headers(&[("retry-after", "5"), ("ratelimit-reset", "42")]),
                now
            ),
            Some(Duration::from_secs(5))
        );
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.server_wait(&headers(&[("retry-after", "86400")]), now),
            Some(policy.max_server_wait),
            "capped"
        );
    }
}
