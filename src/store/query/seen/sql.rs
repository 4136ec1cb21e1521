//! The statements of `seen`: one per table and per [`OriginFilter`], written by [`seen_sql!`]
//! from fixed column names (values are always bound), and which of them a query runs.

use super::super::OriginFilter;

/// The statements over one table through one origin filter.
#[derive(Debug)]
pub(super) struct SeenSql {
    /// Exact key lookup: `?1` = key.
    pub(super) point: &'static str,
    /// Count: `?1` = since (`''` for none), `?2` = minimum count, `?3` = attack-type bits the
    /// key must have seen (0 for any).
    pub(super) count: &'static str,
    /// Listing: `?1` to `?3` as for `count`, `?4` = limit (-1 for none).
    pub(super) each: &'static str,
    /// Listing after a cursor: as `each`, `?5` = cursor's seen_last, `?6` = cursor's key.
    pub(super) each_after: &'static str,
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

/// Every IP, unfiltered: the key rollups hold the count per hour of `last_seen` (a few hundred
/// rows, where `COUNT(*)` reads a whole index).
const COUNT_ALL_IPS: &str = "SELECT coalesce(sum(keys), 0) FROM key_counts_hour WHERE kind = 0";

/// Every called number, unfiltered.
const COUNT_ALL_NUMBERS: &str = "SELECT coalesce(sum(keys), 0) FROM key_counts_hour WHERE kind = 1";

/// IPs whose newest event falls in `[?1, ?2)`, newest first (down the `last_seen` index).
pub(super) const IPS_LAST_SEEN_BETWEEN: &str = "
SELECT id, source_ip, last_seen, seen_count, attack_types FROM ip_addresses
WHERE last_seen >= ?1 AND last_seen < ?2
ORDER BY last_seen DESC, source_ip ASC";

/// Source IPs with the most events first (any origin; ties by IP), at most `?1`: read from the
/// `(seen_count DESC, source_ip)` index alone (it covers both columns), with no table row and
/// no sort.
pub(super) const IPS_BY_EVENTS: &str = "
SELECT source_ip, seen_count FROM ip_addresses INDEXED BY ip_addresses_seen_count_index
WHERE seen_count > 0
ORDER BY seen_count DESC, source_ip ASC LIMIT ?1";

/// The statements of one table, for the API's two kinds of key.
#[derive(Debug, Clone, Copy)]
pub(super) enum Table {
    /// `ip_addresses`.
    Ips,
    /// `called_numbers`.
    Numbers,
}

impl Table {
    /// The statements through `origin` (`OpenDht` is not aggregated: its callers group the raw
    /// events instead; it reads the peer statements).
    pub(super) fn sql(self, origin: OriginFilter) -> &'static SeenSql {
        let table = match self {
            Self::Ips => &IP_SQL,
            Self::Numbers => &NUMBER_SQL,
        };
        &table[origin.index().min(table.len() - 1)]
    }

    /// The point lookup of the OpenDHT bridge's events.
    pub(super) fn opendht_point(self) -> &'static str {
        match self {
            Self::Ips => OPENDHT_IP_POINT,
            Self::Numbers => OPENDHT_NUMBER_POINT,
        }
    }

    /// The unfiltered count.
    pub(super) fn count_all(self) -> &'static str {
        match self {
            Self::Ips => COUNT_ALL_IPS,
            Self::Numbers => COUNT_ALL_NUMBERS,
        }
    }
}

/// Every statement of this module, for a test that prepares them all.
#[cfg(test)]
pub(in crate::store) fn all_statements() -> Vec<&'static str> {
    let mut all = vec![
        COUNT_ALL_IPS,
        COUNT_ALL_NUMBERS,
        IPS_LAST_SEEN_BETWEEN,
        IPS_BY_EVENTS,
    ];
    for sql in IP_SQL.iter().chain(&NUMBER_SQL) {
        all.extend([sql.point, sql.count, sql.each, sql.each_after]);
    }
    all
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
