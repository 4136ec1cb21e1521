//! Events per minute and hour, per value of each [`Dimension`]: tallied in memory per batch
//! ([`EventTally`]) and added to `event_counts_minute` / `event_counts_hour` in the batch's
//! transaction, at most [`MAX_VALUES_PER_BUCKET`] values per dimension and bucket
//! ([`RollupValues`]).

use std::collections::HashMap;
use std::net::SocketAddr;

use rusqlite::{Transaction, params};

use super::{Level, MAX_VALUES_PER_BUCKET, PruneSql, hour_of, minute_of};
use crate::event::{BadActor, Origin};

/// The tally's maps: ten lookups per stored event, so hashed with foldhash rather than std's
/// SipHash. Their keys are attacker-chosen text (user agents), but a map lives for one batch
/// (bounded by the writer's batch size) and foldhash is seeded at random per process.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What events are counted by. The discriminant is the stored `dimension`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dimension {
    /// Every event, under the value `''`.
    Events = 0,
    /// `method`.
    Method = 1,
    /// `user_agent`.
    UserAgent = 2,
    /// `transport_type`.
    Transport = 3,
    /// `message_kind`.
    MessageKind = 4,
    /// `attack_type`.
    AttackType = 5,
    /// `destination_ip` and `destination_port`, as `ip:port` (`[ip]:port` for IPv6).
    Destination = 6,
    /// Every event this node captured itself (origin `local`), under the value `''`: what its
    /// community summary counts (peer data is the other nodes' to report).
    LocalEvents = 7,
    /// `method` of this node's own events.
    LocalMethod = 8,
    /// `attack_type` of this node's own events.
    LocalAttackType = 9,
}

impl Dimension {
    /// Every dimension, in discriminant order.
    pub(crate) const ALL: [Self; DIMENSIONS] = [
        Self::Events,
        Self::Method,
        Self::UserAgent,
        Self::Transport,
        Self::MessageKind,
        Self::AttackType,
        Self::Destination,
        Self::LocalEvents,
        Self::LocalMethod,
        Self::LocalAttackType,
    ];

    /// The dimensions every event is counted in (the first seven), beside which a local event
    /// is also counted in the `Local*` ones.
    pub(crate) const EVERY_EVENT: usize = 7;

    /// The stored `dimension`.
    pub(crate) fn id(self) -> i64 {
        self as i64
    }
}

/// Number of [`Dimension`]s.
pub(crate) const DIMENSIONS: usize = 10;

/// Adds `?4` events to value `?3` of dimension `?1` in bucket `?2`, if the row exists.
macro_rules! add_sql {
    ($table:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET events = events + ?4 WHERE dimension = ?1 AND bucket = ?2 AND value = ?3"
        )
    };
}

/// Creates value `?3` of dimension `?1` in bucket `?2` with `?4` events.
macro_rules! insert_sql {
    ($table:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (dimension, bucket, value, events) VALUES (?1, ?2, ?3, ?4)"
        )
    };
}

/// Values dimension `?1` holds in bucket `?2`.
macro_rules! values_sql {
    ($table:literal) => {
        concat!(
            "SELECT COUNT(*) FROM ",
            $table,
            " WHERE dimension = ?1 AND bucket = ?2"
        )
    };
}

/// [`add_sql!`] per [`Level`].
const ADD: [&str; 2] = [
    add_sql!("event_counts_minute"),
    add_sql!("event_counts_hour"),
];
/// [`insert_sql!`] per [`Level`].
const INSERT: [&str; 2] = [
    insert_sql!("event_counts_minute"),
    insert_sql!("event_counts_hour"),
];
/// [`values_sql!`] per [`Level`].
const VALUES: [&str; 2] = [
    values_sql!("event_counts_minute"),
    values_sql!("event_counts_hour"),
];

/// Retention's statements for the event rollups (see [`super::prune`]).
pub(super) const PRUNE: PruneSql = PruneSql {
    groups: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    subtract_minutes_from_hour: "
UPDATE event_counts_hour AS hour SET events = hour.events - minutes.events
FROM (SELECT value, sum(events) AS events FROM event_counts_minute
      WHERE dimension = ?1 AND bucket >= ?2 AND bucket < ?3 GROUP BY value) AS minutes
WHERE hour.dimension = ?1 AND hour.bucket = ?4 AND hour.value = minutes.value",
    delete_minutes: "DELETE FROM event_counts_minute WHERE dimension = ?1 AND bucket < ?2",
    delete_hours: "DELETE FROM event_counts_hour WHERE dimension = ?1 AND bucket < ?2",
    delete_empty: [
        "DELETE FROM event_counts_minute WHERE events <= 0",
        "DELETE FROM event_counts_hour WHERE events <= 0",
    ],
};

impl Level {
    /// Position in the per-level statement tables.
    fn index(self) -> usize {
        match self {
            Self::Minute => 0,
            Self::Hour => 1,
        }
    }
}

/// One minute's counts: per dimension, per value.
type MinuteCounts = [FastMap<Box<str>, u64>; DIMENSIONS];

/// A batch's events per minute, dimension and value.
#[derive(Debug, Default)]
pub(crate) struct EventTally {
    minutes: FastMap<i64, MinuteCounts>,
    /// Destinations already formatted in this batch.
    destinations: FastMap<SocketAddr, Box<str>>,
}

