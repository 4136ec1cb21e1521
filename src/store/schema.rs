//! The `honey` table, the aggregate tables `ip_addresses` and `called_numbers`, and their
//! numbered migrations, tracked in `PRAGMA user_version`.
//!
//! Version 0 is what the original SentryPeer leaves behind (it never sets `user_version`): either
//! nothing, or its `honey` table with three indexes. Every migration is written so it applies to
//! both, and no migration ever drops a row.
//!
//! | Version | What it adds |
//! |---|---|
//! | 1 | the original `honey` table and its three indexes, verbatim |
//! | 2 | ports, destination, origin, Request-URI user, message kind; `event_timestamp` index |
//! | 3 | `ip_addresses` and `called_numbers` (one row per key, kept by the writer), backfilled |
//! | 4 | `p2p_record`: the signed record a peer's event came in |
//! | 5 | attack type, credentials and caller identity per event; attack types seen per source IP |
//! | 6 | drops the original's `source_ip_index` and `called_number_index` (unread; see below) |
//! | 7 | per key: transports, proof, reporting peers (and attack types of numbers); top-list indexes; the rollups (`store::rollup`), all backfilled |

mod lossless;

use std::net::SocketAddr;
use std::path::Path;

use rusqlite::{Connection, Transaction, params};
use rusqlite_migration::{HookResult, M, Migrations};
use tracing::info;

use super::{StoreError, connection_path, error::is_not_a_database};
use crate::event::canonical_ip;

