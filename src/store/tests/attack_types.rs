//! Attack types in the store: the writer's new `honey` columns and `ip_addresses.attack_types`,
//! migration 5's backfill (checked against `sip::classify`), and the read side's filters,
//! counts and catch-up rebuild.

use std::ops::ControlFlow;

use proptest::prelude::*;
use rusqlite::{Connection, params};

use super::{insert, memory_db};
use crate::event::test_support::EventBuilder;
use crate::event::{Attack, BadActor, Origin, PeerOrigin, format_timestamp};
use crate::sip::{AttackType, parse};
use crate::store::query::{
    self, EventFilter, EventMatch, ListFilter, OriginFilter, SeenRecord, Shareable,
};
use crate::store::schema::migrations;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/sip/", $name))
    };
}

/// The event a local listener makes of `message` from `ip`, at second `second`.
fn captured(ip: &str, message: &[u8], second: u8) -> BadActor {
    EventBuilder::new()
        .source_ip(ip)
        .at(&format!("2024-01-01T00:00:{second:02}Z"))
        .capture(message)
}

fn attack_types_of(conn: &Connection, ip: &str) -> Option<u8> {
    conn.query_row(
        "SELECT attack_types FROM ip_addresses WHERE source_ip = ?1",
        [ip],
        |row| row.get(0),
    )
    .ok()
}

const SVMAP: &[u8] = fixture!("svmap_options.sip");
const SVWAR: &[u8] = fixture!("svwar_register.sip");
const SVCRACK: &[u8] = fixture!("svcrack_register_digest.sip");
const INVITE: &[u8] = fixture!("invite_international_number.sip");
const GARBAGE: &[u8] = fixture!("garbage.sip");

#[test]
fn the_writer_stores_attack_type_credentials_and_caller_identity() {
    let mut conn = memory_db();
    insert(&mut conn, &[captured("192.0.2.1", SVCRACK, 1)]);
    let row: Vec<Option<String>> = conn
        .query_row(
            "SELECT attack_type, auth_scheme, auth_username, auth_realm, auth_nonce, auth_uri,
                    auth_response, auth_algorithm, auth_qop, auth_cnonce, auth_nc, from_user,
                    contact, p_asserted_identity FROM honey",
            [],
            |row| (0..14).map(|i| row.get(i)).collect(),
        )
        .expect("row");
    let expected = [
        Some("password_cracking"),
        Some("Digest"),
        Some("100"),
        Some("asterisk"),
        Some("00000001"),
        Some("sip:127.0.0.1"),
        Some("321dcfbd02c4763dba804cf7dbfef882"),
        Some("MD5"),
        Some("auth"),
        None,
        None,
        Some("100"),
        Some("sip:123@1.1.1.1"),
        None,
    ];
    assert_eq!(row, expected.map(|value| value.map(str::to_owned)));

    insert(&mut conn, &[captured("192.0.2.2", GARBAGE, 2)]);
    let (attack_type, username, from_user): (String, Option<String>, Option<String>) = conn
        .query_row(
            "SELECT attack_type, auth_username, from_user FROM honey WHERE source_ip = '192.0.2.2'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("row");
    assert_eq!(
        (attack_type.as_str(), username, from_user),
        ("malformed", None, None)
    );
}

#[test]
fn ip_attack_types_accumulate_across_batches_and_origins() {
    let mut conn = memory_db();
    insert(
        &mut conn,
        &[
            captured("192.0.2.1", SVMAP, 1),
            captured("192.0.2.1", SVMAP, 2),
            captured("192.0.2.2", GARBAGE, 2),
        ],
    );
    assert_eq!(attack_types_of(&conn, "192.0.2.1"), Some(1));
    let mut from_peer = captured("192.0.2.1", SVCRACK, 3);
    from_peer.origin = Origin::Peer(PeerOrigin::from("12D3KooWPeer"));
    insert(&mut conn, &[captured("192.0.2.1", INVITE, 4), from_peer]);
    let scan_crack_call =
        AttackType::Scan.bit() | AttackType::PasswordCracking.bit() | AttackType::CallAttempt.bit();
    assert_eq!(attack_types_of(&conn, "192.0.2.1"), Some(scan_crack_call));
    assert_eq!(attack_types_of(&conn, "192.0.2.2"), Some(16));
}

/// One stored row before migration 5: (message_kind, method, sip_message, source_ip).
type OldRow<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);

