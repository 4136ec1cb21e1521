//! Recent events from `honey`, newest first with keyset pagination on `honey_id`, the newest
//! events of one source IP or called number, and the newest event's timestamp.
//!
//! Without `since` (or with a `since` that many events pass) the scan runs down the primary key
//! and stops after `limit` matches. When fewer than [`NARROW_SINCE_ROWS`] events pass `since`,
//! the `event_timestamp` index finds them and SQLite sorts them, so polling "what is new since
//! my last call" never walks the whole table.

use rusqlite::{Connection, Row, params};

use super::{OriginFilter, as_i64, text};
use crate::store::StoreError;

/// The columns [`event_row`] reads, as a `SELECT` list.
macro_rules! event_columns {
    () => {
        concat!(
            "SELECT honey_id, event_timestamp, event_uuid, created_by_node_id, collected_method,",
            " transport_type, source_ip, source_port, destination_ip, destination_port,",
            " called_number, request_uri_user, method, user_agent, sip_message, origin,",
            " message_kind, attack_type, auth_scheme, auth_username, auth_realm, auth_nonce,",
            " auth_uri, auth_response, auth_algorithm, auth_qop, auth_cnonce, auth_nc, from_user,",
            " contact, p_asserted_identity"
        )
    };
}

/// A recent-events statement over `$from`, with the `since` condition `$since`. Parameters:
/// `?1` = before id, `?2` = since, `?3` = method, `?4` = user agent, `?5` = transport,
/// `?6` = origin ([`OriginFilter::index`]), `?7` = limit, `?8` = attack type.
macro_rules! recent_sql {
    ($from:literal, $since:literal) => {
        concat!(
            event_columns!(),
            " FROM ",
            $from,
            " WHERE honey_id < ?1 AND ",
            $since,
            " AND (?3 IS NULL OR method = ?3) AND (?4 IS NULL OR user_agent = ?4)",
            " AND (?5 IS NULL OR transport_type = ?5) AND (?8 IS NULL OR attack_type = ?8)",
            " AND (?6 = 0 OR (?6 = 1 AND origin = 'local') OR (?6 = 2 AND origin <> 'local')",
            " OR (?6 = 3 AND origin = 'opendht'))",
            " ORDER BY honey_id DESC LIMIT ?7"
        )
    };
}

/// Newest first down the primary key.
pub(in crate::store) const RECENT_BY_ID: &str =
    recent_sql!("honey", "(?2 IS NULL OR event_timestamp >= ?2)");

/// The events at or after `?2`, found through the `event_timestamp` index, then sorted.
pub(in crate::store) const RECENT_BY_TIME: &str = recent_sql!(
    "honey INDEXED BY event_timestamp_index",
    "event_timestamp >= ?2"
);

/// The newest events from source IP `?1` (its index), at most `?2`.
const FROM_IP: &str = concat!(
    event_columns!(),
    " FROM honey WHERE source_ip = ?1 ORDER BY honey_id DESC LIMIT ?2"
);

/// The newest events that dialled number `?1` (its index), at most `?2`.
const TO_NUMBER: &str = concat!(
    event_columns!(),
    " FROM honey WHERE called_number = ?1 ORDER BY honey_id DESC LIMIT ?2"
);

/// How many events pass `since` (`?1`), counting no further than `?2` (index only).
const COUNT_SINCE_UP_TO: &str =
    "SELECT COUNT(*) FROM (SELECT 1 FROM honey WHERE event_timestamp >= ?1 LIMIT ?2)";

/// Newest `event_timestamp` (the index answers it).
const LATEST_TIMESTAMP: &str = "SELECT max(event_timestamp) FROM honey";

/// Below this many events passing `since`, [`recent_events`] reads them through the
/// `event_timestamp` index and sorts them rather than scanning the table from its end.
const NARROW_SINCE_ROWS: i64 = 50_000;

/// Which events [`recent_events`] returns. Text filters are exact matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct EventFilter {
    /// Events with `event_timestamp` at or after this timestamp text.
    pub since: Option<String>,
    /// SIP method (`INVITE`, `OPTIONS`, ...).
    pub method: Option<String>,
    /// `User-Agent` value.
    pub user_agent: Option<String>,
    /// Transport: `UDP`, `TCP` or `TLS`.
    pub transport: Option<String>,
    /// Where the events were captured.
    pub origin: OriginFilter,
    /// Attack type name (`scan`, `password_cracking`, ...).
    pub attack_type: Option<String>,
    /// Keyset pagination: only events with `honey_id` below this (the last id of the previous
    /// page).
    pub before_id: Option<i64>,
    /// Most events returned (0 returns none).
    pub limit: usize,
}

