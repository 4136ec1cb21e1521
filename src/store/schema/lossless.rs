//! Migration 7: what the live blocklist needs back after a restart, kept per key beside the
//! counters (transports, proof, attack types of numbers, reporting peers), indexes for the top
//! lists, and the rollups (`store::rollup`), each backfilled from what the database holds.

use std::net::{IpAddr, SocketAddr};

use rusqlite::{Transaction, params};
use rusqlite_migration::HookResult;

use crate::store::aggregate::parse_stored;
use crate::store::rollup::{self, EventTally, KeyCounts, KeyKind, RollupValues};

/// The new columns, indexes and tables, and the per-key facts backfilled from the events still
/// in `honey` (rows whose events are gone keep the defaults: no transports, not proven, no
/// authors). Transports and proof come from local events (TCP and TLS prove the source);
/// authors are the `peer:` origins, the first four by their oldest event, JSON-encoded.
pub(super) const LOSSLESS_AGGREGATES: &str = "
ALTER TABLE ip_addresses ADD COLUMN transports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ip_addresses ADD COLUMN proven INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ip_addresses ADD COLUMN peer_authors TEXT;
ALTER TABLE ip_addresses ADD COLUMN more_peer_authors INTEGER NOT NULL DEFAULT 0;
ALTER TABLE called_numbers ADD COLUMN attack_types INTEGER NOT NULL DEFAULT 0;
ALTER TABLE called_numbers ADD COLUMN transports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE called_numbers ADD COLUMN proven INTEGER NOT NULL DEFAULT 0;
ALTER TABLE called_numbers ADD COLUMN peer_authors TEXT;
ALTER TABLE called_numbers ADD COLUMN more_peer_authors INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ip_addresses_seen_count_index ON ip_addresses (seen_count DESC, source_ip);
CREATE INDEX called_numbers_seen_count_index ON called_numbers (seen_count DESC, called_number);
CREATE TABLE event_counts_minute (
    dimension INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    value TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (dimension, bucket, value)) WITHOUT ROWID;
CREATE TABLE event_counts_hour (
    dimension INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    value TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (dimension, bucket, value)) WITHOUT ROWID;
CREATE TABLE key_counts_minute (
    kind INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    attack_types INTEGER NOT NULL,
    keys INTEGER NOT NULL,
    PRIMARY KEY (kind, bucket, attack_types)) WITHOUT ROWID;
CREATE TABLE key_counts_hour (
    kind INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    attack_types INTEGER NOT NULL,
    keys INTEGER NOT NULL,
    PRIMARY KEY (kind, bucket, attack_types)) WITHOUT ROWID;
UPDATE ip_addresses SET transports = facts.transports, proven = facts.proven
FROM (SELECT source_ip,
             sum(DISTINCT CASE transport_type WHEN 'UDP' THEN 1 WHEN 'TCP' THEN 2
                                              WHEN 'TLS' THEN 4 ELSE 0 END) AS transports,
             coalesce(max(transport_type IN ('TCP', 'TLS')), 0) AS proven
      FROM honey WHERE origin = 'local' AND source_ip IS NOT NULL
      GROUP BY source_ip) AS facts
WHERE ip_addresses.source_ip = facts.source_ip;
UPDATE called_numbers SET attack_types = facts.attack_types, transports = facts.transports
FROM (SELECT called_number,
             sum(DISTINCT CASE attack_type WHEN 'scan' THEN 1 WHEN 'extension_enumeration' THEN 2
                     WHEN 'password_cracking' THEN 4 WHEN 'call_attempt' THEN 8
                     WHEN 'malformed' THEN 16 WHEN 'other' THEN 32 ELSE 0 END) AS attack_types,
             sum(DISTINCT CASE WHEN origin <> 'local' THEN 0 WHEN transport_type = 'UDP' THEN 1
                     WHEN transport_type = 'TCP' THEN 2 WHEN transport_type = 'TLS' THEN 4
                     ELSE 0 END) AS transports
      FROM honey WHERE called_number IS NOT NULL
      GROUP BY called_number) AS facts
WHERE called_numbers.called_number = facts.called_number;
CREATE TEMP TABLE migration_7_authors AS
SELECT key, kind, author, row_number() OVER (PARTITION BY kind, key ORDER BY first, author) AS rank
FROM (SELECT source_ip AS key, 0 AS kind, substr(origin, 6) AS author,
             min(coalesce(event_timestamp, '')) AS first
      FROM honey WHERE origin LIKE 'peer:_%' AND source_ip IS NOT NULL GROUP BY source_ip, origin
      UNION ALL
      SELECT called_number, 1, substr(origin, 6), min(coalesce(event_timestamp, ''))
      FROM honey WHERE origin LIKE 'peer:_%' AND called_number IS NOT NULL
      GROUP BY called_number, origin);
