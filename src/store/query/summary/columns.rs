//! Events counted per value of one column (method, user agent, transport, message kind, attack
//! type): in memory in one pass over the rows while the values fit a byte budget, by a `GROUP BY`
//! of its own (which SQLite sorts on disk) beyond it.

use std::collections::HashMap;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};

use super::CountBy;
use crate::store::StoreError;
use crate::store::query::{as_i64, as_u64, text};

/// The columns events are counted by, in [`Stats`](super::Stats) field order: without, then
/// with `since` (`event_timestamp` index). One pass over `honey` counts all five: five
/// `GROUP BY`s each read and sorted the whole table (10 s for a million events in the soak run;
/// `bench/soak.sh`).
const COUNTED_COLUMNS: [&str; 2] = [
    "SELECT method, user_agent, transport_type, message_kind, attack_type FROM honey",
    "SELECT method, user_agent, transport_type, message_kind, attack_type FROM honey
     WHERE event_timestamp >= ?1",
];

/// The pair of statements reading `$column` of every event (or of those at or after `?1`), for
/// counting one column on its own in one pass.
macro_rules! select_sql {
    ($column:literal) => {
        [
            concat!("SELECT ", $column, " FROM honey"),
            concat!(
                "SELECT ",
                $column,
                " FROM honey WHERE event_timestamp >= ?1"
            ),
        ]
    };
}

/// The pair of statements counting events per value of `$column`, largest first, at most `?1`
/// (or `?2` with `since` in `?1`). NULL and empty values are one group, reported as `''`.
macro_rules! count_by_sql {
    ($column:literal) => {
        [
            concat!(
                "SELECT coalesce(",
                $column,
                ", '') AS value, COUNT(*) AS n FROM honey",
                " GROUP BY value ORDER BY n DESC, value ASC LIMIT ?1"
            ),
            concat!(
                "SELECT coalesce(",
                $column,
                ", '') AS value, COUNT(*) AS n FROM honey",
                " WHERE event_timestamp >= ?1",
                " GROUP BY value ORDER BY n DESC, value ASC LIMIT ?2"
            ),
        ]
    };
}

/// Each counted column on its own, in [`COUNTED_COLUMNS`] order, for a column with more
/// distinct values than [`COUNTS_IN_MEMORY_BUDGET`] allows: SQLite's sorter spills to disk.
const COUNT_ONE_COLUMN: [[&str; 2]; 5] = [
    count_by_sql!("method"),
    count_by_sql!("user_agent"),
    count_by_sql!("transport_type"),
    count_by_sql!("message_kind"),
    count_by_sql!("attack_type"),
];

/// Each counted column read on its own, in [`COUNTED_COLUMNS`] order.
const SELECT_ONE_COLUMN: [[&str; 2]; 5] = [
    select_sql!("method"),
    select_sql!("user_agent"),
    select_sql!("transport_type"),
    select_sql!("message_kind"),
    select_sql!("attack_type"),
];

/// A column whose events [`counts_of`] counts on its own (the value is its place in the
/// counted columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountedColumn {
    /// The SIP method.
    Method = 0,
    /// The `User-Agent` header.
    UserAgent = 1,
}

/// Bytes one column's in-memory counts may hold (values plus [`COUNT_ENTRY_OVERHEAD`] each)
/// before that column is counted by SQL instead. Methods and user agents are attacker-chosen
/// text, so how many values there are and how long they are has no bound of our making.
pub(super) const COUNTS_IN_MEMORY_BUDGET: usize = 4 * 1024 * 1024;

/// Approximate memory of one counted value besides its bytes: the hash table slot, the boxed
/// slice's header and allocation rounding.
const COUNT_ENTRY_OVERHEAD: usize = 64;

/// Events per value of one column (the value's bytes as stored).
type ValueCounts = HashMap<Box<[u8]>, u64>;

/// One column's counts from the pass over the rows.
pub(in crate::store) enum ColumnCounts {
    /// Every value seen, with the bytes they take.
    InMemory { counts: ValueCounts, bytes: usize },
    /// Too many or too long values for [`COUNTS_IN_MEMORY_BUDGET`]: counted by SQL afterwards.
    OverBudget,
}

/// Events (at or after `since`, a timestamp text, when given) per value of one column, as
/// [`stats`](super::stats) counts them: largest first, ties by value, at most `top` entries, NULL and empty
/// text as one value `""`; one pass over the rows, or a `GROUP BY` when the values outgrow the
/// memory budget.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when a query fails.
pub fn counts_of(
    conn: &Connection,
    column: CountedColumn,
    since: Option<&str>,
    top: usize,
) -> Result<Vec<CountBy>, StoreError> {
    Ok(counts_of_within(
        conn,
        column,
        since,
        top,
        COUNTS_IN_MEMORY_BUDGET,
    )?)
}

/// [`counts_of`] with the memory budget given.
pub(in crate::store) fn counts_of_within(
    conn: &Connection,
    column: CountedColumn,
    since: Option<&str>,
    top: usize,
    budget: usize,
) -> Result<Vec<CountBy>, rusqlite::Error> {
    let index = column as usize;
    let [counts] = count_selected(conn, SELECT_ONE_COLUMN[index], since, budget)?;
    largest_counts(conn, counts, index, since, top)
}

