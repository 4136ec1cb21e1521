//! Rollups: counts the writer keeps beside the rows they count, in the same transaction, so
//! statistics read a few hundred rows whatever the size of `honey` and the aggregate tables.
//!
//! # Tables
//!
//! Each rollup exists at two levels, per minute (`bucket` = minutes since the Unix epoch, UTC)
//! and per hour (`bucket` = hours), both kept for the whole retention window:
//!
//! - `event_counts_minute` / `event_counts_hour` (`dimension`, `bucket`, `value`, `events`):
//!   events stored per value of a [`Dimension`] (all events, method, user agent, transport,
//!   message kind, attack type, destination `ip:port`); NULL and empty text are the value `''`.
//!   Written with each batch of `honey` rows, from the events that batch stored.
//! - `key_counts_minute` / `key_counts_hour` (`kind`, `bucket`, `attack_types`, `keys`): rows of
//!   `ip_addresses` (kind 0) and `called_numbers` (kind 1) per minute of their `last_seen` and
//!   set of attack types. Written with each aggregate flush: a key whose `last_seen` or
//!   `attack_types` changes moves from one cell to another.
//!
//! A figure since a time is the sum of the hour rows from the first whole hour on and of the
//! minute rows before it: at most 59 minute rows and one hour row per value and hour. Times are
//! rounded down to the minute (`since` included).
//!
//! # Bounds
//!
//! Methods, user agents and destinations are text an attacker chooses. Each (dimension, bucket)
//! holds at most [`MAX_VALUES_PER_BUCKET`] values; events with further values in that minute or
//! hour still count in the other dimensions and in the totals, not under their value, and are
//! counted in `sentrypeer_rollup_values_over_cap_total`.
//!
//! # Retention
//!
//! Retention deletes whole minutes (its cutoff is rounded down to the minute), so [`prune`]
//! removes exactly the rollup rows of the rows it deletes: minute rows before the cutoff, hour
//! rows before the cutoff's hour, and from the cutoff's own hour the minutes before the cutoff.

mod events;
mod keys;

use jiff::Timestamp;
use rusqlite::{Connection, params};

pub(crate) use events::{Dimension, EventTally, RollupValues};
pub(crate) use keys::{KeyCounts, KeyKind};

/// Values one dimension keeps per minute and per hour (see the module docs).
pub(crate) const MAX_VALUES_PER_BUCKET: u32 = 1_000;

/// Minutes in an hour bucket.
const MINUTES_PER_HOUR: i64 = 60;

/// The minute bucket of `at`.
pub(crate) fn minute_of(at: Timestamp) -> i64 {
    at.as_second().div_euclid(60)
}

/// The hour bucket of a minute bucket.
pub(crate) fn hour_of(minute: i64) -> i64 {
    minute.div_euclid(MINUTES_PER_HOUR)
}

/// The first minute of an hour bucket.
pub(crate) fn first_minute_of(hour: i64) -> i64 {
    hour.saturating_mul(MINUTES_PER_HOUR)
}

/// The minute and hour buckets a figure "since `minute`" sums: hours from the first whole hour
/// at or after `minute`, and minutes from `minute` up to that hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// First hour bucket summed.
    pub(crate) from_hour: i64,
    /// First minute bucket summed.
    pub(crate) from_minute: i64,
    /// Minute buckets before this one are summed (the first minute of `from_hour`).
    pub(crate) to_minute: i64,
}

impl Window {
    /// Everything from `since_minute` on; `None` for everything.
    pub(crate) fn since(since_minute: Option<i64>) -> Self {
        match since_minute {
            None => Self {
                from_hour: i64::MIN,
                from_minute: 0,
                to_minute: 0,
            },
            Some(minute) => {
                let from_hour = hour_of(minute.saturating_add(MINUTES_PER_HOUR - 1));
                Self {
                    from_hour,
                    from_minute: minute,
                    to_minute: first_minute_of(from_hour),
                }
            }
        }
    }
}

/// The two levels of one rollup, for the statements that exist once per level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Level {
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
}

/// Deletes the rollup rows of everything before `cutoff_minute` (see the module docs), in one
/// transaction, so the hour adjustment and the deletes go together.
///
/// # Errors
///
/// Any SQLite error; nothing is changed then.
pub(crate) fn prune(conn: &Connection, cutoff_minute: i64) -> Result<(), rusqlite::Error> {
    let tx = conn.unchecked_transaction()?;
    let cutoff_hour = hour_of(cutoff_minute);
    let hour_start = first_minute_of(cutoff_hour);
    for family in [&events::PRUNE, &keys::PRUNE] {
        for group in family.groups.iter().copied() {
            let group = i64::from(group);
            if cutoff_minute > hour_start {
                conn.prepare_cached(family.subtract_minutes_from_hour)?
                    .execute(params![group, hour_start, cutoff_minute, cutoff_hour])?;
            }
            conn.prepare_cached(family.delete_minutes)?
                .execute(params![group, cutoff_minute])?;
            conn.prepare_cached(family.delete_hours)?
                .execute(params![group, cutoff_hour])?;
        }
        for sql in family.delete_empty {
            conn.prepare_cached(sql)?.execute([])?;
        }
    }
    tx.commit()
}

/// The statements [`prune`] runs over one rollup family, each per group (dimension or kind).
pub(crate) struct PruneSql {
    /// The groups of the family.
    pub(crate) groups: &'static [u8],
    /// Subtracts from the hour row `?4` what the minutes `[?2, ?3)` of group `?1` counted.
    pub(crate) subtract_minutes_from_hour: &'static str,
    /// Deletes group `?1`'s minute rows before `?2`.
    pub(crate) delete_minutes: &'static str,
    /// Deletes group `?1`'s hour rows before `?2`.
    pub(crate) delete_hours: &'static str,
    /// Delete the rows whose count reached 0, at each level.
    pub(crate) delete_empty: [&'static str; 2],
}

/// Every rollup statement, for a test that prepares them all.
#[cfg(test)]
pub(crate) fn all_statements() -> Vec<&'static str> {
    let mut all = Vec::new();
    for family in [&events::PRUNE, &keys::PRUNE] {
        all.extend([
            family.subtract_minutes_from_hour,
            family.delete_minutes,
            family.delete_hours,
        ]);
        all.extend(family.delete_empty);
    }
    all.extend(events::all_statements());
    all.extend(keys::all_statements());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_down_also_before_1970() {
        let at = |text: &str| -> Timestamp { text.parse().expect("ts") };
        assert_eq!(minute_of(at("1970-01-01T00:01:59Z")), 1);
        assert_eq!(minute_of(at("1969-12-31T23:59:59Z")), -1);
        assert_eq!(hour_of(59), 0);
        assert_eq!(hour_of(-1), -1);
        assert_eq!(first_minute_of(2), 120);
    }

    #[test]
    fn a_window_takes_whole_hours_and_the_minutes_before_them() {
        assert_eq!(
            Window::since(Some(125)),
            Window {
                from_hour: 3,
                from_minute: 125,
                to_minute: 180
            }
        );
        assert_eq!(
            Window::since(Some(120)),
            Window {
                from_hour: 2,
                from_minute: 120,
                to_minute: 120
            },
            "an hour boundary needs no minute rows"
        );
        let all = Window::since(None);
        assert_eq!(all.from_hour, i64::MIN);
        assert!(all.from_minute >= all.to_minute, "no minute rows");
    }
}