/// Migration 1: the original schema, verbatim (`src/database.c`). `IF NOT EXISTS` everywhere so a
/// database written by the original keeps its table and rows.
const ORIGINAL_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS honey (
    honey_id INTEGER PRIMARY KEY,
    event_timestamp TEXT,
    event_uuid TEXT,
    collected_method TEXT,
    source_ip TEXT,
    called_number TEXT,
    transport_type TEXT,
    method TEXT,
    user_agent TEXT,
    sip_message TEXT,
    created_by_node_id TEXT,
    created_at DATETIME DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')));
CREATE INDEX IF NOT EXISTS source_ip_index ON honey (source_ip);
CREATE INDEX IF NOT EXISTS called_number_index ON honey (called_number);
CREATE INDEX IF NOT EXISTS event_uuid_index ON honey (event_uuid);
";

/// Migration 2: what this program records beyond the original, and an index for time filters
/// and retention. Rows from before keep NULL in the new columns (`origin` becomes `local`); the
/// hook [`split_source_ports`] then moves ports out of `source_ip`.
const CAPTURE_DETAILS: &str = "
ALTER TABLE honey ADD COLUMN source_port INTEGER;
ALTER TABLE honey ADD COLUMN destination_ip TEXT;
ALTER TABLE honey ADD COLUMN destination_port INTEGER;
ALTER TABLE honey ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
ALTER TABLE honey ADD COLUMN request_uri_user TEXT;
ALTER TABLE honey ADD COLUMN message_kind TEXT;
CREATE INDEX IF NOT EXISTS event_timestamp_index ON honey (event_timestamp);
";

/// Migration 3: one row per source IP and per called phone number, with counters the writer
/// keeps up to date in the same transaction as each batch (see `store::aggregate`). Both are
/// rowid tables on purpose: `id` is a stable integer for as long as the row lives (the CrowdSec
/// decision id). The index on `(last_seen DESC, key)` serves newest-first listings without a
/// sort, time filters, and retention.
///
/// The backfill takes every existing `honey` row: `origin = 'local'` counts as local, anything
/// else as a peer's; a row without `event_timestamp` counts at its `created_at`. Rows without a
/// `source_ip` are not counted in `ip_addresses`; only phone numbers (see [`is_phone_number`],
/// which the `GLOB`s below mirror) go to `called_numbers`.
const AGGREGATES: &str = "
CREATE TABLE ip_addresses (
    id INTEGER PRIMARY KEY,
    source_ip TEXT NOT NULL UNIQUE,
    seen_count INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    local_count INTEGER NOT NULL,
    local_last_seen TEXT,
    peer_count INTEGER NOT NULL,
    peer_last_seen TEXT);
CREATE INDEX ip_addresses_last_seen_index ON ip_addresses (last_seen DESC, source_ip);
CREATE TABLE called_numbers (
    id INTEGER PRIMARY KEY,
    called_number TEXT NOT NULL UNIQUE,
    seen_count INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    local_count INTEGER NOT NULL,
    local_last_seen TEXT,
    peer_count INTEGER NOT NULL,
    peer_last_seen TEXT);
CREATE INDEX called_numbers_last_seen_index ON called_numbers (last_seen DESC, called_number);
INSERT INTO ip_addresses (
    source_ip, seen_count, first_seen, last_seen,
    local_count, local_last_seen, peer_count, peer_last_seen)
SELECT source_ip, COUNT(*), min(seen), max(seen),
       sum(origin = 'local'), max(CASE WHEN origin = 'local' THEN seen END),
       sum(origin <> 'local'), max(CASE WHEN origin <> 'local' THEN seen END)
FROM (SELECT source_ip, origin, coalesce(event_timestamp, created_at, '') AS seen
      FROM honey WHERE source_ip IS NOT NULL)
GROUP BY source_ip
ORDER BY max(seen), source_ip;
INSERT INTO called_numbers (
    called_number, seen_count, first_seen, last_seen,
    local_count, local_last_seen, peer_count, peer_last_seen)
SELECT called_number, COUNT(*), min(seen), max(seen),
       sum(origin = 'local'), max(CASE WHEN origin = 'local' THEN seen END),
       sum(origin <> 'local'), max(CASE WHEN origin <> 'local' THEN seen END)
FROM (SELECT called_number, origin, coalesce(event_timestamp, created_at, '') AS seen
      FROM honey
      WHERE (called_number GLOB '[0-9]*' OR called_number GLOB '+[0-9]*')
        AND substr(called_number, 2) NOT GLOB '*[^0-9]*')
GROUP BY called_number
ORDER BY max(seen), called_number;
";

/// Rows whose `source_ip` may carry a port: `[v6]:port`, or a single colon (`v4:port`). Plain
/// IPv6 addresses have two or more colons and no bracket, so they are never selected.
const SELECT_PORTED_SOURCES: &str = "
SELECT honey_id, source_ip FROM honey
WHERE honey_id > ?1
  AND source_ip LIKE '%:%'
  AND (source_ip LIKE '[%' OR source_ip NOT LIKE '%:%:%')
ORDER BY honey_id
LIMIT ?2";

/// Rewrites one row's source as a bare IP and a port.
const UPDATE_SOURCE: &str = "UPDATE honey SET source_ip = ?1, source_port = ?2 WHERE honey_id = ?3";

/// Rows read per step by [`split_source_ports`], so a large database never sits in memory.
const SPLIT_CHUNK_ROWS: i64 = 10_000;

/// Migration 4: the signed record a peer's event came in, exactly as received, so this node can
/// pass it on in catch-up (the signature covers those bytes); NULL for local events, which this
/// node signs when it shares them. Peer events are deduplicated by `event_uuid` (indexed since
/// the original schema).
const SHARED_RECORDS: &str = "
ALTER TABLE honey ADD COLUMN p2p_record TEXT;
";

/// Migration 5: what each event was after (`sip::classify`), the credentials and caller
/// identity it carried, and per source IP the set of attack types seen (`attack_types`, a
/// bitmask of `AttackType::bit`: scan 1, extension_enumeration 2, password_cracking 4,
/// call_attempt 8, malformed 16, other 32), kept by the writer like the other counters.
///
/// Existing rows get an `attack_type` computed from what was stored: `message_kind`, `method`
/// and, for credentials, an `Authorization:` / `Proxy-Authorization:` line in `sip_message`
/// (the exploit-pattern rule is not applied to them); their credential and identity columns stay
/// NULL. `ip_addresses.attack_types` is then backfilled from the events still in `honey` (a sum
/// of distinct bits is their OR).
const ATTACK_TYPES: &str = "
ALTER TABLE honey ADD COLUMN attack_type TEXT;
ALTER TABLE honey ADD COLUMN auth_scheme TEXT;
ALTER TABLE honey ADD COLUMN auth_username TEXT;
ALTER TABLE honey ADD COLUMN auth_realm TEXT;
ALTER TABLE honey ADD COLUMN auth_nonce TEXT;
ALTER TABLE honey ADD COLUMN auth_uri TEXT;
ALTER TABLE honey ADD COLUMN auth_response TEXT;
ALTER TABLE honey ADD COLUMN auth_algorithm TEXT;
ALTER TABLE honey ADD COLUMN auth_qop TEXT;
ALTER TABLE honey ADD COLUMN auth_cnonce TEXT;
ALTER TABLE honey ADD COLUMN auth_nc TEXT;
ALTER TABLE honey ADD COLUMN from_user TEXT;
ALTER TABLE honey ADD COLUMN contact TEXT;
ALTER TABLE honey ADD COLUMN p_asserted_identity TEXT;
UPDATE honey SET attack_type = CASE
    WHEN message_kind IN ('empty', 'malformed') THEN 'malformed'
    WHEN message_kind = 'response' THEN 'other'
    WHEN method IS NULL OR method IN ('', 'NOT_FOUND') THEN 'malformed'
    WHEN upper(method) = 'INVITE' THEN 'call_attempt'
    WHEN sip_message LIKE '%' || char(10) || 'authorization:%'
      OR sip_message LIKE '%' || char(10) || 'proxy-authorization:%' THEN 'password_cracking'
    WHEN upper(method) IN ('REGISTER', 'SUBSCRIBE') THEN 'extension_enumeration'
    WHEN upper(method) IN ('ACK', 'BYE', 'CANCEL', 'PRACK', 'UPDATE', 'INFO', 'NOTIFY')
      THEN 'other'
    ELSE 'scan'
END;
ALTER TABLE ip_addresses ADD COLUMN attack_types INTEGER NOT NULL DEFAULT 0;
UPDATE ip_addresses SET attack_types = coalesce((
    SELECT sum(DISTINCT CASE attack_type
        WHEN 'scan' THEN 1
        WHEN 'extension_enumeration' THEN 2
        WHEN 'password_cracking' THEN 4
        WHEN 'call_attempt' THEN 8
        WHEN 'malformed' THEN 16
        WHEN 'other' THEN 32
        ELSE 0 END)
    FROM honey WHERE honey.source_ip = ip_addresses.source_ip), 0);
";

/// Migration 6: drops the original's indexes on `honey.source_ip` and `honey.called_number`. Nothing reads
/// them any more (lookups and lists by IP and number are served by `ip_addresses` and
/// `called_numbers`), and their keys arrive in random order, so each one cost a random B-tree
/// insert per event: together about 40% of the writer's CPU per event (insert rate per CPU
/// second 78k with them, 105k without, batches of 8,000, 250,000 numbers; see
/// `store::tests::bench`). The table and its columns, the contract, are unchanged; the original
/// program recreates both (`CREATE INDEX IF NOT EXISTS`) should it open the file again.
const DROP_UNREAD_INDEXES: &str = "
DROP INDEX IF EXISTS source_ip_index;
DROP INDEX IF EXISTS called_number_index;
";

/// The schema version [`migrate`] brings a database to.
pub const LATEST_VERSION: u32 = 7;

/// The migrations, in order: index 0 takes version 0 to 1, and so on.
pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(ORIGINAL_SCHEMA).comment("the original honey table and its three indexes"),
        M::up_with_hook(CAPTURE_DETAILS, split_source_ports)
            .comment("ports, destination, origin, Request-URI user, message kind"),
        M::up(AGGREGATES).comment("ip_addresses and called_numbers, backfilled from honey"),
        M::up(SHARED_RECORDS).comment("signed records received from peers, kept for catch-up"),
        M::up(ATTACK_TYPES).comment("attack type, credentials, caller identity; types per IP"),
        M::up(DROP_UNREAD_INDEXES)
            .comment("no random-key indexes on honey: aggregates serve lookups"),
        M::up_with_hook(lossless::LOSSLESS_AGGREGATES, lossless::backfill_rollups)
            .comment("what the live blocklist reloads; rollups for constant-time stats"),
    ])
}