/// The `top` largest counts of each of the [`COUNTED_COLUMNS`], largest first, ties by value
/// (NULL and empty text are one value, `""`): from one pass over the rows, and for any column
/// whose values outgrow `budget` bytes, from a `GROUP BY` of its own.
pub(in crate::store) fn counts_by_column(
    conn: &Connection,
    since: Option<&str>,
    top: usize,
    budget: usize,
) -> Result<[Vec<CountBy>; 5], rusqlite::Error> {
    let mut lists: [Vec<CountBy>; 5] = Default::default();
    let columns = count_columns(conn, since, budget)?;
    for (index, (column, list)) in columns.into_iter().zip(&mut lists).enumerate() {
        *list = largest_counts(conn, column, index, since, top)?;
    }
    Ok(lists)
}

/// The `top` largest of one column's counts (the column at `index` in [`COUNTED_COLUMNS`]
/// order), counted by SQL if they were over budget.
fn largest_counts(
    conn: &Connection,
    column: ColumnCounts,
    index: usize,
    since: Option<&str>,
    top: usize,
) -> Result<Vec<CountBy>, rusqlite::Error> {
    match column {
        ColumnCounts::InMemory { counts, .. } => Ok(largest(counts, top)),
        ColumnCounts::OverBudget => count_by(conn, COUNT_ONE_COLUMN[index], since, top),
    }
}

/// Events per value of each of the [`COUNTED_COLUMNS`], from one pass over the rows; a column
/// stops being counted (and its memory is freed) once its values take more than `budget` bytes.
pub(in crate::store) fn count_columns(
    conn: &Connection,
    since: Option<&str>,
    budget: usize,
) -> Result<[ColumnCounts; 5], rusqlite::Error> {
    count_selected(conn, COUNTED_COLUMNS, since, budget)
}

/// Events per value of each of the `N` columns `select` reads (without, then with `since`), as
/// [`count_columns`] counts them.
fn count_selected<const N: usize>(
    conn: &Connection,
    select: [&str; 2],
    since: Option<&str>,
    budget: usize,
) -> Result<[ColumnCounts; N], rusqlite::Error> {
    let mut columns: [ColumnCounts; N] = std::array::from_fn(|_| ColumnCounts::InMemory {
        counts: ValueCounts::new(),
        bytes: 0,
    });
    let mut statement;
    let mut rows = match since {
        None => {
            statement = conn.prepare_cached(select[0])?;
            statement.query([])?
        }
        Some(since) => {
            statement = conn.prepare_cached(select[1])?;
            statement.query([since])?
        }
    };
    while let Some(row) = rows.next()? {
        for (index, column) in columns.iter_mut().enumerate() {
            let ColumnCounts::InMemory { counts, bytes } = column else {
                continue;
            };
            let value: &[u8] = match row.get_ref(index)? {
                ValueRef::Text(value) | ValueRef::Blob(value) => value,
                _ => b"",
            };
            if let Some(count) = counts.get_mut(value) {
                *count += 1;
                continue;
            }
            *bytes += value.len() + COUNT_ENTRY_OVERHEAD;
            if *bytes > budget {
                *column = ColumnCounts::OverBudget;
            } else {
                counts.insert(value.into(), 1);
            }
        }
    }
    Ok(columns)
}

/// Runs one of the [`COUNT_ONE_COLUMN`] pairs.
fn count_by(
    conn: &Connection,
    sql: [&str; 2],
    since: Option<&str>,
    top: usize,
) -> Result<Vec<CountBy>, rusqlite::Error> {
    let row = |row: &rusqlite::Row<'_>| {
        Ok(CountBy {
            value: text(row, 0)?.unwrap_or_default(),
            count: as_u64(row.get(1)?),
        })
    };
    let limit = as_i64(top);
    match since {
        None => conn
            .prepare_cached(sql[0])?
            .query_map([limit], row)?
            .collect(),
        Some(since) => conn
            .prepare_cached(sql[1])?
            .query_map(params![since, limit], row)?
            .collect(),
    }
}

/// The `top` largest counts, largest first, ties by value.
fn largest(counts: ValueCounts, top: usize) -> Vec<CountBy> {
    let mut counts: Vec<CountBy> = counts
        .into_iter()
        .map(|(value, count)| CountBy {
            value: String::from_utf8_lossy(&value).into_owned(),
            count,
        })
        .collect();
    sort_largest_first(&mut counts);
    counts.truncate(top);
    counts
}

/// Largest count first, ties by value (as the SQL fallback orders them).
pub(super) fn sort_largest_first(counts: &mut [CountBy]) {
    counts.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(super) fn all_statements() -> Vec<&'static str> {
    let mut all = COUNTED_COLUMNS.to_vec();
    all.extend(SELECT_ONE_COLUMN.concat());
    all.extend(COUNT_ONE_COLUMN.concat());
    all
}