impl EventTally {
    /// Counts one stored event (in the `Local*` dimensions too when this node captured it).
    pub(crate) fn add(&mut self, event: &BadActor) {
        let destination = match self.destinations.get(&event.destination) {
            Some(text) => text.clone(),
            None => {
                let text: Box<str> = event.destination.to_string().into();
                self.destinations.insert(event.destination, text.clone());
                text
            }
        };
        self.add_values(
            minute_of(event.event_timestamp),
            [
                "",
                &event.sip_method,
                &event.sip_user_agent,
                event.transport.as_str(),
                event.message_kind.as_str(),
                event.attack.attack_type.as_str(),
                &destination,
            ],
            matches!(event.origin, Origin::Local),
        );
    }

    /// Counts one event in `minute` with these values, in [`Dimension::ALL`] order (the first
    /// [`Dimension::EVERY_EVENT`]); a `local` one also under its `Local*` dimensions.
    pub(crate) fn add_values(
        &mut self,
        minute: i64,
        values: [&str; Dimension::EVERY_EVENT],
        local: bool,
    ) {
        let counts = self.minutes.entry(minute).or_default();
        let [all, method, _, _, _, attack_type, _] = values;
        let local_values = [all, method, attack_type];
        let mut tally = |dimension: Dimension, value: &str| {
            let by_value = &mut counts[dimension as usize];
            match by_value.get_mut(value) {
                Some(count) => *count += 1,
                None => {
                    by_value.insert(value.into(), 1);
                }
            }
        };
        for (dimension, value) in Dimension::ALL.into_iter().zip(values) {
            tally(dimension, value);
        }
        if local {
            let local_dimensions = [
                Dimension::LocalEvents,
                Dimension::LocalMethod,
                Dimension::LocalAttackType,
            ];
            for (dimension, value) in local_dimensions.into_iter().zip(local_values) {
                tally(dimension, value);
            }
        }
    }

    /// Adds the tally to both levels inside `tx`; events whose value did not fit its bucket are
    /// counted in the returned number (once per level).
    pub(crate) fn write(
        &self,
        tx: &Transaction<'_>,
        values: &mut RollupValues,
    ) -> Result<u64, rusqlite::Error> {
        let mut hours: FastMap<(i64, usize, &str), u64> = FastMap::default();
        let mut over_cap = 0;
        for (&minute, counts) in &self.minutes {
            for (dimension, by_value) in counts.iter().enumerate() {
                for (value, &count) in by_value {
                    *hours
                        .entry((hour_of(minute), dimension, value))
                        .or_default() += count;
                    let cell = Cell {
                        level: Level::Minute,
                        dimension: Dimension::ALL[dimension],
                        bucket: minute,
                    };
                    over_cap += values.add(tx, cell, value, count)?;
                }
            }
        }
        for ((hour, dimension, value), count) in hours {
            let cell = Cell {
                level: Level::Hour,
                dimension: Dimension::ALL[dimension],
                bucket: hour,
            };
            over_cap += values.add(tx, cell, value, count)?;
        }
        Ok(over_cap)
    }
}

/// One dimension in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Cell {
    level: Level,
    dimension: Dimension,
    bucket: i64,
}

/// How many values each recently written (level, dimension, bucket) holds, so the cap is
/// checked without counting rows for every new value. Kept by the writer across batches;
/// forgotten when a transaction fails (it may count rows that were rolled back) and when it
/// grows past [`RollupValues::MAX_CELLS`] (old buckets are rarely written again).
#[derive(Debug, Default)]
pub(crate) struct RollupValues {
    held: HashMap<Cell, u32>,
}

impl RollupValues {
    /// Cells remembered before the map starts over.
    const MAX_CELLS: usize = 4096;

    /// Forgets every count (after a rolled-back transaction).
    pub(crate) fn forget(&mut self) {
        self.held.clear();
    }

    /// Adds `count` events to `value` in `cell`; returns `count` when the value is new and
    /// the cell is full, 0 otherwise.
    fn add(
        &mut self,
        tx: &Transaction<'_>,
        cell: Cell,
        value: &str,
        count: u64,
    ) -> Result<u64, rusqlite::Error> {
        let level = cell.level.index();
        let (dimension, bucket, events) = (cell.dimension.id(), cell.bucket, as_i64(count));
        let row = params![dimension, bucket, value, events];
        if tx.prepare_cached(ADD[level])?.execute(row)? > 0 {
            return Ok(0);
        }
        if self.held.len() >= Self::MAX_CELLS && !self.held.contains_key(&cell) {
            self.held.clear();
        }
        let held = match self.held.get_mut(&cell) {
            Some(held) => held,
            None => {
                let stored: i64 = tx
                    .prepare_cached(VALUES[level])?
                    .query_row(params![dimension, bucket], |found| found.get(0))?;
                self.held
                    .entry(cell)
                    .or_insert(u32::try_from(stored).unwrap_or(u32::MAX))
            }
        };
        if *held >= MAX_VALUES_PER_BUCKET {
            return Ok(count);
        }
        tx.prepare_cached(INSERT[level])?.execute(row)?;
        *held += 1;
        Ok(0)
    }
}

/// A count as an SQLite integer.
fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Every statement of this module.
#[cfg(test)]
pub(super) fn all_statements() -> Vec<&'static str> {
    [ADD, INSERT, VALUES].concat()
}
