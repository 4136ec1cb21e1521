//! Source IPs and called numbers from the aggregate tables: point lookups, counts, and
//! newest-first listings streamed row by row with keyset pagination.
//!
//! Every statement exists once per table and per [`OriginFilter`], built by [`seen_sql!`] from
//! fixed column names; values are always bound. With `Any`, listings run down the
//! `(last_seen DESC, key)` index, so the first row comes back without a sort; `Local` and `Peer`
//! listings sort (no index on their columns, to keep inserts cheap). The aggregates count the
//! OpenDHT bridge's events as peer data, so `OpenDht` groups the raw events instead (through the
//! `source_ip` / `called_number` indexes for point lookups, `matching` for listings).

use std::ops::ControlFlow;

use rusqlite::{Connection, Row, params};

use super::{Cursor, ListFilter, OriginFilter, SeenRecord, as_i64, as_u64, text};
use crate::sip::AttackType;
use crate::store::StoreError;

/// The statements over one table through one origin filter.
#[derive(Debug)]
struct SeenSql {
    /// Exact key lookup: `?1` = key.
    point: &'static str,
    /// Count: `?1` = since (`''` for none), `?2` = minimum count, `?3` = attack-type bits the
    /// key must have seen (0 for any).
    count: &'static str,
    /// Listing: `?1` to `?3` as for `count`, `?4` = limit (-1 for none).
    each: &'static str,
    /// Listing after a cursor: as `each`, `?5` = cursor's seen_last, `?6` = cursor's key.
    each_after: &'static str,
}

/// The four [`SeenSql`] statements for a table, its key column, the count and last-seen
/// columns of one origin filter, and its attack-types column (`0` for a table without one).
/// Every record selected has the columns `id, key, last, count, attack_types`. For
/// `ip_addresses` through `Any`, `each_after` reads:
///
/// ```sql
/// SELECT id, source_ip, last_seen, seen_count, attack_types FROM ip_addresses
/// WHERE seen_count > 0 AND last_seen >= ?1 AND seen_count >= ?2
///   AND (attack_types & ?3) = ?3
///   AND last_seen <= ?5 AND (last_seen < ?5 OR source_ip > ?6)
/// ORDER BY last_seen DESC, source_ip ASC LIMIT ?4
/// ```
#[rustfmt::skip]
macro_rules! seen_sql {
    ($table:literal, $key:literal, $count:literal, $last:literal, $types:literal) => {
        SeenSql {
            point: concat!(
                "SELECT id, ", $key, ", ", $last, ", ", $count, ", ", $types, " FROM ", $table,
                " WHERE ", $key, " = ?1 AND ", $count, " > 0"
            ),
            count: concat!(
                "SELECT COUNT(*) FROM ", $table,
                " WHERE ", $count, " > 0 AND ", $last, " >= ?1 AND ", $count, " >= ?2",
                " AND (", $types, " & ?3) = ?3"
            ),
            each: concat!(
                "SELECT id, ", $key, ", ", $last, ", ", $count, ", ", $types, " FROM ", $table,
                " WHERE ", $count, " > 0 AND ", $last, " >= ?1 AND ", $count, " >= ?2",
                " AND (", $types, " & ?3) = ?3",
                " ORDER BY ", $last, " DESC, ", $key, " ASC LIMIT ?4"
            ),
            each_after: concat!(
                "SELECT id, ", $key, ", ", $last, ", ", $count, ", ", $types, " FROM ", $table,
                " WHERE ", $count, " > 0 AND ", $last, " >= ?1 AND ", $count, " >= ?2",
                " AND (", $types, " & ?3) = ?3",
                " AND ", $last, " <= ?5 AND (", $last, " < ?5 OR ", $key, " > ?6)",
                " ORDER BY ", $last, " DESC, ", $key, " ASC LIMIT ?4"
            ),
        }
    };
}

/// `ip_addresses` statements, indexed by [`OriginFilter::index`].
const IP_SQL: [SeenSql; 3] = [
    seen_sql!(
        "ip_addresses",
        "source_ip",
        "seen_count",
        "last_seen",
        "attack_types"
    ),
    seen_sql!(
        "ip_addresses",
        "source_ip",
        "local_count",
        "local_last_seen",
        "attack_types"
    ),
    seen_sql!(
        "ip_addresses",
        "source_ip",
        "peer_count",
        "peer_last_seen",
        "attack_types"
    ),
];

