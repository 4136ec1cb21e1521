//! Migration 7 from every older schema version: rows kept, per-key facts (transports, proof,
//! reporting peers, attack types of numbers) backfilled from `honey`, and the rollups agreeing
//! with a full scan of what was there.

use rusqlite::{Connection, params};

use super::rollups::model;
use crate::store::schema::migrations;
use crate::store::{LATEST_VERSION, count_events, load_ips, load_numbers, query, schema_version};

/// Rows every version's `honey` can take (the original's columns): (timestamp, source IP,
/// called number, transport, method).
const ROWS: [(&str, &str, &str, &str, &str); 5] = [
    (
        "2024-06-01 12:00:01.000000000",
        "192.0.2.1",
        "100",
        "UDP",
        "INVITE",
    ),
    (
        "2024-06-01 12:00:02.000000000",
        "192.0.2.1",
        "100",
        "TCP",
        "REGISTER",
    ),
    (
        "2024-06-01 13:10:00.000000000",
        "192.0.2.2",
        "+44",
        "UDP",
        "OPTIONS",
    ),
    (
        "2024-06-01 13:10:05.000000000",
        "192.0.2.2",
        "NOT_FOUND",
        "UDP",
        "OPTIONS",
    ),
    (
        "2024-06-02 00:00:00.000000000",
        "192.0.2.3",
        "200",
        "TLS",
        "INVITE",
    ),
];

/// A database at `version` holding [`ROWS`] (and, from version 3 on, the aggregate rows the
/// writer of that version kept; from version 2 on, the last row came from a peer).
fn database_at(version: usize) -> Connection {
    let mut conn = Connection::open_in_memory().expect("in-memory db");
    migrations()
        .to_version(&mut conn, version)
        .expect("to version");
    for (n, (at, ip, number, transport, method)) in ROWS.iter().enumerate() {
        conn.execute(
            "INSERT INTO honey (event_timestamp, event_uuid, source_ip, called_number,
                                transport_type, method, user_agent, sip_message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'friendly-scanner', ?6 || ' sip:x SIP/2.0')",
            params![at, format!("uuid-{n}"), ip, number, transport, method],
        )
        .expect("insert");
    }
    if version >= 2 {
        conn.execute(
            "UPDATE honey SET origin = 'peer:12D3KooWPeer' WHERE source_ip = '192.0.2.3'",
            [],
        )
        .expect("peer row");
    }
    if version >= 5 {
        // What the writer of versions 5 and 6 stored (`sip::classify`).
        conn.execute(
            "UPDATE honey SET attack_type = CASE method WHEN 'INVITE' THEN 'call_attempt'
                 WHEN 'REGISTER' THEN 'extension_enumeration' ELSE 'scan' END",
            [],
        )
        .expect("attack types");
    }
    if version >= 3 {
        // What migration 3's backfill computes is what the writer of versions 3 to 6 kept.
        conn.execute_batch(
            "DELETE FROM ip_addresses; DELETE FROM called_numbers;
             INSERT INTO ip_addresses (source_ip, seen_count, first_seen, last_seen,
                 local_count, local_last_seen, peer_count, peer_last_seen)
             SELECT source_ip, COUNT(*), min(event_timestamp), max(event_timestamp),
                    sum(origin = 'local'), max(CASE WHEN origin = 'local' THEN event_timestamp END),
                    sum(origin <> 'local'), max(CASE WHEN origin <> 'local' THEN event_timestamp END)
             FROM honey GROUP BY source_ip;
             INSERT INTO called_numbers (called_number, seen_count, first_seen, last_seen,
                 local_count, local_last_seen, peer_count, peer_last_seen)
             SELECT called_number, COUNT(*), min(event_timestamp), max(event_timestamp),
                    sum(origin = 'local'), max(CASE WHEN origin = 'local' THEN event_timestamp END),
                    sum(origin <> 'local'), max(CASE WHEN origin <> 'local' THEN event_timestamp END)
             FROM honey WHERE called_number <> 'NOT_FOUND' GROUP BY called_number;",
        )
        .expect("aggregates");
    }
    conn
}

#[test]
fn every_older_version_migrates_with_its_data() {
    let latest = usize::try_from(LATEST_VERSION).expect("small");
    for version in 1..latest {
        let mut conn = database_at(version);
        migrations().to_latest(&mut conn).expect("to latest");
        assert_eq!(schema_version(&conn).expect("version"), LATEST_VERSION);
        assert_eq!(count_events(&conn).expect("count"), 5, "version {version}");

        let mut ips = load_ips(&conn, None)
            .collect::<Result<Vec<_>, _>>()
            .expect("load")
            .concat();
        ips.sort_by_key(|row| row.key);
        let facts: Vec<(String, u64, u8, bool)> = ips
            .iter()
            .map(|row| {
                (
                    row.key.to_string(),
                    row.seen_count,
                    row.transports,
                    row.proven,
                )
            })
            .collect();
        assert_eq!(
            facts,
            [
                ("192.0.2.1".to_owned(), 2, 1 | 2, true),
                ("192.0.2.2".to_owned(), 2, 1, false),
                // From version 2 on the TLS row is a peer's: no local transport, no proof.
                (
                    "192.0.2.3".to_owned(),
                    1,
                    if version >= 2 { 0 } else { 4 },
                    version < 2
                ),
            ],
            "version {version}"
        );
        let authors: Vec<&str> = ips[2].authors.iter().map(|name| &**name).collect();
        let expected_authors: &[&str] = if version >= 2 { &["12D3KooWPeer"] } else { &[] };
        assert_eq!(authors, expected_authors, "version {version}");

        let numbers = load_numbers(&conn, None)
            .collect::<Result<Vec<_>, _>>()
            .expect("load")
            .concat();
        let mut number_types: Vec<(&str, u8)> = numbers
            .iter()
            .map(|row| (&*row.key, row.attack_types))
            .collect();
        number_types.sort_unstable();
        // INVITE is a call attempt (8), REGISTER an extension enumeration (2), OPTIONS a scan (1).
        assert_eq!(
            number_types,
            [("+44", 1), ("100", 8 | 2), ("200", 8)],
            "version {version}"
        );
        assert_eq!(
            query::stats(&conn, None, 10).expect("stats"),
            model(&conn, "", 10),
            "version {version}"
        );
        let since = "2024-06-01 13:10:03.000000000";
        assert_eq!(
            query::stats(&conn, Some(since), 10).expect("stats"),
            model(&conn, "2024-06-01 13:10:00.000000000", 10),
            "version {version}"
        );
    }
}