/// One stored event, every column but `created_at`. Columns are optional because rows written
/// by the original, or for empty messages, have NULLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct EventRow {
    /// `honey_id`: the row's id, increasing in insertion order.
    pub id: i64,
    /// When it was captured (UTC text).
    pub event_timestamp: Option<String>,
    /// The event's UUID.
    pub event_uuid: Option<String>,
    /// UUID of the node that captured it.
    pub created_by_node_id: Option<String>,
    /// `passive` or `responsive`.
    pub collected_method: Option<String>,
    /// `UDP`, `TCP` or `TLS`.
    pub transport_type: Option<String>,
    /// Sender's IP address.
    pub source_ip: Option<String>,
    /// Sender's port.
    pub source_port: Option<i64>,
    /// Local IP address it arrived on.
    pub destination_ip: Option<String>,
    /// Local port it arrived on.
    pub destination_port: Option<i64>,
    /// User part of the `To` URI.
    pub called_number: Option<String>,
    /// User part of the Request-URI.
    pub request_uri_user: Option<String>,
    /// SIP method.
    pub method: Option<String>,
    /// `User-Agent` value.
    pub user_agent: Option<String>,
    /// The raw message.
    pub sip_message: Option<String>,
    /// `local` or `peer:<PeerId>`.
    pub origin: String,
    /// `request`, `response`, `empty` or `malformed`.
    pub message_kind: Option<String>,
    /// What the event was after (`scan`, `extension_enumeration`, ...).
    pub attack_type: Option<String>,
    /// Credentials scheme (`Digest`, `Basic`, ...).
    pub auth_scheme: Option<String>,
    /// Account tried.
    pub auth_username: Option<String>,
    /// Digest `realm`.
    pub auth_realm: Option<String>,
    /// Digest `nonce`.
    pub auth_nonce: Option<String>,
    /// Digest `uri`.
    pub auth_uri: Option<String>,
    /// Digest `response`, or a Basic token.
    pub auth_response: Option<String>,
    /// Digest `algorithm`.
    pub auth_algorithm: Option<String>,
    /// Digest `qop`.
    pub auth_qop: Option<String>,
    /// Digest `cnonce`.
    pub auth_cnonce: Option<String>,
    /// Digest `nc`.
    pub auth_nc: Option<String>,
    /// User part of the `From` URI.
    pub from_user: Option<String>,
    /// `Contact` value.
    pub contact: Option<String>,
    /// `P-Asserted-Identity` value.
    pub p_asserted_identity: Option<String>,
}

/// The newest events matching `filter`, by `honey_id` descending; at most `filter.limit`.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn recent_events(conn: &Connection, filter: &EventFilter) -> Result<Vec<EventRow>, StoreError> {
    recent_events_with(conn, filter, NARROW_SINCE_ROWS)
}

/// [`recent_events`], reading through the `event_timestamp` index when fewer than
/// `narrow_rows` events pass `since`.
pub(in crate::store) fn recent_events_with(
    conn: &Connection,
    filter: &EventFilter,
    narrow_rows: i64,
) -> Result<Vec<EventRow>, StoreError> {
    if filter.limit == 0 {
        return Ok(Vec::new());
    }
    let sql = match filter.since.as_deref() {
        Some(since) if passing_since(conn, since, narrow_rows)? < narrow_rows => RECENT_BY_TIME,
        _ => RECENT_BY_ID,
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![
            filter.before_id.unwrap_or(i64::MAX),
            filter.since,
            filter.method,
            filter.user_agent,
            filter.transport,
            as_i64(filter.origin.index()),
            as_i64(filter.limit),
            filter.attack_type,
        ],
        event_row,
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The newest `event_timestamp` stored; `None` when there are no events.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn latest_event_timestamp(conn: &Connection) -> Result<Option<String>, StoreError> {
    let latest = conn
        .prepare_cached(LATEST_TIMESTAMP)?
        .query_row([], |row| row.get(0))?;
    Ok(latest)
}

/// The newest events (at most `limit`) sent from source IP `ip` (exact text, as stored).
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn events_from_ip(
    conn: &Connection,
    ip: &str,
    limit: usize,
) -> Result<Vec<EventRow>, StoreError> {
    events_where(conn, FROM_IP, ip, limit)
}

/// The newest events (at most `limit`) that dialled `number` (exact text).
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn events_to_number(
    conn: &Connection,
    number: &str,
    limit: usize,
) -> Result<Vec<EventRow>, StoreError> {
    events_where(conn, TO_NUMBER, number, limit)
}

fn events_where(
    conn: &Connection,
    sql: &str,
    key: &str,
    limit: usize,
) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![key, as_i64(limit)], event_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// How many events pass `since`, counting no further than `up_to`.
fn passing_since(conn: &Connection, since: &str, up_to: i64) -> Result<i64, rusqlite::Error> {
    conn.prepare_cached(COUNT_SINCE_UP_TO)?
        .query_row(params![since, up_to], |row| row.get(0))
}

/// An [`EventRow`] from the columns of [`recent_sql!`].
fn event_row(row: &Row<'_>) -> Result<EventRow, rusqlite::Error> {
    Ok(EventRow {
        id: row.get(0)?,
        event_timestamp: text(row, 1)?,
        event_uuid: text(row, 2)?,
        created_by_node_id: text(row, 3)?,
        collected_method: text(row, 4)?,
        transport_type: text(row, 5)?,
        source_ip: text(row, 6)?,
        source_port: row.get(7)?,
        destination_ip: text(row, 8)?,
        destination_port: row.get(9)?,
        called_number: text(row, 10)?,
        request_uri_user: text(row, 11)?,
        method: text(row, 12)?,
        user_agent: text(row, 13)?,
        sip_message: text(row, 14)?,
        origin: text(row, 15)?.unwrap_or_default(),
        message_kind: text(row, 16)?,
        attack_type: text(row, 17)?,
        auth_scheme: text(row, 18)?,
        auth_username: text(row, 19)?,
        auth_realm: text(row, 20)?,
        auth_nonce: text(row, 21)?,
        auth_uri: text(row, 22)?,
        auth_response: text(row, 23)?,
        auth_algorithm: text(row, 24)?,
        auth_qop: text(row, 25)?,
        auth_cnonce: text(row, 26)?,
        auth_nc: text(row, 27)?,
        from_user: text(row, 28)?,
        contact: text(row, 29)?,
        p_asserted_identity: text(row, 30)?,
    })
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(in crate::store) fn all_statements() -> Vec<&'static str> {
    vec![
        RECENT_BY_ID,
        RECENT_BY_TIME,
        COUNT_SINCE_UP_TO,
        LATEST_TIMESTAMP,
        FROM_IP,
        TO_NUMBER,
    ]
}
