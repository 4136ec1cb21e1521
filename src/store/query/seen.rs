//! Source IPs and called numbers from the aggregate tables: point lookups, counts, and
//! newest-first listings streamed row by row with keyset pagination.
//!
//! Every statement exists once per table and per [`OriginFilter`], built by `seen_sql!` (in
//! `seen/sql.rs`) from fixed column names; values are always bound. With `Any`, listings run
//! down the `(last_seen DESC, key)` index, so the first row comes back without a sort; `Local`
//! and `Peer` listings sort (no index on their columns, to keep inserts cheap). The aggregates
//! count the OpenDHT bridge's events as peer data, so `OpenDht` groups the raw events instead
//! (a scan of `honey` for point lookups, which has no index on those columns since schema 6;
//! `matching` for listings).

use std::ops::ControlFlow;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row, params};

mod sql;

use super::{Cursor, ListFilter, OriginFilter, SeenRecord, as_i64, as_u64, text};
use crate::sip::AttackType;
use crate::store::StoreError;
#[cfg(test)]
pub(in crate::store) use sql::all_statements;
use sql::{IPS_BY_EVENTS, IPS_LAST_SEEN_BETWEEN, Table};

/// Whether [`ip_seen`] and [`number_seen`] through `origin` read one key's row through its
/// index, so they cost the same whatever the size of the database: for every origin but
/// `OpenDht`, whose view counts the key's raw events.
pub fn seen_reads_one_row(origin: OriginFilter) -> bool {
    origin != OriginFilter::OpenDht
}

/// The source IP `ip` (exact text, as stored: IPv4-mapped IPv6 is stored as IPv4) as seen
/// through `origin`; `None` when it is not there or that side never saw it.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn ip_seen(
    conn: &Connection,
    ip: &str,
    origin: OriginFilter,
) -> Result<Option<SeenRecord>, StoreError> {
    point(conn, Table::Ips, ip, origin)
}

/// The called number `number` (exact text) as seen through `origin`; `None` when it is not
/// there, is not a phone number, or that side never saw it.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn number_seen(
    conn: &Connection,
    number: &str,
    origin: OriginFilter,
) -> Result<Option<SeenRecord>, StoreError> {
    point(conn, Table::Numbers, number, origin)
}

/// How many source IPs [`each_ip`] would list with `filter` and no cursor or limit.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn count_ips(conn: &Connection, filter: &ListFilter) -> Result<u64, StoreError> {
    count(conn, Table::Ips, filter)
}

/// How many called numbers [`each_number`] would list with `filter` and no cursor or limit.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn count_numbers(conn: &Connection, filter: &ListFilter) -> Result<u64, StoreError> {
    count(conn, Table::Numbers, filter)
}

/// Calls `f` with each source IP matching `filter`, ordered `seen_last DESC, key ASC`, starting
/// strictly after `after` and stopping after `limit` records or when `f` breaks. Rows are read
/// one at a time from SQLite, never collected.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails (records already passed to `f` stay passed).
pub fn each_ip(
    conn: &Connection,
    filter: &ListFilter,
    after: Option<&Cursor>,
    limit: Option<usize>,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    each(conn, Table::Ips, filter, after, limit, f)
}

/// [`each_ip`] for called numbers.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails (records already passed to `f` stay passed).
pub fn each_number(
    conn: &Connection,
    filter: &ListFilter,
    after: Option<&Cursor>,
    limit: Option<usize>,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    each(conn, Table::Numbers, filter, after, limit, f)
}

/// Calls `f` with each source IP whose newest event (any origin) is at or after
/// `from_inclusive` and before `to_exclusive`, newest first: the keys whose blocklist decisions
/// expire in a window, for "deleted" deltas.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails (records already passed to `f` stay passed).
pub fn ips_last_seen_between(
    conn: &Connection,
    from_inclusive: &str,
    to_exclusive: &str,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(IPS_LAST_SEEN_BETWEEN)?;
    let rows = stmt.query(params![from_inclusive, to_exclusive])?;
    stream(rows, f)
}

/// Calls `f` with each source IP (its text as stored) and its events (`seen_count`, any
/// origin), the IP with the most events first (ties by IP), at most `limit` of them, until `f`
/// breaks. Reads one index that holds both columns and borrows each IP's text from SQLite: no
/// table row, no sort, no allocation per row (the dashboard counts countries over this).
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails (IPs already passed to `f` stay passed).
pub fn each_ip_by_events(
    conn: &Connection,
    limit: usize,
    mut f: impl FnMut(&str, u64) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(IPS_BY_EVENTS)?;
    let mut rows = stmt.query([as_i64(limit)])?;
    while let Some(row) = rows.next()? {
        let ValueRef::Text(ip) = row.get_ref(0)? else {
            continue;
        };
        if f(&String::from_utf8_lossy(ip), as_u64(row.get(1)?)).is_break() {
            break;
        }
    }
    Ok(())
}

