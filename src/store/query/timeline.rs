//! Events over time, for the dashboard: how many events since a moment (read from the
//! `event_timestamp` index only; events per minute come from the rollups, `summary`).

use rusqlite::{Connection, params};

use super::as_u64;
use crate::store::StoreError;

/// Events at or after `?1` (index only).
const COUNT_SINCE: &str = "SELECT COUNT(*) FROM honey WHERE event_timestamp >= ?1";

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

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(in crate::store) fn all_statements() -> Vec<&'static str> {
    vec![COUNT_SINCE]
}