/// A database at version 4 holding `rows` (aggregates backfilled by migration 3), then taken
/// to the latest version.
fn migrated_from_version_4(rows: &[OldRow<'_>]) -> Connection {
    let mut conn = Connection::open_in_memory().expect("in-memory db");
    migrations().to_version(&mut conn, 2).expect("to version 2");
    for (n, (kind, method, message, ip)) in rows.iter().enumerate() {
        conn.execute(
            "INSERT INTO honey (event_timestamp, message_kind, method, sip_message, source_ip)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                format!("2024-01-01 00:00:{n:02}.000000000"),
                kind,
                method,
                message,
                ip
            ],
        )
        .expect("insert");
    }
    migrations()
        .to_latest(&mut conn)
        .expect("to the latest version");
    conn
}

#[test]
fn migration_5_classifies_stored_rows_and_backfills_ip_attack_types() {
    let rows: [OldRow<'_>; 12] = [
        (
            Some("request"),
            Some("OPTIONS"),
            Some("OPTIONS sip:1@x SIP/2.0\r\n\r\n"),
            "192.0.2.1",
        ),
        (
            Some("request"),
            Some("INVITE"),
            Some("INVITE sip:1@x SIP/2.0\r\n\r\n"),
            "192.0.2.1",
        ),
        (
            Some("request"),
            Some("REGISTER"),
            Some("REGISTER sip:x SIP/2.0\r\nAuthorization: Digest username=\"1\"\r\n\r\n"),
            "192.0.2.2",
        ),
        (
            Some("request"),
            Some("REGISTER"),
            Some("REGISTER sip:x SIP/2.0\r\n\r\n"),
            "192.0.2.2",
        ),
        (
            Some("request"),
            Some("MESSAGE"),
            Some("MESSAGE sip:x SIP/2.0\nproxy-authorization: Basic eDp5\n\n"),
            "192.0.2.3",
        ),
        (
            Some("request"),
            Some("BYE"),
            Some("BYE sip:x SIP/2.0\r\n\r\n"),
            "192.0.2.3",
        ),
        (
            Some("response"),
            Some("NOT_FOUND"),
            Some("SIP/2.0 200 OK\r\n\r\n"),
            "192.0.2.4",
        ),
        (Some("empty"), None, None, "192.0.2.4"),
        (
            Some("malformed"),
            Some("NOT_FOUND"),
            Some("hello"),
            "192.0.2.5",
        ),
        // Rows the original wrote (no message_kind).
        (
            None,
            Some("SUBSCRIBE"),
            Some("SUBSCRIBE sip:x SIP/2.0\r\n\r\n"),
            "192.0.2.6",
        ),
        (None, None, None, "192.0.2.6"),
        (
            None,
            Some("INVITE"),
            Some("INVITE sip:x SIP/2.0\r\nProxy-Authorization: Digest username=\"2\"\r\n\r\n"),
            "192.0.2.7",
        ),
    ];
    let conn = migrated_from_version_4(&rows);
    let stored: Vec<String> = conn
        .prepare("SELECT attack_type FROM honey ORDER BY honey_id")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        stored,
        [
            "scan",
            "call_attempt",
            "password_cracking",
            "extension_enumeration",
            "password_cracking",
            "other",
            "other",
            "malformed",
            "malformed",
            "extension_enumeration",
            "malformed",
            "call_attempt"
        ]
    );
    let bits = |types: &[AttackType]| types.iter().fold(0, |bits, t| bits | t.bit());
    let expected_bits = [
        (
            "192.0.2.1",
            bits(&[AttackType::Scan, AttackType::CallAttempt]),
        ),
        (
            "192.0.2.2",
            bits(&[
                AttackType::PasswordCracking,
                AttackType::ExtensionEnumeration,
            ]),
        ),
        (
            "192.0.2.3",
            bits(&[AttackType::PasswordCracking, AttackType::Other]),
        ),
        (
            "192.0.2.4",
            bits(&[AttackType::Other, AttackType::Malformed]),
        ),
        ("192.0.2.5", bits(&[AttackType::Malformed])),
        (
            "192.0.2.6",
            bits(&[AttackType::ExtensionEnumeration, AttackType::Malformed]),
        ),
        ("192.0.2.7", bits(&[AttackType::CallAttempt])),
    ];
    for (ip, expected) in expected_bits {
        assert_eq!(attack_types_of(&conn, ip), Some(expected), "{ip}");
    }
    let credentials: Option<String> = conn
        .query_row("SELECT max(auth_username) FROM honey", [], |row| row.get(0))
        .expect("query");
    assert_eq!(credentials, None, "old rows keep NULL credentials");
}

