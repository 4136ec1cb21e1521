//! An aggregate row as SQLite holds it, both ways: the columns read back into an
//! [`AggregateRow`] (times parsed from the store's text, authors from their JSON array), and an
//! [`AggregateRow`] as the parameters of its `INSERT` or `UPDATE`.

use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Row, ToSql};

use super::AggregateRow;
use crate::event::{format_timestamp, parse_timestamp};

/// The statements over one aggregate table. Every `SELECT` reads `id`, the key, then the
/// columns [`from_columns`] reads, in its order.
#[derive(Debug)]
pub(super) struct TableSql {
    /// The row of key `?1`.
    pub(super) select_by_key: &'static str,
    /// A new row: `?1` key, `?2`.. the values of [`Values::params`].
    pub(super) insert: &'static str,
    /// [`Values::params`] with the row's `id` first.
    pub(super) update: &'static str,
    /// Up to `?3` rows with `id > ?1` and `last_seen >= ?2`, by `id`.
    pub(super) load_chunk: &'static str,
}

/// The [`TableSql`] of `$table` keyed by `$key`.
macro_rules! table_sql {
    ($table:literal, $key:literal) => {
        TableSql {
            select_by_key: concat!(
                "SELECT id, ",
                $key,
                ", seen_count, first_seen, last_seen, local_count, ",
                "local_last_seen, peer_count, peer_last_seen, attack_types, transports, proven, ",
                "peer_authors, more_peer_authors FROM ",
                $table,
                " WHERE ",
                $key,
                " = ?1"
            ),
            insert: concat!(
                "INSERT INTO ",
                $table,
                " (",
                $key,
                ", seen_count, first_seen, last_seen, ",
                "local_count, local_last_seen, peer_count, peer_last_seen, attack_types, ",
                "transports, proven, peer_authors, more_peer_authors) ",
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
            update: concat!(
                "UPDATE ",
                $table,
                " SET seen_count = ?2, first_seen = ?3, last_seen = ?4, ",
                "local_count = ?5, local_last_seen = ?6, peer_count = ?7, peer_last_seen = ?8, ",
                "attack_types = ?9, transports = ?10, proven = ?11, peer_authors = ?12, ",
                "more_peer_authors = ?13 WHERE id = ?1"
            ),
            load_chunk: concat!(
                "SELECT id, ",
                $key,
                ", seen_count, first_seen, last_seen, local_count, ",
                "local_last_seen, peer_count, peer_last_seen, attack_types, transports, proven, ",
                "peer_authors, more_peer_authors FROM ",
                $table,
                " WHERE id > ?1 AND last_seen >= ?2 ORDER BY id LIMIT ?3"
            ),
        }
    };
}

/// `ip_addresses`.
pub(super) const IP_SQL: TableSql = table_sql!("ip_addresses", "source_ip");

/// `called_numbers`.
pub(super) const NUMBER_SQL: TableSql = table_sql!("called_numbers", "called_number");

/// The row whose stored columns start at `first` (`seen_count` .. `more_peer_authors`, as
/// [`TableSql`] selects them), with key `()`. A time that does not
/// parse (rows the original wrote with odd text, or none) reads as the widest possible, so a
/// merge takes the other side's: `first_seen` as [`Timestamp::MAX`], `last_seen` as
/// [`Timestamp::MIN`].
pub(super) fn from_columns(row: &Row<'_>, first: usize) -> rusqlite::Result<AggregateRow<()>> {
    let count = |index: usize| -> rusqlite::Result<u64> {
        Ok(u64::try_from(row.get::<_, Option<i64>>(first + index)?.unwrap_or(0)).unwrap_or(0))
    };
    let time = |index: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row
            .get::<_, Option<String>>(first + index)?
            .as_deref()
            .and_then(parse_stored))
    };
    let bits = |index: usize| -> rusqlite::Result<u8> {
        Ok(u8::try_from(row.get::<_, Option<i64>>(first + index)?.unwrap_or(0)).unwrap_or(0))
    };
    let authors: Option<String> = row.get(first + 10)?;
    Ok(AggregateRow {
        key: (),
        seen_count: count(0)?,
        first_seen: time(1)?.unwrap_or(Timestamp::MAX),
        last_seen: time(2)?.unwrap_or(Timestamp::MIN),
        local_count: count(3)?,
        local_last_seen: time(4)?,
        remote_count: count(5)?,
        remote_last_seen: time(6)?,
        attack_types: bits(7)?,
        transports: bits(8)?,
        proven: count(9)? != 0,
        authors: authors
            .as_deref()
            .map(authors_from_json)
            .unwrap_or_default(),
        more_authors: count(11)? != 0,
    })
}

/// The stored columns of a row (`seen_count` .. `more_peer_authors`), ready to bind.
pub(super) struct Values {
    seen_count: i64,
    first_seen: String,
    last_seen: String,
    local_count: i64,
    local_last_seen: Option<String>,
    peer_count: i64,
    peer_last_seen: Option<String>,
    attack_types: u8,
    transports: u8,
    proven: bool,
    peer_authors: Option<String>,
    more_peer_authors: bool,
}