/// `called_numbers` statements, indexed by [`OriginFilter::index`].
const NUMBER_SQL: [SeenSql; 3] = [
    seen_sql!(
        "called_numbers",
        "called_number",
        "seen_count",
        "last_seen",
        "0"
    ),
    seen_sql!(
        "called_numbers",
        "called_number",
        "local_count",
        "local_last_seen",
        "0"
    ),
    seen_sql!(
        "called_numbers",
        "called_number",
        "peer_count",
        "peer_last_seen",
        "0"
    ),
];

/// One source IP's events from the OpenDHT bridge, with its aggregate row's id and attack types.
const OPENDHT_IP_POINT: &str = "
SELECT COALESCE((SELECT id FROM ip_addresses WHERE source_ip = ?1), 0), source_ip,
       max(event_timestamp), COUNT(*),
       COALESCE((SELECT attack_types FROM ip_addresses WHERE source_ip = ?1), 0)
FROM honey WHERE source_ip = ?1 AND origin = 'opendht' GROUP BY source_ip";

/// One called number's events from the OpenDHT bridge, with its aggregate row's id.
const OPENDHT_NUMBER_POINT: &str = "
SELECT COALESCE((SELECT id FROM called_numbers WHERE called_number = ?1), 0), called_number,
       max(event_timestamp), COUNT(*), 0
FROM honey WHERE called_number = ?1 AND origin = 'opendht'
  AND EXISTS (SELECT 1 FROM called_numbers WHERE called_number = ?1)
GROUP BY called_number";

/// Every IP, unfiltered: the smallest index answers it without touching the table.
const COUNT_ALL_IPS: &str = "SELECT COUNT(*) FROM ip_addresses";

/// Every called number, unfiltered.
const COUNT_ALL_NUMBERS: &str = "SELECT COUNT(*) FROM called_numbers";

/// IPs whose newest event falls in `[?1, ?2)`, newest first (down the `last_seen` index).
const IPS_LAST_SEEN_BETWEEN: &str = "
SELECT id, source_ip, last_seen, seen_count, attack_types FROM ip_addresses
WHERE last_seen >= ?1 AND last_seen < ?2
ORDER BY last_seen DESC, source_ip ASC";

/// The statements of one table, for the API's two kinds of key.
#[derive(Debug, Clone, Copy)]
enum Table {
    /// `ip_addresses`.
    Ips,
    /// `called_numbers`.
    Numbers,
}

impl Table {
    /// The statements through `origin` (`OpenDht` is not aggregated: its callers group the raw
    /// events instead; it reads the peer statements).
    fn sql(self, origin: OriginFilter) -> &'static SeenSql {
        let table = match self {
            Self::Ips => &IP_SQL,
            Self::Numbers => &NUMBER_SQL,
        };
        &table[origin.index().min(table.len() - 1)]
    }

    /// The point lookup of the OpenDHT bridge's events.
    fn opendht_point(self) -> &'static str {
        match self {
            Self::Ips => OPENDHT_IP_POINT,
            Self::Numbers => OPENDHT_NUMBER_POINT,
        }
    }

    /// The unfiltered count.
    fn count_all(self) -> &'static str {
        match self {
            Self::Ips => COUNT_ALL_IPS,
            Self::Numbers => COUNT_ALL_NUMBERS,
        }
    }
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

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(in crate::store) fn all_statements() -> Vec<&'static str> {
    let mut all = vec![COUNT_ALL_IPS, COUNT_ALL_NUMBERS, IPS_LAST_SEEN_BETWEEN];
    for sql in IP_SQL.iter().chain(&NUMBER_SQL) {
        all.extend([sql.point, sql.count, sql.each, sql.each_after]);
    }
    all
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_macro_writes_the_documented_statement() {
        let expected = "SELECT id, source_ip, last_seen, seen_count, attack_types \
             FROM ip_addresses \
             WHERE seen_count > 0 AND last_seen >= ?1 AND seen_count >= ?2 \
             AND (attack_types & ?3) = ?3 \
             AND last_seen <= ?5 AND (last_seen < ?5 OR source_ip > ?6) \
             ORDER BY last_seen DESC, source_ip ASC LIMIT ?4";
        assert_eq!(IP_SQL[0].each_after, expected);
        assert_eq!(
            NUMBER_SQL[2].point,
            "SELECT id, called_number, peer_last_seen, peer_count, 0 FROM called_numbers \
             WHERE called_number = ?1 AND peer_count > 0"
        );
    }
}
