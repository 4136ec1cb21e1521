//! Listings of source IPs and called numbers narrowed by event attributes (method, user agent,
//! transport): these group the raw events, since the aggregate tables do not keep attributes.
//! Slower than the aggregate listings (a scan of the matching events; `since` uses the
//! `event_timestamp` index), so the API only uses them when such a filter is given.
//!
//! `seen_count` and `seen_last` here are over the matching events only, and `since` keeps
//! events at or after it (so counts are "since then"). [`ListFilter::attack_type`] is one more
//! event condition here (only events of that type are counted).

use std::ops::ControlFlow;

use rusqlite::{Connection, params};

use super::seen::{min_count, since, stream};
use super::{Cursor, ListFilter, SeenRecord, as_i64};
use crate::sip::AttackType;
use crate::store::StoreError;

/// Event attributes a listing must match; `None` matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct EventMatch {
    /// Exact SIP method.
    pub method: Option<String>,
    /// Exact `User-Agent`.
    pub user_agent: Option<String>,
    /// `UDP`, `TCP` or `TLS`.
    pub transport: Option<String>,
}

impl EventMatch {
    /// Whether no attribute is constrained (then the aggregate listings answer).
    pub fn is_empty(&self) -> bool {
        self.method.is_none() && self.user_agent.is_none() && self.transport.is_none()
    }
}

/// Parameters: `?1` method, `?2` user agent, `?3` transport, `?4` origin (0 any, 1 local,
/// 2 peer, 3 opendht), `?5` since (`''` for none), `?6` minimum count, `?7` cursor seen_last (NULL for
/// none), `?8` cursor key, `?9` limit (-1 for none), `?10` attack type (NULL for any).
/// Columns: `id, key, last, count, attack_types` (`$types`: the key's attack types).
macro_rules! matching_sql {
    ($key:literal, $key_condition:literal, $types:literal) => {
        concat!(
            "SELECT 0, ",
            $key,
            " AS key, max(event_timestamp) AS last, COUNT(*) AS n, ",
            $types,
            " FROM honey",
            " WHERE ",
            $key_condition,
            " AND event_timestamp >= ?5",
            " AND (?1 IS NULL OR method = ?1)",
            " AND (?2 IS NULL OR user_agent = ?2)",
            " AND (?3 IS NULL OR transport_type = ?3)",
            " AND (?10 IS NULL OR attack_type = ?10)",
            " AND (?4 = 0 OR (?4 = 1 AND origin = 'local') OR (?4 = 2 AND origin <> 'local')",
            " OR (?4 = 3 AND origin = 'opendht'))",
            " GROUP BY ",
            $key,
            " HAVING n >= ?6 AND (?7 IS NULL OR last < ?7 OR (last = ?7 AND key > ?8))",
            " ORDER BY last DESC, key ASC LIMIT ?9"
        )
    };
}

/// Source IPs of matching events.
const MATCHING_IPS: &str = matching_sql!(
    "source_ip",
    "source_ip IS NOT NULL",
    "(SELECT attack_types FROM ip_addresses WHERE ip_addresses.source_ip = honey.source_ip)"
);

/// Called phone numbers of matching events (the `GLOB`s mirror `is_phone_number`).
const MATCHING_NUMBERS: &str = matching_sql!(
    "called_number",
    "(called_number GLOB '[0-9]*' OR called_number GLOB '+[0-9]*') AND substr(called_number, 2) NOT GLOB '*[^0-9]*'",
    "0"
);

/// Calls `f` with each source IP of events matching `matching` and `filter`, newest first,
/// strictly after `after`, at most `limit`.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn each_ip_matching(
    conn: &Connection,
    filter: &ListFilter,
    matching: &EventMatch,
    after: Option<&Cursor>,
    limit: Option<usize>,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    run(conn, MATCHING_IPS, filter, matching, after, limit, f)
}

/// [`each_ip_matching`] for called numbers.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn each_number_matching(
    conn: &Connection,
    filter: &ListFilter,
    matching: &EventMatch,
    after: Option<&Cursor>,
    limit: Option<usize>,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    run(conn, MATCHING_NUMBERS, filter, matching, after, limit, f)
}

fn run(
    conn: &Connection,
    sql: &str,
    filter: &ListFilter,
    matching: &EventMatch,
    after: Option<&Cursor>,
    limit: Option<usize>,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let origin = as_i64(filter.origin.index());
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query(params![
        matching.method,
        matching.user_agent,
        matching.transport,
        origin,
        since(filter),
        min_count(filter),
        after.map(|cursor| cursor.seen_last.as_str()),
        after.map(|cursor| cursor.key.as_str()),
        limit.map_or(-1, as_i64),
        filter.attack_type.map(AttackType::as_str),
    ])?;
    stream(rows, f)
}