impl Values {
    /// The stored form of `row`.
    pub(super) fn of<K>(row: &AggregateRow<K>) -> Self {
        Self {
            seen_count: as_i64(row.seen_count),
            first_seen: format_timestamp(row.first_seen),
            last_seen: format_timestamp(row.last_seen),
            local_count: as_i64(row.local_count),
            local_last_seen: row.local_last_seen.map(format_timestamp),
            peer_count: as_i64(row.remote_count),
            peer_last_seen: row.remote_last_seen.map(format_timestamp),
            attack_types: row.attack_types,
            transports: row.transports,
            proven: row.proven,
            peer_authors: authors_to_json(&row.authors),
            more_peer_authors: row.more_authors,
        }
    }

    /// `?1` (`first`: the key or the id), then the values in [`TableSql`]'s parameter order.
    pub(super) fn params<'a>(&'a self, first: &'a dyn ToSql) -> [&'a dyn ToSql; 13] {
        [
            first,
            &self.seen_count,
            &self.first_seen,
            &self.last_seen,
            &self.local_count,
            &self.local_last_seen,
            &self.peer_count,
            &self.peer_last_seen,
            &self.attack_types,
            &self.transports,
            &self.proven,
            &self.peer_authors,
            &self.more_peer_authors,
        ]
    }
}

/// A time as the store writes it (`YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, UTC), read without
/// allocating: a start-up load parses three per row for millions of rows. Other forms (fewer
/// fraction digits, as `created_at` holds) go through [`parse_timestamp`]; `None` when neither
/// reads it.
pub(crate) fn parse_stored(text: &str) -> Option<Timestamp> {
    parse_fixed(text.as_bytes()).or_else(|| parse_timestamp(text))
}

/// [`parse_stored`]'s fast path: exactly 29 bytes in the store's layout.
fn parse_fixed(bytes: &[u8]) -> Option<Timestamp> {
    let layout = b"0000-00-00 00:00:00.000000000";
    if bytes.len() != layout.len() {
        return None;
    }
    let mut fields = [0_i64; 7];
    let mut field = 0;
    for (&byte, &expected) in bytes.iter().zip(layout) {
        if expected == b'0' {
            if !byte.is_ascii_digit() {
                return None;
            }
            fields[field] = fields[field] * 10 + i64::from(byte - b'0');
        } else if byte == expected {
            field += 1;
        } else {
            return None;
        }
    }
    let [year, month, day, hour, minute, second, nanos] = fields;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let date = jiff::civil::Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    );
    // An impossible date (2024-02-31) is not a time.
    date.ok()?;
    Timestamp::new(seconds, i32::try_from(nanos).ok()?).ok()
}

/// Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Authors as stored: a JSON array of their names, or NULL for none.
fn authors_to_json(authors: &[Arc<str>]) -> Option<String> {
    let names: Vec<&str> = authors.iter().map(|name| &**name).collect();
    (!names.is_empty()).then(|| serde_json::to_string(&names).unwrap_or_default())
}

/// Authors from their stored JSON array; names that are not strings, empty, or past
/// [`super::MAX_ROW_AUTHORS`] are left out (the column is only ever written here).
fn authors_from_json(text: &str) -> Vec<Arc<str>> {
    let names: Vec<String> = serde_json::from_str(text).unwrap_or_default();
    names
        .into_iter()
        .filter(|name| !name.is_empty())
        .take(super::MAX_ROW_AUTHORS)
        .map(Arc::from)
        .collect()
}

/// A counter as an SQLite integer.
fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_fast_path_reads_what_the_store_writes_and_refuses_the_rest() {
        for text in [
            "2024-01-01 00:00:00.000000000",
            "1970-01-01 00:00:00.000000001",
            "2000-02-29 23:59:59.999999999",
            "0001-01-01 00:00:00.000000000",
        ] {
            assert_eq!(
                parse_fixed(text.as_bytes()),
                parse_timestamp(text),
                "{text}"
            );
            assert!(parse_fixed(text.as_bytes()).is_some(), "{text}");
        }
        for bad in [
            "",
            "2024-01-01 00:00:00",
            "2024-13-01 00:00:00.000000000",
            "2023-02-29 00:00:00.000000000",
            "2024-01-01T00:00:00.000000000",
            "2024-01-01 24:00:00.000000000",
            "2024-01-0x 00:00:00.000000000",
        ] {
            assert_eq!(parse_fixed(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(
            parse_stored("2024-01-01 00:00:00.123"),
            "2024-01-01T00:00:00.123Z".parse().ok(),
            "created_at's form takes the slow path"
        );
    }

    #[test]
    fn authors_round_trip_and_bad_json_reads_as_none() {
        let names: Vec<Arc<str>> = vec!["12D3KooWA".into(), "op\"en\ndht".into()];
        let json = authors_to_json(&names).expect("some");
        assert_eq!(authors_from_json(&json), names);
        assert_eq!(authors_to_json(&[]), None);
        assert!(authors_from_json("not json").is_empty());
        assert!(authors_from_json("[1, 2]").is_empty());
    }

    proptest! {
        #[test]
        fn any_time_round_trips_through_its_text(seconds in -62_135_596_800_i64..253_402_300_799, nanos in 0..1_000_000_000_i32) {
            let at = Timestamp::new(seconds, nanos).expect("in range");
            prop_assert_eq!(parse_stored(&format_timestamp(at)), Some(at));
        }
    }
}
