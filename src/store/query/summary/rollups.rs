//! Figures read from the rollups (`store::rollup`): events per value of a dimension, aggregate
//! rows per set of attack types, and events per minute, each over a [`Window`].

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::CountBy;
use crate::store::query::{as_i64, as_u64, text};
use crate::store::rollup::{Dimension, KeyKind, Window};

/// Events per value of dimension `?1`: hour rows from `?2`, minute rows in `[?3, ?4)`; the
/// `?5` largest, ties by value.
const COUNTS_BY_VALUE: &str = "
SELECT value, sum(events) AS n FROM (
    SELECT value, events FROM event_counts_hour WHERE dimension = ?1 AND bucket >= ?2
    UNION ALL
    SELECT value, events FROM event_counts_minute
    WHERE dimension = ?1 AND bucket >= ?3 AND bucket < ?4)
GROUP BY value ORDER BY n DESC, value ASC LIMIT ?5";

/// Aggregate rows of kind `?1` per set of attack types, over the window as above.
const KEYS_BY_ATTACK_TYPES: &str = "
SELECT attack_types, sum(keys) FROM (
    SELECT attack_types, keys FROM key_counts_hour WHERE kind = ?1 AND bucket >= ?2
    UNION ALL
    SELECT attack_types, keys FROM key_counts_minute
    WHERE kind = ?1 AND bucket >= ?3 AND bucket < ?4)
GROUP BY attack_types";

/// Events per minute from minute `?1` on, oldest first.
const EVENTS_PER_MINUTE: &str = "
SELECT bucket, events FROM event_counts_minute WHERE dimension = 0 AND bucket >= ?1
ORDER BY bucket";

/// The `top` values of `dimension` with the most events in `window`, largest first, ties by
/// value.
pub(super) fn counts_by_value(
    conn: &Connection,
    dimension: Dimension,
    window: Window,
    top: usize,
) -> Result<Vec<CountBy>, rusqlite::Error> {
    conn.prepare_cached(COUNTS_BY_VALUE)?
        .query_map(
            params![
                dimension.id(),
                window.from_hour,
                window.from_minute,
                window.to_minute,
                as_i64(top)
            ],
            |row| {
                Ok(CountBy {
                    value: text(row, 0)?.unwrap_or_default(),
                    count: as_u64(row.get(1)?),
                })
            },
        )?
        .collect()
}

/// Events in `window`.
pub(super) fn events(conn: &Connection, window: Window) -> Result<u64, rusqlite::Error> {
    Ok(counts_by_value(conn, Dimension::Events, window, 1)?
        .first()
        .map_or(0, |count| count.count))
}

/// Aggregate rows of `kind` last seen in `window`, per set of attack types (0 = none).
pub(super) fn keys_by_attack_types(
    conn: &Connection,
    kind: KeyKind,
    window: Window,
) -> Result<[u64; 64], rusqlite::Error> {
    let mut keys = [0_u64; 64];
    let mut statement = conn.prepare_cached(KEYS_BY_ATTACK_TYPES)?;
    let mut rows = statement.query(params![
        kind.id(),
        window.from_hour,
        window.from_minute,
        window.to_minute
    ])?;
    while let Some(row) = rows.next()? {
        let bits = usize::try_from(row.get::<_, i64>(0)?).unwrap_or(0) % keys.len();
        keys[bits] += as_u64(row.get(1)?);
    }
    Ok(keys)
}

/// Events stored per minute from the minute of `since` on, oldest first; minutes without
/// events are left out. Each entry is the minute's start and its events.
///
/// # Errors
///
/// [`StoreError::Sqlite`](crate::store::StoreError::Sqlite) when the query fails.
pub(super) fn events_per_minute(
    conn: &Connection,
    since_minute: i64,
) -> Result<Vec<(Timestamp, u64)>, rusqlite::Error> {
    conn.prepare_cached(EVENTS_PER_MINUTE)?
        .query_map([since_minute], |row| {
            let minute: i64 = row.get(0)?;
            let start = minute.saturating_mul(60);
            Ok((
                Timestamp::from_second(start).unwrap_or(Timestamp::UNIX_EPOCH),
                as_u64(row.get(1)?),
            ))
        })?
        .collect()
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(super) fn all_statements() -> Vec<&'static str> {
    vec![COUNTS_BY_VALUE, KEYS_BY_ATTACK_TYPES, EVENTS_PER_MINUTE]
}