UPDATE ip_addresses SET peer_authors = authors.names, more_peer_authors = authors.more
FROM (SELECT key, json_group_array(author ORDER BY rank) FILTER (WHERE rank <= 4) AS names,
             max(rank) > 4 AS more
      FROM migration_7_authors WHERE kind = 0 GROUP BY key) AS authors
WHERE ip_addresses.source_ip = authors.key;
UPDATE called_numbers SET peer_authors = authors.names, more_peer_authors = authors.more
FROM (SELECT key, json_group_array(author ORDER BY rank) FILTER (WHERE rank <= 4) AS names,
             max(rank) > 4 AS more
      FROM migration_7_authors WHERE kind = 1 GROUP BY key) AS authors
WHERE called_numbers.called_number = authors.key;
DROP TABLE migration_7_authors;
";

/// Rows of `honey` read per step by [`backfill_rollups`].
const BACKFILL_CHUNK_ROWS: i64 = 50_000;

/// One chunk of events for the event rollups, after `honey_id` `?1`, at most `?2`.
const SELECT_EVENTS: &str = "
SELECT honey_id, event_timestamp, method, user_agent, transport_type, message_kind,
       attack_type, destination_ip, destination_port, coalesce(origin, 'local') = 'local'
FROM honey WHERE honey_id > ?1 ORDER BY honey_id LIMIT ?2";

/// Every key's place in the key rollups, per aggregate table.
const SELECT_KEYS: [(KeyKind, &str); 2] = [
    (
        KeyKind::Ip,
        "SELECT last_seen, attack_types FROM ip_addresses",
    ),
    (
        KeyKind::Number,
        "SELECT last_seen, attack_types FROM called_numbers",
    ),
];

/// Migration 7's hook: the rollups of what the database already holds, computed the way the
/// writer computes them. Events without a readable `event_timestamp` are not counted (the
/// writer never stores one).
pub(super) fn backfill_rollups(tx: &Transaction<'_>) -> HookResult {
    let mut keys = KeyCounts::default();
    for (kind, sql) in SELECT_KEYS {
        let mut select = tx.prepare(sql)?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let last_seen: Option<String> = row.get(0)?;
            let at = last_seen.as_deref().and_then(parse_stored);
            let attack_types = u8::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
            keys.moved(
                kind,
                None,
                (at.unwrap_or(jiff::Timestamp::MIN), attack_types),
            );
        }
    }
    keys.write(tx)?;
    backfill_event_counts(tx)?;
    Ok(())
}

/// The event rollups of every row of `honey`, a chunk at a time.
fn backfill_event_counts(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut select = tx.prepare(SELECT_EVENTS)?;
    let mut values = RollupValues::default();
    let mut after_id = i64::MIN;
    loop {
        let mut tally = EventTally::default();
        let mut read = 0;
        let mut rows = select.query(params![after_id, BACKFILL_CHUNK_ROWS])?;
        while let Some(row) = rows.next()? {
            read += 1;
            after_id = row.get(0)?;
            let text = |index: usize| -> rusqlite::Result<String> {
                Ok(row.get::<_, Option<String>>(index)?.unwrap_or_default())
            };
            let Some(at) = row
                .get::<_, Option<String>>(1)?
                .as_deref()
                .and_then(parse_stored)
            else {
                continue;
            };
            let destination = destination_text(&text(7)?, row.get(8)?);
            tally.add_values(
                rollup::minute_of(at),
                [
                    "",
                    &text(2)?,
                    &text(3)?,
                    &text(4)?,
                    &text(5)?,
                    &text(6)?,
                    &destination,
                ],
                row.get(9)?,
            );
        }
        tally.write(tx, &mut values)?;
        if read < BACKFILL_CHUNK_ROWS {
            return Ok(());
        }
    }
}

/// A stored destination as the writer counts it: `ip:port` (`[ip]:port` for IPv6); the IP
/// text alone without a port; `''` without an IP.
fn destination_text(ip: &str, port: Option<i64>) -> String {
    let port = port.and_then(|port| u16::try_from(port).ok());
    match (ip.parse::<IpAddr>(), port) {
        (Ok(ip), Some(port)) => SocketAddr::new(ip, port).to_string(),
        _ => ip.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_read_as_the_writer_writes_them() {
        assert_eq!(
            destination_text("192.0.2.10", Some(5060)),
            "192.0.2.10:5060"
        );
        assert_eq!(
            destination_text("2001:db8::10", Some(5061)),
            "[2001:db8::10]:5061"
        );
        assert_eq!(destination_text("192.0.2.10", None), "192.0.2.10");
        assert_eq!(destination_text("", None), "");
        assert_eq!(destination_text("x", Some(99_999)), "x");
    }
}
