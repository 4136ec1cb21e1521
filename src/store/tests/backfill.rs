//! Migration 3: the aggregate tables backfilled from existing events, from the original's
//! database and from version 2 (local and peer rows), and the backfill's phone-number test
//! agreeing with [`is_phone_number`].

use proptest::prelude::*;
use rusqlite::{Connection, params};

use super::aggregate::{aggregate, keys};
use super::migration::write_original_db;
use super::temp_db;
use crate::store::schema::migrations;
use crate::store::{self, LATEST_VERSION, is_phone_number, schema_version};

/// A `honey` row at version 2: (source_ip, called_number, origin, event_timestamp).
type HoneyRow<'a> = (Option<&'a str>, Option<&'a str>, &'a str, Option<&'a str>);

#[test]
fn original_database_migrates_with_its_aggregates() {
    let (_dir, path) = temp_db();
    write_original_db(&path);
    let conn = store::open(&path).expect("open original db");
    assert_eq!(schema_version(&conn).expect("version"), LATEST_VERSION);

    let at = |n: u8| format!("2022-02-22 11:19:1{n}.848934346");
    let local = |count: i64, first: u8, last: u8| {
        Some((count, at(first), at(last), count, Some(at(last)), 0, None))
    };
    assert_eq!(
        aggregate(&conn, "ip_addresses", "104.149.141.214"),
        local(1, 0, 0)
    );
    assert_eq!(aggregate(&conn, "ip_addresses", "1.2.3.4"), local(1, 1, 1));
    // `[2001:db8::1]:5060` and `2001:db8::1` are one address once migration 2 split the port.
    assert_eq!(
        aggregate(&conn, "ip_addresses", "2001:db8::1"),
        local(2, 2, 4)
    );
    assert_eq!(
        aggregate(&conn, "ip_addresses", "198.51.100.7"),
        local(1, 3, 3)
    );
    assert_eq!(
        aggregate(&conn, "ip_addresses", "192.0.2.7"),
        local(1, 5, 5)
    );
    assert_eq!(keys(&conn, "ip_addresses").len(), 5);

    assert_eq!(aggregate(&conn, "called_numbers", "100"), local(1, 0, 0));
    assert_eq!(
        aggregate(&conn, "called_numbers", "0046812118532"),
        local(1, 1, 1)
    );
    assert_eq!(
        keys(&conn, "called_numbers"),
        ["0046812118532", "100", "200", "300"],
        "NOT_FOUND and NULL are not phone numbers"
    );
}

/// A database at version 2 holding one row per `(source_ip, called_number, origin,
/// event_timestamp)`, then migrated to 3.
fn migrated_from_version_2(rows: &[HoneyRow<'_>]) -> Connection {
    let mut conn = Connection::open_in_memory().expect("in-memory db");
    migrations().to_version(&mut conn, 2).expect("to version 2");
    for (ip, number, origin, at) in rows {
        conn.execute(
            "INSERT INTO honey (source_ip, called_number, origin, event_timestamp)
             VALUES (?1, ?2, ?3, ?4)",
            params![ip, number, origin, at],
        )
        .expect("insert");
    }
    migrations().to_latest(&mut conn).expect("to version 3");
    conn
}

#[test]
fn phone_numbers_are_digits_with_an_optional_plus() {
    for yes in ["0", "100", "0046812118532", "+441234567890", "+0"] {
        assert!(is_phone_number(yes), "{yes}");
    }
    for no in [
        "",
        "+",
        "++1",
        "1+2",
        "NOT_FOUND",
        "asterisk",
        "100abc",
        " 100",
        "１２",
    ] {
        assert!(!is_phone_number(no), "{no}");
    }
}

#[test]
fn backfill_splits_local_and_peer_and_skips_missing_values() {
    let conn = migrated_from_version_2(&[
        (
            Some("192.0.2.1"),
            Some("+44"),
            "local",
            Some("2024-01-01 00:00:01.0"),
        ),
        (
            Some("192.0.2.1"),
            Some("+44"),
            "peer:12D3KooW",
            Some("2024-01-01 00:00:03.0"),
        ),
        (
            Some("192.0.2.1"),
            None,
            "peer:12D3KooW",
            Some("2024-01-01 00:00:02.0"),
        ),
        (None, Some("+44"), "local", Some("2024-01-01 00:00:04.0")),
    ]);
    let row = |sql: &str| -> (
        i64,
        String,
        String,
        i64,
        Option<String>,
        i64,
        Option<String>,
    ) {
        conn.query_row(sql, [], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        })
        .expect("one row")
    };
    let columns = "seen_count, first_seen, last_seen, local_count, local_last_seen, \
                   peer_count, peer_last_seen";
    let ip = row(&format!("SELECT {columns} FROM ip_addresses"));
    let at = |s: u8| format!("2024-01-01 00:00:0{s}.0");
    assert_eq!(ip, (3, at(1), at(3), 1, Some(at(1)), 2, Some(at(3))));
    let number = row(&format!("SELECT {columns} FROM called_numbers"));
    assert_eq!(number, (3, at(1), at(4), 2, Some(at(4)), 1, Some(at(3))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The migration's GLOBs pick exactly what the writer's `is_phone_number` picks.
    #[test]
    fn backfill_agrees_with_is_phone_number(
        numbers in proptest::collection::vec("[+0-9a ]{0,4}|\\PC{0,3}", 1..20),
    ) {
        let rows: Vec<_> = numbers
            .iter()
            .map(|n| (Some("192.0.2.1"), Some(n.as_str()), "local", Some("2024-01-01")))
            .collect();
        let conn = migrated_from_version_2(&rows);
        let mut stmt = conn
            .prepare("SELECT called_number FROM called_numbers ORDER BY called_number")
            .expect("prepare");
        let stored: Vec<String> = stmt
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let mut expected: Vec<String> =
            numbers.iter().filter(|n| is_phone_number(n)).cloned().collect();
        expected.sort();
        expected.dedup();
        prop_assert_eq!(stored, expected);
    }
}