/// `IPS_BY_EVENTS`, for its query-plan test.
#[cfg(test)]
pub(in crate::store) fn ips_by_events_sql() -> &'static str {
    IPS_BY_EVENTS
}

/// See [`ip_seen`].
fn point(
    conn: &Connection,
    table: Table,
    key: &str,
    origin: OriginFilter,
) -> Result<Option<SeenRecord>, StoreError> {
    let sql = match origin {
        OriginFilter::OpenDht => table.opendht_point(),
        _ => table.sql(origin).point,
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([key])?;
    match rows.next()? {
        Some(row) => Ok(Some(record(row)?)),
        None => Ok(None),
    }
}

/// See [`count_ips`].
fn count(conn: &Connection, table: Table, filter: &ListFilter) -> Result<u64, StoreError> {
    if filter.origin == OriginFilter::OpenDht {
        let mut counted = 0;
        each(conn, table, filter, None, None, |_| {
            counted += 1;
            ControlFlow::Continue(())
        })?;
        return Ok(counted);
    }
    let unfiltered = filter.origin == OriginFilter::Any
        && filter.since.is_none()
        && filter.min_seen_count == 0
        && filter.attack_type.is_none();
    let total: i64 = if unfiltered {
        conn.prepare_cached(table.count_all())?
            .query_row([], |row| row.get(0))?
    } else {
        conn.prepare_cached(table.sql(filter.origin).count)?
            .query_row(
                params![since(filter), min_count(filter), attack_bits(filter)],
                |row| row.get(0),
            )?
    };
    Ok(as_u64(total))
}

/// See [`each_ip`].
fn each(
    conn: &Connection,
    table: Table,
    filter: &ListFilter,
    after: Option<&Cursor>,
    limit: Option<usize>,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    if filter.origin == OriginFilter::OpenDht {
        let all = super::EventMatch::default();
        return match table {
            Table::Ips => super::each_ip_matching(conn, filter, &all, after, limit, f),
            Table::Numbers => super::each_number_matching(conn, filter, &all, after, limit, f),
        };
    }
    let sql = table.sql(filter.origin);
    let limit = limit.map_or(-1, as_i64);
    match after {
        None => {
            let mut stmt = conn.prepare_cached(sql.each)?;
            let rows = stmt.query(params![
                since(filter),
                min_count(filter),
                attack_bits(filter),
                limit
            ])?;
            stream(rows, f)
        }
        Some(cursor) => {
            let mut stmt = conn.prepare_cached(sql.each_after)?;
            let rows = stmt.query(params![
                since(filter),
                min_count(filter),
                attack_bits(filter),
                limit,
                cursor.seen_last,
                cursor.key
            ])?;
            stream(rows, f)
        }
    }
}

/// Passes each row to `f` until the rows end or `f` breaks.
pub(super) fn stream(
    mut rows: rusqlite::Rows<'_>,
    mut f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    while let Some(row) = rows.next()? {
        if f(record(row)?).is_break() {
            break;
        }
    }
    Ok(())
}

/// A record from the columns `id, key, last, count, attack_types`.
pub(super) fn record(row: &Row<'_>) -> Result<SeenRecord, rusqlite::Error> {
    let attack_types: Option<i64> = row.get(4)?;
    Ok(SeenRecord {
        id: row.get(0)?,
        key: text(row, 1)?.unwrap_or_default(),
        seen_last: text(row, 2)?.unwrap_or_default(),
        seen_count: as_u64(row.get(3)?),
        attack_types: attack_types
            .and_then(|bits| u8::try_from(bits).ok())
            .unwrap_or_default(),
    })
}

/// The `since` parameter: every stored timestamp is `>= ''`, so none means everything.
pub(super) fn since(filter: &ListFilter) -> &str {
    filter.since.as_deref().unwrap_or("")
}

/// The attack-type bits a listed IP must have seen (0 for any).
pub(super) fn attack_bits(filter: &ListFilter) -> u8 {
    filter.attack_type.map_or(0, AttackType::bit)
}

/// The minimum count parameter.
pub(super) fn min_count(filter: &ListFilter) -> i64 {
    as_i64(filter.min_seen_count)
}

/// The listing statement for `table` (`true` = numbers) through `origin`, for query-plan tests.
#[cfg(test)]
pub(in crate::store) fn listing_sql(
    numbers: bool,
    origin: OriginFilter,
    after: bool,
) -> &'static str {
    let sql = if numbers { Table::Numbers } else { Table::Ips }.sql(origin);
    if after { sql.each_after } else { sql.each }
}