/// Brings the database on `conn` to [`LATEST_VERSION`], all pending migrations in one
/// transaction. Does nothing when it is already there.
///
/// # Errors
///
/// [`StoreError::SchemaTooNew`] when the database is ahead of this program,
/// [`StoreError::NotADatabase`] or [`StoreError::Migrate`] otherwise.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let path = connection_path(conn);
    let found = schema_version(conn).map_err(|error| match error {
        StoreError::Sqlite(source) if is_not_a_database(&source) => {
            StoreError::NotADatabase { path: path.clone() }
        }
        other => other,
    })?;
    if found > LATEST_VERSION {
        return Err(StoreError::SchemaTooNew {
            path,
            found,
            expected: LATEST_VERSION,
        });
    }
    if found == LATEST_VERSION {
        return Ok(());
    }
    migrations()
        .to_latest(conn)
        .map_err(|cause| StoreError::Migrate {
            path: path.clone(),
            cause,
        })?;
    info!(path = %path.display(), from = found, to = LATEST_VERSION, "database schema migrated");
    Ok(())
}

/// The database's schema version (`PRAGMA user_version`; 0 for the original's databases).
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the pragma cannot be read.
pub fn schema_version(conn: &Connection) -> Result<u32, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // A negative user_version was set by some other program; treat it as "newer than us".
    Ok(u32::try_from(version).unwrap_or(u32::MAX))
}