/// SIP-shaped messages without exploit signs: the SQL backfill and `sip::classify` agree.
fn message() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("INVITE"),
            Just("REGISTER"),
            Just("register"),
            Just("SUBSCRIBE"),
            Just("OPTIONS"),
            Just("MESSAGE"),
            Just("ACK"),
            Just("BYE"),
            Just("CANCEL"),
            Just("NOTIFY"),
            Just("FOO"),
        ],
        prop_oneof![
            Just(""),
            Just("Authorization: Digest username=\"100\", response=\"ab\"\r\n"),
            Just("Proxy-Authorization: Digest username=\"100\"\r\n"),
            Just("authorization: Basic eDp5\r\n"),
        ],
        any::<bool>(),
    )
        .prop_map(|(method, credentials, response)| {
            if response {
                format!("SIP/2.0 401 Unauthorized\r\n{credentials}\r\n")
            } else {
                format!("{method} sip:100@192.0.2.1 SIP/2.0\r\nVia: x\r\n{credentials}\r\n")
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn migration_5_agrees_with_the_classifier(messages in proptest::collection::vec(message(), 1..8)) {
        let rows: Vec<OldRow<'_>> = messages
            .iter()
            .map(|message| {
                let probe = parse(message.as_bytes());
                (Some(probe.kind.as_str()), probe.method.or(Some("NOT_FOUND")), Some(message.as_str()), "192.0.2.1")
            })
            .collect();
        let conn = migrated_from_version_4(&rows);
        let stored: Vec<String> = conn
            .prepare("SELECT attack_type FROM honey ORDER BY honey_id")
            .expect("prepare")
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let classified: Vec<&str> = messages
            .iter()
            .map(|message| Attack::from_message(message.as_bytes()).attack_type.as_str())
            .collect();
        prop_assert_eq!(stored, classified);
    }
}

/// Events of every kind from four IPs.
fn fixture_db() -> Connection {
    let mut conn = memory_db();
    let mut peer_crack = captured("192.0.2.3", SVCRACK, 5);
    peer_crack.origin = Origin::Peer(PeerOrigin::from("12D3KooWPeer"));
    insert(
        &mut conn,
        &[
            captured("192.0.2.1", SVMAP, 1),
            captured("192.0.2.1", SVWAR, 2),
            captured("192.0.2.2", SVCRACK, 3),
            captured("192.0.2.2", SVCRACK, 4),
            peer_crack,
            captured("192.0.2.4", INVITE, 6),
        ],
    );
    conn
}

fn ips(conn: &Connection, filter: &ListFilter) -> Vec<(String, u64, u8)> {
    let mut found = Vec::new();
    query::each_ip(conn, filter, None, None, |record: SeenRecord| {
        found.push((record.key, record.seen_count, record.attack_types));
        ControlFlow::Continue(())
    })
    .expect("listing");
    found
}

#[test]
fn recent_events_filter_by_attack_type_and_carry_the_credentials() {
    let conn = fixture_db();
    let filter = |attack_type: &str| EventFilter {
        attack_type: Some(attack_type.to_owned()),
        limit: 10,
        ..EventFilter::default()
    };
    let cracking = query::recent_events(&conn, &filter("password_cracking")).expect("events");
    assert_eq!(cracking.len(), 3);
    assert!(cracking.iter().all(|row| {
        row.attack_type.as_deref() == Some("password_cracking")
            && row.auth_username.as_deref() == Some("100")
            && row.auth_realm.as_deref() == Some("asterisk")
            && row.auth_response.is_some()
    }));
    let local_cracking = EventFilter {
        origin: OriginFilter::Local,
        ..filter("password_cracking")
    };
    assert_eq!(
        query::recent_events(&conn, &local_cracking)
            .expect("events")
            .len(),
        2
    );
    let calls = query::recent_events(&conn, &filter("call_attempt")).expect("events");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].from_user.as_deref(), Some("100"));
    assert_eq!(
        calls[0].contact.as_deref(),
        Some("<sip:100@192.0.2.55:5060>")
    );
    assert_eq!(calls[0].auth_username, None);
    assert_eq!(
        query::recent_events(&conn, &filter("other")).expect("events"),
        []
    );
}

