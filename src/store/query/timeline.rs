//! Events over time, for the dashboard: how many events since a moment, and how many in each
//! minute since then (both read from the `event_timestamp` index only).

use rusqlite::{Connection, params};

use super::as_u64;
use crate::store::StoreError;

/// Events at or after `?1` (index only).
const COUNT_SINCE: &str = "SELECT COUNT(*) FROM honey WHERE event_timestamp >= ?1";

/// Events at or after `?1` per minute (`YYYY-MM-DD HH:MM`), oldest minute first (index only).
const PER_MINUTE: &str = "
SELECT substr(event_timestamp, 1, 16) AS minute, COUNT(*) FROM honey
WHERE event_timestamp >= ?1 GROUP BY minute ORDER BY minute";

/// How many events were stored at or after `since` (a timestamp text).
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn count_events_since(conn: &Connection, since: &str) -> Result<u64, StoreError> {
    let count: i64 = conn
        .prepare_cached(COUNT_SINCE)?
        .query_row(params![since], |row| row.get(0))?;
    Ok(as_u64(count))
}

/// Events at or after `since` per minute (`YYYY-MM-DD HH:MM`, UTC), oldest first; minutes
/// without events are left out.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn events_per_minute(conn: &Connection, since: &str) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(PER_MINUTE)?;
    let rows = stmt.query_map(params![since], |row| {
        Ok((row.get::<_, String>(0)?, as_u64(row.get(1)?)))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(in crate::store) fn all_statements() -> Vec<&'static str> {
    vec![COUNT_SINCE, PER_MINUTE]
}