/// Checks that a schema version `found` in the file at `path` is exactly [`LATEST_VERSION`].
///
/// # Errors
///
/// [`StoreError::SchemaTooOld`] or [`StoreError::SchemaTooNew`].
pub fn check_version(path: &Path, found: u32) -> Result<(), StoreError> {
    let path = path.to_path_buf();
    let expected = LATEST_VERSION;
    match found.cmp(&expected) {
        std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld {
            path,
            found,
            expected,
        }),
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew {
            path,
            found,
            expected,
        }),
    }
}

/// Whether a called number is a phone number, and so is counted in `called_numbers`: one or more
/// ASCII digits with an optional leading `+` (`^\+?[0-9]+$`). Leading zeros are kept
/// (`0046812118532` is an international number dialled with its prefix, which the original
/// wrongly left out of `/numbers`); `NOT_FOUND`, `asterisk`, `100abc` and `` are not numbers.
///
/// ```
/// use sentrypeer::store::is_phone_number;
/// assert!(is_phone_number("0046812118532") && is_phone_number("+441234567890"));
/// assert!(!is_phone_number("NOT_FOUND") && !is_phone_number("+") && !is_phone_number("1 2"));
/// ```
pub fn is_phone_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// Migration 2's hook: the original's Rust build stored `source_ip` as `1.2.3.4:5060` or
/// `[2001:db8::1]:5060`. Such rows get a bare IP (IPv4-mapped IPv6 as IPv4, as new events are)
/// and `source_port`; anything that is not a socket address is left as it was.
fn split_source_ports(tx: &Transaction<'_>) -> HookResult {
    let mut select = tx.prepare(SELECT_PORTED_SOURCES)?;
    let mut update = tx.prepare(UPDATE_SOURCE)?;
    let mut after_id = i64::MIN;
    loop {
        let rows = select
            .query_map(params![after_id, SPLIT_CHUNK_ROWS], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(&(last_id, _)) = rows.last() else {
            return Ok(());
        };
        for (honey_id, source) in &rows {
            if let Some((ip, port)) = split_socket_addr(source) {
                update.execute(params![ip, port, honey_id])?;
            }
        }
        after_id = last_id;
    }
}

/// `1.2.3.4:5060` → (`1.2.3.4`, 5060), `[2001:db8::1]:5060` → (`2001:db8::1`, 5060); `None` for
/// a bare IP or anything else.
pub(crate) fn split_socket_addr(text: &str) -> Option<(String, u16)> {
    let addr: SocketAddr = text.parse().ok()?;
    Some((canonical_ip(addr.ip()).to_string(), addr.port()))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn latest_version_is_the_number_of_migrations() {
        let count = [
            ORIGINAL_SCHEMA,
            CAPTURE_DETAILS,
            AGGREGATES,
            SHARED_RECORDS,
            ATTACK_TYPES,
            DROP_UNREAD_INDEXES,
            lossless::LOSSLESS_AGGREGATES,
        ]
        .len();
        assert_eq!(usize::try_from(LATEST_VERSION).ok(), Some(count));
        migrations()
            .validate()
            .expect("migrations apply to an empty database");
    }

    #[test]
    fn socket_addresses_split_and_bare_ips_do_not() {
        assert_eq!(
            split_socket_addr("1.2.3.4:5060"),
            Some(("1.2.3.4".into(), 5060))
        );
        assert_eq!(
            split_socket_addr("[2001:db8::1]:5060"),
            Some(("2001:db8::1".into(), 5060))
        );
        assert_eq!(
            split_socket_addr("[::ffff:192.0.2.7]:5061"),
            Some(("192.0.2.7".into(), 5061))
        );
        for bare in [
            "2001:db8::1",
            "104.149.141.214",
            "::1",
            "",
            "1.2.3.4:99999",
            "x:1",
        ] {
            assert_eq!(split_socket_addr(bare), None, "{bare}");
        }
    }

    proptest! {
        #[test]
        fn any_socket_address_round_trips(addr in any::<SocketAddr>()) {
            let (ip, port) = split_socket_addr(&addr.to_string()).expect("a socket address");
            prop_assert_eq!(ip, canonical_ip(addr.ip()).to_string());
            prop_assert_eq!(port, addr.port());
        }

        #[test]
        fn no_bare_ip_is_split(ip in any::<IpAddr>()) {
            prop_assert_eq!(split_socket_addr(&ip.to_string()), None);
        }
    }
}
