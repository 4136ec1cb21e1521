//! Aggregate rows per minute and hour of their `last_seen` and per set of attack types
//! (`key_counts_minute` / `key_counts_hour`): [`KeyCounts`] collects how the keys of one flush
//! moved between cells, then adds the differences in the flush's transaction.

use std::collections::HashMap;

use jiff::Timestamp;
use rusqlite::{Transaction, params};

use super::{PruneSql, hour_of, minute_of};

/// Which aggregate table a key is in. The discriminant is the stored `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum KeyKind {
    /// `ip_addresses`.
    Ip = 0,
    /// `called_numbers`.
    Number = 1,
}

impl KeyKind {
    /// The stored `kind`.
    pub(crate) fn id(self) -> i64 {
        self as i64
    }
}

/// Adds `?4` keys to the cell (`?1` kind, `?2` bucket, `?3` attack types).
macro_rules! add_sql {
    ($table:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (kind, bucket, attack_types, keys) VALUES (?1, ?2, ?3, ?4)",
            " ON CONFLICT (kind, bucket, attack_types) DO UPDATE SET keys = keys + excluded.keys"
        )
    };
}

/// [`add_sql!`] for the minute and the hour level.
const ADD: [&str; 2] = [add_sql!("key_counts_minute"), add_sql!("key_counts_hour")];

/// Retention's statements for the key rollups (see [`super::prune`]).
pub(super) const PRUNE: PruneSql = PruneSql {
    groups: &[0, 1],
    subtract_minutes_from_hour: "
UPDATE key_counts_hour AS hour SET keys = hour.keys - minutes.keys
FROM (SELECT attack_types, sum(keys) AS keys FROM key_counts_minute
      WHERE kind = ?1 AND bucket >= ?2 AND bucket < ?3 GROUP BY attack_types) AS minutes
WHERE hour.kind = ?1 AND hour.bucket = ?4 AND hour.attack_types = minutes.attack_types",
    delete_minutes: "DELETE FROM key_counts_minute WHERE kind = ?1 AND bucket < ?2",
    delete_hours: "DELETE FROM key_counts_hour WHERE kind = ?1 AND bucket < ?2",
    delete_empty: [
        "DELETE FROM key_counts_minute WHERE keys <= 0",
        "DELETE FROM key_counts_hour WHERE keys <= 0",
    ],
};

/// Where a key is counted: its `last_seen` minute and its attack types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Place {
    kind: KeyKind,
    minute: i64,
    attack_types: u8,
}

/// How one flush moved keys between cells.
#[derive(Debug, Default)]
pub(crate) struct KeyCounts {
    moves: HashMap<Place, i64>,
}

impl KeyCounts {
    /// A key of `kind` that was at (`before`: last seen, attack types), or is new, is now at
    /// `after`.
    pub(crate) fn moved(
        &mut self,
        kind: KeyKind,
        before: Option<(Timestamp, u8)>,
        after: (Timestamp, u8),
    ) {
        let place = |(last_seen, attack_types): (Timestamp, u8)| Place {
            kind,
            minute: minute_of(last_seen),
            attack_types,
        };
        let to = place(after);
        if let Some(from) = before.map(place) {
            if from == to {
                return;
            }
            *self.moves.entry(from).or_default() -= 1;
        }
        *self.moves.entry(to).or_default() += 1;
    }

    /// Adds the moves to both levels inside `tx`.
    pub(crate) fn write(&self, tx: &Transaction<'_>) -> Result<(), rusqlite::Error> {
        let mut hours: HashMap<Place, i64> = HashMap::new();
        let mut add = tx.prepare_cached(ADD[0])?;
        for (place, &keys) in self.moves.iter().filter(|(_, keys)| **keys != 0) {
            add.execute(params![
                place.kind.id(),
                place.minute,
                place.attack_types,
                keys
            ])?;
            let hour = Place {
                minute: hour_of(place.minute),
                ..*place
            };
            *hours.entry(hour).or_default() += keys;
        }
        let mut add = tx.prepare_cached(ADD[1])?;
        for (place, keys) in hours.into_iter().filter(|(_, keys)| *keys != 0) {
            add.execute(params![
                place.kind.id(),
                place.minute,
                place.attack_types,
                keys
            ])?;
        }
        Ok(())
    }
}

/// Every statement of this module.
#[cfg(test)]
pub(super) fn all_statements() -> Vec<&'static str> {
    ADD.to_vec()
}