#[test]
fn ip_listings_and_counts_filter_by_the_attack_types_seen() {
    let conn = fixture_db();
    let by_type = |attack_type| ListFilter {
        attack_type,
        ..ListFilter::default()
    };
    assert_eq!(
        ips(&conn, &by_type(None)),
        [
            ("192.0.2.4".to_owned(), 1, AttackType::CallAttempt.bit()),
            (
                "192.0.2.3".to_owned(),
                1,
                AttackType::PasswordCracking.bit()
            ),
            (
                "192.0.2.2".to_owned(),
                2,
                AttackType::PasswordCracking.bit()
            ),
            (
                "192.0.2.1".to_owned(),
                2,
                AttackType::Scan.bit() | AttackType::ExtensionEnumeration.bit()
            ),
        ]
    );
    let cracking = by_type(Some(AttackType::PasswordCracking));
    let keys: Vec<String> = ips(&conn, &cracking).into_iter().map(|ip| ip.0).collect();
    assert_eq!(keys, ["192.0.2.3", "192.0.2.2"]);
    assert_eq!(query::count_ips(&conn, &cracking).expect("count"), 2);
    let local_cracking = ListFilter {
        origin: OriginFilter::Local,
        ..cracking.clone()
    };
    assert_eq!(query::count_ips(&conn, &local_cracking).expect("count"), 1);
    let enumeration = by_type(Some(AttackType::ExtensionEnumeration));
    assert_eq!(ips(&conn, &enumeration)[0].0, "192.0.2.1");
    assert_eq!(
        query::count_ips(&conn, &by_type(Some(AttackType::Other))).expect("count"),
        0
    );
    let point = query::ip_seen(&conn, "192.0.2.1", OriginFilter::Any)
        .expect("lookup")
        .expect("found");
    assert_eq!(point.attack_types, 3);
    let mut numbers = Vec::new();
    query::each_number(&conn, &ListFilter::default(), None, None, |record| {
        numbers.push(record.attack_types);
        ControlFlow::Continue(())
    })
    .expect("numbers");
    assert!(!numbers.is_empty() && numbers.iter().all(|bits| *bits == 0));
}

#[test]
fn matching_listings_count_only_events_of_the_attack_type() {
    let conn = fixture_db();
    let filter = ListFilter {
        attack_type: Some(AttackType::Scan),
        ..ListFilter::default()
    };
    let matching = EventMatch {
        user_agent: Some("friendly-scanner".to_owned()),
        ..EventMatch::default()
    };
    let mut found = Vec::new();
    query::each_ip_matching(&conn, &filter, &matching, None, None, |record| {
        found.push((record.key, record.seen_count, record.attack_types));
        ControlFlow::Continue(())
    })
    .expect("listing");
    assert_eq!(
        found,
        [(
            "192.0.2.1".to_owned(),
            1,
            AttackType::Scan.bit() | AttackType::ExtensionEnumeration.bit()
        )],
        "one scan counted; the IP's whole set shown"
    );
}

#[test]
fn stats_count_events_and_ips_per_attack_type() {
    let conn = fixture_db();
    let stats = query::stats(&conn, None, 10).expect("stats");
    let pairs = |counts: &[query::CountBy]| -> Vec<(String, u64)> {
        counts.iter().map(|c| (c.value.clone(), c.count)).collect()
    };
    let owned = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
        pairs.iter().map(|(v, c)| ((*v).to_owned(), *c)).collect()
    };
    assert_eq!(
        pairs(&stats.by_attack_type),
        owned(&[
            ("password_cracking", 3),
            ("call_attempt", 1),
            ("extension_enumeration", 1),
            ("scan", 1)
        ])
    );
    assert_eq!(
        pairs(&stats.ip_addresses_by_attack_type),
        owned(&[
            ("password_cracking", 2),
            ("call_attempt", 1),
            ("extension_enumeration", 1),
            ("scan", 1)
        ])
    );
    let since = format_timestamp("2024-01-01T00:00:05Z".parse().expect("ts"));
    let recent = query::stats(&conn, Some(&since), 10).expect("stats");
    assert_eq!(
        pairs(&recent.ip_addresses_by_attack_type),
        owned(&[("call_attempt", 1), ("password_cracking", 1)])
    );
    let top: Vec<(&str, u8)> = stats
        .top_ip_addresses
        .iter()
        .map(|record| (record.key.as_str(), record.attack_types))
        .collect();
    assert_eq!(top[..2], [("192.0.2.1", 3), ("192.0.2.2", 4)]);
}

#[test]
fn catch_up_rebuilds_local_events_with_their_attack() {
    let conn = fixture_db();
    let page = query::shareable_events(&conn, "", None, 100, None).expect("page");
    let local: Vec<&BadActor> = page
        .events
        .iter()
        .filter_map(|shareable| match shareable {
            Shareable::Local(event) => Some(event.as_ref()),
            Shareable::Peer(_) => None,
        })
        .collect();
    assert_eq!(local.len(), 5, "the peer's event has no signed record kept");
    let crack = local
        .iter()
        .find(|event| event.attack.attack_type == AttackType::PasswordCracking)
        .expect("a cracking event");
    assert_eq!(crack.attack, Attack::from_message(SVCRACK));
    let invite = local
        .iter()
        .find(|event| event.attack.attack_type == AttackType::CallAttempt)
        .expect("an invite");
    assert_eq!(invite.attack, Attack::from_message(INVITE));
}
