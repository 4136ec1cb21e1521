//! Statistics: event counts by method, user agent, transport, message kind, attack type and
//! destination, source IPs per attack type, totals, and the most active source IPs and called
//! numbers, all from one snapshot of the database; one dimension's counts on its own
//! ([`counts_of`]); events per minute ([`events_per_minute`]); this node's own activity for its
//! community summary ([`local_activity`]). Everything but the top lists is read from the rollups
//! (`store::rollup`), so it costs the same at any size; `since` is rounded down to its minute.

mod local;
mod rollups;
mod top;

use jiff::Timestamp;
use rusqlite::Connection;

use super::SeenRecord;
use crate::event::format_timestamp;
use crate::sip::AttackType;
use crate::store::StoreError;
use crate::store::aggregate::parse_stored;
use crate::store::rollup::{Dimension, KeyKind, Window, minute_of};
use top::{Sizes, TOP_IPS, TOP_NUMBERS, top_records};

pub use local::{LocalActivity, local_activity};

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
    /// Events per destination (this honeypot's own address the probe was sent to), as
    /// `ip:port` (`[ip]:port` for IPv6).
    pub by_destination: Vec<CountBy>,
    /// Source IPs (last seen at or after `since`) per attack type they sent; types no IP sent
    /// are left out.
    pub ip_addresses_by_attack_type: Vec<CountBy>,
    /// Source IPs with the highest `seen_count`.
    pub top_ip_addresses: Vec<SeenRecord>,
    /// Called numbers with the highest `seen_count`.
    pub top_called_numbers: Vec<SeenRecord>,
}

/// A column whose events [`counts_of`] counts on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountedColumn {
    /// The SIP method.
    Method,
    /// The `User-Agent` header.
    UserAgent,
}

/// Counts events (at or after `since`, a stored timestamp text, rounded down to its minute) by
/// method, user agent, transport, message kind, attack type and destination, counts the source IPs and
/// called numbers last seen since then, and lists the `top` of them by `seen_count`. Each list
/// is capped at `top` entries. Runs in one read transaction (unless `conn` is already in one, see
/// [`super::begin_read`]), so every figure comes from the same snapshot.
///
/// # Errors
///
/// [`StoreError::InvalidTime`] when `since` is not a stored timestamp, [`StoreError::Sqlite`]
/// when a query fails.
pub fn stats(conn: &Connection, since: Option<&str>, top: usize) -> Result<Stats, StoreError> {
    let since_minute = since.map(minute_since).transpose()?;
    let window = Window::since(since_minute);
    let since_text = since_minute.map_or_else(String::new, minute_text);
    let snapshot = if conn.is_autocommit() {
        Some(conn.unchecked_transaction()?)
    } else {
        None
    };
    let ips = rollups::keys_by_attack_types(conn, KeyKind::Ip, window)?;
    let numbers = rollups::keys_by_attack_types(conn, KeyKind::Number, window)?;
    let sizes = |matching: &[u64; 64], kind| -> Result<Sizes, rusqlite::Error> {
        let all = rollups::keys_by_attack_types(conn, kind, Window::since(None))?;
        Ok(Sizes {
            all: all.iter().sum(),
            matching: matching.iter().sum(),
        })
    };
    let by = |dimension| rollups::counts_by_value(conn, dimension, window, top);
    let stats = Stats {
        totals: Totals {
            events: rollups::events(conn, window)?,
            ip_addresses: ips.iter().sum(),
            called_numbers: numbers.iter().sum(),
        },
        by_method: by(Dimension::Method)?,
        by_user_agent: by(Dimension::UserAgent)?,
        by_transport: by(Dimension::Transport)?,
        by_message_kind: by(Dimension::MessageKind)?,
        by_attack_type: by(Dimension::AttackType)?,
        by_destination: by(Dimension::Destination)?,
        ip_addresses_by_attack_type: per_attack_type(&ips),
        top_ip_addresses: top_records(conn, &TOP_IPS, &since_text, top, sizes(&ips, KeyKind::Ip)?)?,
        top_called_numbers: top_records(
            conn,
            &TOP_NUMBERS,
            &since_text,
            top,
            sizes(&numbers, KeyKind::Number)?,
        )?,
    };
    if let Some(snapshot) = snapshot {
        snapshot.finish()?;
    }
    Ok(stats)
}

