//! This node's own activity since a time, for its community summary (`p2p`'s community
//! analytics): its events, overall and by method and attack type, from the rollups' `Local*`
//! dimensions; the source IPs and called numbers it captured, from the aggregate tables
//! (`local_last_seen`, read down the `last_seen` index: a key last seen locally since then was
//! last seen at all since then). Peer data is left out: it is the other nodes' to report.

use std::ops::ControlFlow;

use rusqlite::Connection;

use super::rollups::counts_by_value;
use super::{CountBy, minute_since, minute_text};
use crate::store::StoreError;
use crate::store::query::{as_u64, text};
use crate::store::rollup::{Dimension, Window};

/// Source IPs this node captured events from at or after `?1`.
const LOCAL_IPS_SINCE: &str = "
SELECT source_ip FROM ip_addresses
WHERE last_seen >= ?1 AND local_last_seen >= ?1 AND local_count > 0";

/// Called numbers in this node's events at or after `?1`.
const LOCAL_NUMBERS_SINCE: &str = "
SELECT COUNT(*) FROM called_numbers
WHERE last_seen >= ?1 AND local_last_seen >= ?1 AND local_count > 0";

/// What this node captured itself since a time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalActivity {
    /// Events.
    pub events: u64,
    /// Events per SIP method, largest first (ties by value), at most `top`.
    pub by_method: Vec<CountBy>,
    /// Events per attack type, largest first (ties by value), at most `top`.
    pub by_attack_type: Vec<CountBy>,
    /// Distinct called numbers.
    pub called_numbers: u64,
}

/// This node's own events at or after `since` (a stored timestamp text, rounded down to its
/// minute), and the called numbers among them; calls `each_ip` with every source IP it
/// captured since then (distinct), until it breaks. Run it inside [`super::super::begin_read`]
/// for one snapshot.
///
/// # Errors
///
/// [`StoreError::InvalidTime`] when `since` is not a stored timestamp, [`StoreError::Sqlite`]
/// when a query fails.
pub fn local_activity(
    conn: &Connection,
    since: &str,
    top: usize,
    mut each_ip: impl FnMut(&str) -> ControlFlow<()>,
) -> Result<LocalActivity, StoreError> {
    let minute = minute_since(since)?;
    let window = Window::since(Some(minute));
    let since_text = minute_text(minute);
    let local_events = counts_by_value(conn, Dimension::LocalEvents, window, 1)?;
    let activity = LocalActivity {
        events: local_events.first().map_or(0, |count| count.count),
        by_method: counts_by_value(conn, Dimension::LocalMethod, window, top)?,
        by_attack_type: counts_by_value(conn, Dimension::LocalAttackType, window, top)?,
        called_numbers: as_u64(
            conn.prepare_cached(LOCAL_NUMBERS_SINCE)?
                .query_row([&since_text], |row| row.get(0))?,
        ),
    };
    let mut statement = conn.prepare_cached(LOCAL_IPS_SINCE)?;
    let mut rows = statement.query([&since_text])?;
    while let Some(row) = rows.next()? {
        if let Some(ip) = text(row, 0)?
            && each_ip(&ip).is_break()
        {
            break;
        }
    }
    Ok(activity)
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(super) fn all_statements() -> Vec<&'static str> {
    vec![LOCAL_IPS_SINCE, LOCAL_NUMBERS_SINCE]
}
