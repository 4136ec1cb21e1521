//! The read side of the store, for the API: point lookups and newest-first listings of source
//! IPs and called numbers (from the aggregate tables), recent events, and statistics.
//!
//! Every function takes a `&Connection`, normally a read-only one from
//! [`super::open_read_only`], and blocks: call it inside `spawn_blocking`. Functions never fail
//! on an empty database; they return `None`, 0 or nothing. Timestamps are the store's
//! `event_timestamp` text (`YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, UTC), which sorts in time order, so
//! `since` and cursor values are compared as text.
//!
//! # What the aggregate counters mean
//!
//! A source IP or called number has a row from its first event until it has been silent for
//! longer than the retention window. `seen_count` counts its events since that row was created,
//! as long as the key stays active within the window (so it may count events retention has
//! already deleted); `id` is stable for as long as the row lives. Only phone numbers
//! ([`super::is_phone_number`]) are counted as called numbers.
//!
//! # Layout
//!
//! - `seen`: [`ip_seen`], [`number_seen`], [`count_ips`], [`each_ip`] and their number twins,
//!   [`ips_last_seen_between`], [`each_ip_by_events`].
//! - `matching`: [`each_ip_matching`], [`each_number_matching`] (narrowed by event attributes).
//! - `events`: [`recent_events`], [`events_from_ip`], [`events_to_number`],
//!   [`latest_event_timestamp`].
//! - `summary`: [`stats`], [`totals`], [`counts_of`], [`events_per_minute`],
//!   [`local_activity`] (from the rollups).

mod events;
mod matching;
mod seen;
mod share;
pub(in crate::store) mod summary;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row, Transaction};

use super::StoreError;
use crate::sip::AttackType;

pub use events::{
    EventFilter, EventRow, events_from_ip, events_to_number, latest_event_timestamp, recent_events,
};
pub use matching::{EventMatch, each_ip_matching, each_number_matching};
pub use seen::{
    count_ips, count_numbers, each_ip, each_ip_by_events, each_number, ip_seen,
    ips_last_seen_between, number_seen, seen_reads_one_row,
};
pub use share::{SharePage, Shareable, contributions_since, shareable_events};
pub use summary::{
    CountBy, CountedColumn, LocalActivity, Stats, Totals, counts_of, events_per_minute,
    local_activity, stats, totals,
};

/// Which events a query counts, by where they were captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OriginFilter {
    /// Every event (the totals).
    #[default]
    Any,
    /// Events captured by this node's listeners.
    Local,
    /// Events received from peers (the OpenDHT bridge's included: they are peer data).
    Peer,
    /// Events received through the OpenDHT bridge only. The aggregate tables count them as peer
    /// data, so queries through this filter group the raw events (`honey`) instead.
    OpenDht,
}

impl OriginFilter {
    /// Position in per-origin statement tables, and the value bound for `origin` filters.
    fn index(self) -> usize {
        match self {
            Self::Any => 0,
            Self::Local => 1,
            Self::Peer => 2,
            Self::OpenDht => 3,
        }
    }
}

/// One source IP or called number, as seen through an [`OriginFilter`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SeenRecord {
    /// Stable id of the aggregate row (the CrowdSec decision id for IPs).
    pub id: i64,
    /// The IP address or called number.
    pub key: String,
    /// Newest event counted (`event_timestamp` text).
    pub seen_last: String,
    /// Events counted (see the module docs for what that covers).
    pub seen_count: u64,
    /// For source IPs: the attack types its events had since its row was created, as
    /// [`AttackType::bit`]s (whatever the origin filter); 0 for called numbers.
    pub attack_types: u8,
}

/// Which records a count or listing returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ListFilter {
    /// Whose events count; with `Local` or `Peer`, only keys that side has seen are listed, with
    /// that side's count and newest timestamp.
    pub origin: OriginFilter,
    /// Keep records whose `seen_last` (as filtered) is at or after this timestamp text.
    pub since: Option<String>,
    /// Keep records whose `seen_count` (as filtered) is at least this.
    pub min_seen_count: u64,
    /// Source IPs only: keep IPs that sent at least one event of this type (by their
    /// [`SeenRecord::attack_types`]). Called numbers have no attack types: a number listing
    /// with this set is empty.
    pub attack_type: Option<AttackType>,
}

/// A keyset position in a listing ordered `seen_last DESC, key ASC`: the next page holds the
/// rows strictly after it. Build it from the last record of a page with [`Cursor::after`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Cursor {
    /// `seen_last` of the last record returned.
    pub seen_last: String,
    /// `key` of the last record returned.
    pub key: String,
}

impl Cursor {
    /// The position just after `record`.
    pub fn after(record: &SeenRecord) -> Self {
        Self {
            seen_last: record.seen_last.clone(),
            key: record.key.clone(),
        }
    }
}

/// Starts a read transaction on `conn`, so several queries (a total and its listing, say) see
/// one snapshot of the database. Pass the transaction wherever a `&Connection` is taken (it
/// dereferences to one); dropping it ends the snapshot.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when `BEGIN` fails.
pub fn begin_read(conn: &Connection) -> Result<Transaction<'_>, StoreError> {
    Ok(conn.unchecked_transaction()?)
}

#[cfg(test)]
pub(in crate::store) use events::{RECENT_BY_ID, RECENT_BY_TIME, recent_events_with};
#[cfg(test)]
pub(in crate::store) use seen::{ips_by_events_sql, listing_sql};

/// Every statement of the read side, for a test that prepares them all.
#[cfg(test)]
pub(in crate::store) fn all_statements() -> Vec<&'static str> {
    let mut all = seen::all_statements();
    all.extend(events::all_statements());
    all.extend(summary::all_statements());
    all
}

/// A count from SQLite (never negative) as `u64`.
fn as_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// A count or limit as an SQLite integer.
fn as_i64<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// Column `index` of `row` as text: invalid UTF-8 (rows written by the original's C build can
/// hold any bytes) is replaced rather than failing the whole query; NULL is `None`.
fn text(row: &Row<'_>, index: usize) -> Result<Option<String>, rusqlite::Error> {
    Ok(match row.get_ref(index)? {
        ValueRef::Null => None,
        ValueRef::Integer(value) => Some(value.to_string()),
        ValueRef::Real(value) => Some(value.to_string()),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    })
}