/// The totals of [`stats`] alone (events, and source IPs and called numbers last seen at or
/// after `since`, rounded down to its minute), read from the rollups only: the same cost at any
/// size (the dashboard's windows).
///
/// # Errors
///
/// [`StoreError::InvalidTime`] when `since` is not a stored timestamp, [`StoreError::Sqlite`]
/// when a query fails.
pub fn totals(conn: &Connection, since: Option<&str>) -> Result<Totals, StoreError> {
    let window = Window::since(since.map(minute_since).transpose()?);
    let keys = |kind| -> Result<u64, rusqlite::Error> {
        Ok(rollups::keys_by_attack_types(conn, kind, window)?
            .iter()
            .sum())
    };
    Ok(Totals {
        events: rollups::events(conn, window)?,
        ip_addresses: keys(KeyKind::Ip)?,
        called_numbers: keys(KeyKind::Number)?,
    })
}

/// Events (at or after `since`, rounded down to its minute) per value of one column, as
/// [`stats`] counts them: largest first, ties by value, at most `top` entries, NULL and empty
/// text as one value `""`.
///
/// # Errors
///
/// [`StoreError::InvalidTime`] when `since` is not a stored timestamp, [`StoreError::Sqlite`]
/// when the query fails.
pub fn counts_of(
    conn: &Connection,
    column: CountedColumn,
    since: Option<&str>,
    top: usize,
) -> Result<Vec<CountBy>, StoreError> {
    let window = Window::since(since.map(minute_since).transpose()?);
    let dimension = match column {
        CountedColumn::Method => Dimension::Method,
        CountedColumn::UserAgent => Dimension::UserAgent,
    };
    Ok(rollups::counts_by_value(conn, dimension, window, top)?)
}

/// Events stored per minute from the minute of `since` on (a stored timestamp text), oldest
/// first: each minute's start and its events; minutes without events are left out.
///
/// # Errors
///
/// [`StoreError::InvalidTime`] when `since` is not a stored timestamp, [`StoreError::Sqlite`]
/// when the query fails.
pub fn events_per_minute(
    conn: &Connection,
    since: &str,
) -> Result<Vec<(Timestamp, u64)>, StoreError> {
    Ok(rollups::events_per_minute(conn, minute_since(since)?)?)
}

/// The minute bucket of a `since` text.
fn minute_since(since: &str) -> Result<i64, StoreError> {
    parse_stored(since)
        .map(minute_of)
        .ok_or_else(|| StoreError::InvalidTime(since.to_owned()))
}

/// The stored text of a minute bucket's start.
fn minute_text(minute: i64) -> String {
    let start = Timestamp::from_second(minute.saturating_mul(60)).unwrap_or(Timestamp::MIN);
    format_timestamp(start)
}

/// Keys per attack type from keys per set of attack types: largest count first, ties by name,
/// zero counts left out.
fn per_attack_type(keys: &[u64; 64]) -> Vec<CountBy> {
    let mut counts: Vec<CountBy> = AttackType::ALL
        .iter()
        .map(|attack_type| CountBy {
            value: attack_type.as_str().to_owned(),
            count: (keys.iter().enumerate())
                .filter(|(bits, _)| bits & usize::from(attack_type.bit()) != 0)
                .map(|(_, keys)| *keys)
                .sum(),
        })
        .filter(|count| count.count > 0)
        .collect();
    counts.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    counts
}

/// The two ways of reading each top list (IPs, numbers), for a test that compares them.
#[cfg(test)]
pub(in crate::store) fn top_statements() -> [[&'static str; 2]; 2] {
    [
        [TOP_IPS.by_count, TOP_IPS.by_last_seen],
        [TOP_NUMBERS.by_count, TOP_NUMBERS.by_last_seen],
    ]
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(in crate::store) fn all_statements() -> Vec<&'static str> {
    let mut all = rollups::all_statements();
    all.extend(top::all_statements());
    all.extend(local::all_statements());
    all
}
