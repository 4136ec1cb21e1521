//! Reading the aggregate tables back at start-up, for the live blocklist: every row last seen
//! within the retention window, in chunks of [`LOAD_CHUNK_ROWS`] by `id`, so millions of rows
//! never sit in memory twice.

use std::net::IpAddr;

use rusqlite::{Connection, params};
use tracing::warn;

use super::AggregateRow;
use super::stored::{IP_SQL, NUMBER_SQL, TableSql, from_columns};
use crate::store::StoreError;

/// Rows per chunk: large enough that the per-statement cost vanishes, small enough to stay a
/// few megabytes.
pub const LOAD_CHUNK_ROWS: usize = 16_384;

/// Chunks of stored rows of one table, oldest `id` first. Each `next` runs one query; a row
/// whose key does not read as a key of this table (an IP that is not an IP, rows of the
/// original with odd text) is skipped and counted in [`AggregateLoad::skipped`].
#[derive(Debug)]
pub struct AggregateLoad<'c, K> {
    conn: &'c Connection,
    sql: &'static TableSql,
    since: String,
    after_id: i64,
    parse: fn(String) -> Option<K>,
    skipped: u64,
    done: bool,
}

impl<K> AggregateLoad<'_, K> {
    /// Rows skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The next chunk of up to [`LOAD_CHUNK_ROWS`] rows.
    fn next_chunk(&mut self) -> Result<Vec<AggregateRow<K>>, StoreError> {
        let mut statement = self.conn.prepare_cached(self.sql.load_chunk)?;
        let limit = i64::try_from(LOAD_CHUNK_ROWS).unwrap_or(i64::MAX);
        let mut rows = statement.query(params![self.after_id, self.since, limit])?;
        let mut chunk = Vec::with_capacity(LOAD_CHUNK_ROWS);
        let mut read = 0;
        while let Some(row) = rows.next()? {
            read += 1;
            self.after_id = row.get(0)?;
            let key: Option<String> = row.get(1)?;
            match key.and_then(self.parse) {
                Some(key) => chunk.push(from_columns(row, 2)?.with_key(key)),
                None => self.skipped += 1,
            }
        }
        self.done = read < LOAD_CHUNK_ROWS;
        Ok(chunk)
    }
}

impl<K> Iterator for AggregateLoad<'_, K> {
    type Item = Result<Vec<AggregateRow<K>>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let chunk = self.next_chunk();
        if chunk.is_err() {
            self.done = true;
        }
        if self.done && self.skipped > 0 {
            warn!(
                skipped = self.skipped,
                "aggregate rows whose key is not valid were not loaded"
            );
        }
        match chunk {
            Ok(rows) if rows.is_empty() && self.done => None,
            other => Some(other),
        }
    }
}

/// Every `ip_addresses` row last seen at or after `since` (a stored timestamp text, such as
/// [`retention_cutoff`](crate::store::retention_cutoff) gives; `None` for all), as chunks of
/// rows for the live blocklist's `load_ips`. Read on any
/// connection, before the writer starts or beside it.
///
/// ```no_run
/// # fn main() -> Result<(), sentrypeer::store::StoreError> {
/// # let conn = rusqlite::Connection::open_in_memory()?;
/// for chunk in sentrypeer::store::load_ips(&conn, None) {
///     let rows = chunk?; // hand them to the blocklist
/// }
/// # Ok(()) }
/// ```
pub fn load_ips<'c>(conn: &'c Connection, since: Option<&str>) -> AggregateLoad<'c, IpAddr> {
    load(conn, &IP_SQL, since, |text| text.parse().ok())
}

/// [`load_ips`] for `called_numbers`.
pub fn load_numbers<'c>(conn: &'c Connection, since: Option<&str>) -> AggregateLoad<'c, Box<str>> {
    load(conn, &NUMBER_SQL, since, |text| Some(text.into_boxed_str()))
}

fn load<'c, K>(
    conn: &'c Connection,
    sql: &'static TableSql,
    since: Option<&str>,
    parse: fn(String) -> Option<K>,
) -> AggregateLoad<'c, K> {
    AggregateLoad {
        conn,
        sql,
        since: since.unwrap_or("").to_owned(),
        after_id: i64::MIN,
        parse,
        skipped: 0,
        done: false,
    }
}
