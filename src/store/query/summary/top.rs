//! The most active source IPs and called numbers (largest `seen_count`, ties by key) among
//! those last seen at or after a time, read down whichever index reads fewer rows.
//!
//! Two ways answer the same question: down the `seen_count` index, skipping keys last seen too
//! early, which reads about `top × all / matching` rows; or through the `last_seen` index, all
//! `matching` keys, then sorted. The key rollups give `all` and `matching` without reading the
//! tables, so the cheaper way is taken: at most about `sqrt(top × all)` rows either way.

use rusqlite::{Connection, params};

use crate::store::query::seen::record;
use crate::store::query::{SeenRecord, as_i64};

/// The top-list statements of one table.
#[derive(Debug)]
pub(super) struct TopSql {
    /// Down the `seen_count` index: `?1` since, `?2` limit.
    pub(super) by_count: &'static str,
    /// Through the `last_seen` index, then sorted: as `by_count`.
    pub(super) by_last_seen: &'static str,
}

/// The [`TopSql`] of `$table` keyed by `$key`, with `$types` as its records' attack types.
macro_rules! top_sql {
    ($table:literal, $key:literal, $types:literal) => {
        TopSql {
            by_count: concat!(
                "SELECT id, ",
                $key,
                ", last_seen, seen_count, ",
                $types,
                " FROM ",
                $table,
                " INDEXED BY ",
                $table,
                "_seen_count_index WHERE last_seen >= ?1",
                " ORDER BY seen_count DESC, ",
                $key,
                " ASC LIMIT ?2"
            ),
            by_last_seen: concat!(
                "SELECT id, ",
                $key,
                ", last_seen, seen_count, ",
                $types,
                " FROM ",
                $table,
                " INDEXED BY ",
                $table,
                "_last_seen_index WHERE last_seen >= ?1",
                " ORDER BY seen_count DESC, ",
                $key,
                " ASC LIMIT ?2"
            ),
        }
    };
}

/// `ip_addresses`.
pub(super) const TOP_IPS: TopSql = top_sql!("ip_addresses", "source_ip", "attack_types");

/// `called_numbers` (a number's record carries no attack types).
pub(super) const TOP_NUMBERS: TopSql = top_sql!("called_numbers", "called_number", "0");

/// How many rows each way would read, from the key rollups.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizes {
    /// Rows in the table.
    pub(super) all: u64,
    /// Rows last seen at or after `since`.
    pub(super) matching: u64,
}

impl Sizes {
    /// Whether walking down the `seen_count` index reads fewer rows for `top` records.
    fn walk_by_count(self, top: u64) -> bool {
        u128::from(top) * u128::from(self.all) <= u128::from(self.matching).pow(2)
    }
}

/// The `top` records of one table last seen at or after `since` (stored timestamp text, `''`
/// for all).
pub(super) fn top_records(
    conn: &Connection,
    sql: &TopSql,
    since: &str,
    top: usize,
    sizes: Sizes,
) -> Result<Vec<SeenRecord>, rusqlite::Error> {
    let statement = if sizes.walk_by_count(u64::try_from(top).unwrap_or(u64::MAX)) {
        sql.by_count
    } else {
        sql.by_last_seen
    };
    conn.prepare_cached(statement)?
        .query_map(params![since, as_i64(top)], record)?
        .collect()
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(super) fn all_statements() -> Vec<&'static str> {
    vec![
        TOP_IPS.by_count,
        TOP_IPS.by_last_seen,
        TOP_NUMBERS.by_count,
        TOP_NUMBERS.by_last_seen,
    ]
}
