//! Statistics: event counts by method, user agent, transport, message kind and attack type,
//! source IPs per attack type, totals, and the most active source IPs and called numbers, all
//! from one snapshot of the database; and one column's counts on its own ([`counts_of`]).

mod columns;

pub(in crate::store) use columns::counts_by_column;
#[cfg(test)]
pub(in crate::store) use columns::{ColumnCounts, count_columns, counts_of_within};
pub use columns::{CountedColumn, counts_of};

use rusqlite::{Connection, params};

use super::seen::{count_ips, count_numbers, record};
use super::{ListFilter, SeenRecord, as_i64, as_u64};
use crate::sip::AttackType;
use crate::store::StoreError;
use columns::{COUNTS_IN_MEMORY_BUDGET, sort_largest_first};

/// Source IPs last seen at or after `?1` that sent each attack type (by their `attack_types`
/// bits, in `AttackType::ALL` order).
const IPS_BY_ATTACK_TYPE: &str = "
SELECT coalesce(sum((attack_types & 1) != 0), 0), coalesce(sum((attack_types & 2) != 0), 0),
       coalesce(sum((attack_types & 4) != 0), 0), coalesce(sum((attack_types & 8) != 0), 0),
       coalesce(sum((attack_types & 16) != 0), 0), coalesce(sum((attack_types & 32) != 0), 0)
FROM ip_addresses WHERE last_seen >= ?1";

/// Events counted: without, then with `since` (`event_timestamp` index).
const COUNT_EVENTS: [&str; 2] = [
    "SELECT COUNT(*) FROM honey",
    "SELECT COUNT(*) FROM honey WHERE event_timestamp >= ?1",
];

/// Most active IPs last seen at or after `?1`; at most `?2`.
const TOP_IPS: &str = "
SELECT id, source_ip, last_seen, seen_count, attack_types FROM ip_addresses
WHERE last_seen >= ?1
ORDER BY seen_count DESC, source_ip ASC LIMIT ?2";

/// Most active called numbers last seen at or after `?1`; at most `?2`.
const TOP_NUMBERS: &str = "
SELECT id, called_number, last_seen, seen_count, 0 FROM called_numbers
WHERE last_seen >= ?1
ORDER BY seen_count DESC, called_number ASC LIMIT ?2";

/// How many events had one value of a column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CountBy {
    /// The value; `""` for NULL (and for empty text).
    pub value: String,
    /// Events with it.
    pub count: u64,
}

/// Overall counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Totals {
    /// Events stored (at or after `since`, when given).
    pub events: u64,
    /// Source IPs (last seen at or after `since`, when given).
    pub ip_addresses: u64,
    /// Called phone numbers (last seen at or after `since`, when given).
    pub called_numbers: u64,
}

/// What [`stats`] returns. Every list is largest count first, ties by value, at most `top`
/// entries long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Stats {
    /// Overall counts.
    pub totals: Totals,
    /// Events per SIP method.
    pub by_method: Vec<CountBy>,
    /// Events per `User-Agent`.
    pub by_user_agent: Vec<CountBy>,
    /// Events per transport.
    pub by_transport: Vec<CountBy>,
    /// Events per message kind (`request`, `response`, `empty`, `malformed`).
    pub by_message_kind: Vec<CountBy>,
    /// Events per attack type.
    pub by_attack_type: Vec<CountBy>,
    /// Source IPs (last seen at or after `since`) per attack type they sent; types no IP sent
    /// are left out.
    pub ip_addresses_by_attack_type: Vec<CountBy>,
    /// Source IPs with the highest `seen_count`.
    pub top_ip_addresses: Vec<SeenRecord>,
    /// Called numbers with the highest `seen_count`.
    pub top_called_numbers: Vec<SeenRecord>,
}

/// Counts events (at or after `since`, a timestamp text, when given) by method, user agent,
/// transport and message kind, and lists the `top` source IPs and called numbers by
/// `seen_count` among those last seen at or after `since`. Each list is capped at `top`
/// entries: method and user agent are attacker-chosen text with no bound on how many values
/// exist. Runs in one read transaction (unless `conn` is already in one, see
/// [`super::begin_read`]), so every figure comes from the same snapshot.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when a query fails.
pub fn stats(conn: &Connection, since: Option<&str>, top: usize) -> Result<Stats, StoreError> {
    let snapshot = if conn.is_autocommit() {
        Some(conn.unchecked_transaction()?)
    } else {
        None
    };
    let filter = ListFilter {
        since: since.map(str::to_owned),
        ..ListFilter::default()
    };
    let totals = Totals {
        events: count_events(conn, since)?,
        ip_addresses: count_ips(conn, &filter)?,
        called_numbers: count_numbers(conn, &filter)?,
    };
    let top_limit = as_i64(top);
    let [
        by_method,
        by_user_agent,
        by_transport,
        by_message_kind,
        by_attack_type,
    ] = counts_by_column(conn, since, top, COUNTS_IN_MEMORY_BUDGET)?;
    let stats = Stats {
        totals,
        by_method,
        by_user_agent,
        by_transport,
        by_message_kind,
        by_attack_type,
        ip_addresses_by_attack_type: ips_by_attack_type(conn, since)?,
        top_ip_addresses: top_records(conn, TOP_IPS, since, top_limit)?,
        top_called_numbers: top_records(conn, TOP_NUMBERS, since, top_limit)?,
    };
    if let Some(snapshot) = snapshot {
        snapshot.finish()?;
    }
    Ok(stats)
}

/// Events in `honey`, at or after `since` when given.
fn count_events(conn: &Connection, since: Option<&str>) -> Result<u64, rusqlite::Error> {
    let count: i64 = match since {
        None => conn
            .prepare_cached(COUNT_EVENTS[0])?
            .query_row([], |row| row.get(0))?,
        Some(since) => conn
            .prepare_cached(COUNT_EVENTS[1])?
            .query_row([since], |row| row.get(0))?,
    };
    Ok(as_u64(count))
}

/// Runs [`IPS_BY_ATTACK_TYPE`]: largest count first, ties by name, zero counts left out.
fn ips_by_attack_type(
    conn: &Connection,
    since: Option<&str>,
) -> Result<Vec<CountBy>, rusqlite::Error> {
    let counts =
        conn.prepare_cached(IPS_BY_ATTACK_TYPE)?
            .query_row([since.unwrap_or("")], |row| {
                AttackType::ALL
                    .iter()
                    .map(|attack_type| {
                        Ok(CountBy {
                            value: attack_type.as_str().to_owned(),
                            count: as_u64(row.get(attack_type.index())?),
                        })
                    })
                    .collect::<Result<Vec<_>, rusqlite::Error>>()
            })?;
    let mut counts: Vec<CountBy> = counts.into_iter().filter(|c| c.count > 0).collect();
    sort_largest_first(&mut counts);
    Ok(counts)
}

/// Runs [`TOP_IPS`] or [`TOP_NUMBERS`].
fn top_records(
    conn: &Connection,
    sql: &str,
    since: Option<&str>,
    limit: i64,
) -> Result<Vec<SeenRecord>, rusqlite::Error> {
    conn.prepare_cached(sql)?
        .query_map(params![since.unwrap_or(""), limit], record)?
        .collect()
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(in crate::store) fn all_statements() -> Vec<&'static str> {
    let mut all = vec![
        COUNT_EVENTS[0],
        COUNT_EVENTS[1],
        TOP_IPS,
        TOP_NUMBERS,
        IPS_BY_ATTACK_TYPE,
    ];
    all.extend(columns::all_statements());
    all
}
