//! The rollups against the full-scan queries they replace (kept here as the model): random
//! events over a few hours, any `since`, before and after retention; both ways of reading a top
//! list; the value cap; events per minute; and every rollup statement preparing.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use rusqlite::{Connection, params};

use super::{PEER, insert, memory_db};
use crate::event::test_support::EventBuilder;
use crate::event::{Attack, BadActor, Transport, format_timestamp};
use crate::sip::{AttackType, MessageKind};
use crate::store::query::{
    self, CountBy, CountedColumn, SeenRecord, Stats, Totals, counts_of, events_per_minute,
};
use crate::store::rollup::{self, MAX_VALUES_PER_BUCKET};
use crate::store::{StoreStats, WriterOptions, run_retention, run_writer};
use crate::telemetry::Count;

/// The full-scan statements `/api/v1/stats` ran before the rollups, verbatim but for `since`
/// always bound (`''` for none). Events per value of `$column`, at most `?2`.
macro_rules! model_count_by {
    ($column:literal) => {
        concat!(
            "SELECT coalesce(",
            $column,
            ", '') AS value, COUNT(*) AS n FROM honey",
            " WHERE event_timestamp >= ?1",
            " GROUP BY value ORDER BY n DESC, value ASC LIMIT ?2"
        )
    };
}

const MODEL_BY: [&str; 6] = [
    model_count_by!("method"),
    model_count_by!("user_agent"),
    model_count_by!("transport_type"),
    model_count_by!("message_kind"),
    model_count_by!("attack_type"),
    // `ip:port`, `[ip]:port` for IPv6, as the rollup writes it.
    model_count_by!(
        "CASE WHEN instr(destination_ip, ':') > 0 \
         THEN '[' || destination_ip || ']:' || destination_port \
         ELSE destination_ip || ':' || destination_port END"
    ),
];
const MODEL_EVENTS: &str = "SELECT COUNT(*) FROM honey WHERE event_timestamp >= ?1";
const MODEL_KEYS: [&str; 2] = [
    "SELECT COUNT(*) FROM ip_addresses WHERE last_seen >= ?1",
    "SELECT COUNT(*) FROM called_numbers WHERE last_seen >= ?1",
];
const MODEL_IPS_BY_ATTACK_TYPE: &str = "
SELECT coalesce(sum((attack_types & 1) != 0), 0), coalesce(sum((attack_types & 2) != 0), 0),
       coalesce(sum((attack_types & 4) != 0), 0), coalesce(sum((attack_types & 8) != 0), 0),
       coalesce(sum((attack_types & 16) != 0), 0), coalesce(sum((attack_types & 32) != 0), 0)
FROM ip_addresses WHERE last_seen >= ?1";
const MODEL_TOP_IPS: &str = "
SELECT id, source_ip, last_seen, seen_count, attack_types FROM ip_addresses
WHERE last_seen >= ?1
ORDER BY seen_count DESC, source_ip ASC LIMIT ?2";
const MODEL_TOP_NUMBERS: &str = "
SELECT id, called_number, last_seen, seen_count, 0 FROM called_numbers
WHERE last_seen >= ?1
ORDER BY seen_count DESC, called_number ASC LIMIT ?2";

/// What the full scan answers, `since` being the already rounded text (`''` for all).
pub(super) fn model(conn: &Connection, since: &str, top: usize) -> Stats {
    let top = i64::try_from(top).expect("small");
    let count = |sql: &str| -> u64 {
        conn.query_row(sql, [since], |row| row.get::<_, i64>(0))
            .map(|n| u64::try_from(n).expect("count"))
            .expect("model count")
    };
    let by = |index: usize| -> Vec<CountBy> {
        let mut stmt = conn.prepare(MODEL_BY[index]).expect("prepare");
        stmt.query_map(params![since, top], |row| {
            Ok(CountBy {
                value: row.get(0)?,
                count: u64::try_from(row.get::<_, i64>(1)?).expect("count"),
            })
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    };
    let records = |sql: &str| -> Vec<SeenRecord> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        stmt.query_map(params![since, top], |row| {
            Ok(SeenRecord {
                id: row.get(0)?,
                key: row.get(1)?,
                seen_last: row.get(2)?,
                seen_count: u64::try_from(row.get::<_, i64>(3)?).expect("count"),
                attack_types: row.get(4)?,
            })
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    };
    let ips_by_type: Vec<u64> = conn
        .query_row(MODEL_IPS_BY_ATTACK_TYPE, [since], |row| {
            (0..6).map(|i| row.get::<_, i64>(i)).collect()
        })
        .map(|counts: Vec<i64>| counts.into_iter().map(|n| n as u64).collect())
        .expect("model by type");
    let mut ip_addresses_by_attack_type: Vec<CountBy> = AttackType::ALL
        .iter()
        .zip(ips_by_type)
        .filter(|(_, count)| *count > 0)
        .map(|(attack_type, count)| CountBy {
            value: attack_type.as_str().to_owned(),
            count,
        })
        .collect();
    ip_addresses_by_attack_type
        .sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    Stats {
        totals: Totals {
            events: count(MODEL_EVENTS),
            ip_addresses: count(MODEL_KEYS[0]),
            called_numbers: count(MODEL_KEYS[1]),
        },
        by_method: by(0),
        by_user_agent: by(1),
        by_transport: by(2),
        by_message_kind: by(3),
        by_attack_type: by(4),
        by_destination: by(5),
        ip_addresses_by_attack_type,
        top_ip_addresses: records(MODEL_TOP_IPS),
        top_called_numbers: records(MODEL_TOP_NUMBERS),
    }
}

/// Noon on 2024-06-01, the start of every case.
fn base() -> Timestamp {
    "2024-06-01T12:00:00Z".parse().expect("ts")
}

/// `since` (minutes and seconds after [`base`]) as the stats take it, and as the model takes
/// it: rounded down to its minute.
fn since_texts(offset_seconds: i64) -> (String, String) {
    let at = base() + SignedDuration::from_secs(offset_seconds);
    let rounded = base() + SignedDuration::from_mins(offset_seconds.div_euclid(60));
    (format_timestamp(at), format_timestamp(rounded))
}

/// One random event: (seconds after base, ip, number, method, agent, transport, kind, attack
/// type, destination port, from a peer).
type Spec = (
    i64,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    u16,
    bool,
);

const IPS: [&str; 5] = [
    "192.0.2.1",
    "192.0.2.2",
    "198.51.100.7",
    "2001:db8::1",
    "::1",
];
const NUMBERS: [&str; 5] = ["100", "0046812118532", "+44", "NOT_FOUND", ""];
const METHODS: [&str; 4] = ["INVITE", "OPTIONS", "REGISTER", ""];
const AGENTS: [&str; 4] = ["friendly-scanner", "sipvicious", "NOT_FOUND", ""];
const KINDS: [MessageKind; 4] = MessageKind::ALL;

fn event(
    (seconds, ip, number, method, agent, transport, kind, attack, port, peer): Spec,
) -> BadActor {
    let builder = EventBuilder::new()
        .timestamp(base() + SignedDuration::from_secs(seconds))
        .source_ip(IPS[ip])
        .destination(&format!("192.0.2.10:{port}"))
        .number(NUMBERS[number])
        .method(METHODS[method])
        .user_agent(AGENTS[agent])
        .transport(Transport::ALL[transport])
        .kind(KINDS[kind])
        .attack(Attack {
            attack_type: AttackType::ALL[attack],
            ..Attack::default()
        });
    if peer { builder.peer(PEER) } else { builder }.build()
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        -3 * 3600..3 * 3600_i64,
        0..5usize,
        0..5usize,
        0..4usize,
        0..4usize,
        0..3usize,
        0..4usize,
        0..6usize,
        5060..5062u16,
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Stats from the rollups equal the full scan for any `since` (rounded to its minute), in
    /// any batches, before and after retention cuts through the events.
    #[test]
    fn rollup_stats_equal_the_full_scan(
        specs in proptest::collection::vec(spec(), 0..60),
        split in 0..60usize,
        since in proptest::collection::vec(-4 * 3600..4 * 3600_i64, 3),
        cutoff in -3 * 3600..3 * 3600_i64,
        top in 1..8usize,
    ) {
        let mut conn = memory_db();
        let events: Vec<BadActor> = specs.into_iter().map(event).collect();
        let (first, second) = events.split_at(split.min(events.len()));
        insert(&mut conn, first);
        insert(&mut conn, second);
        let check = |conn: &Connection| -> Result<(), TestCaseError> {
            prop_assert_eq!(query::stats(conn, None, top).expect("stats"), model(conn, "", top));
            for offset in &since {
                let (since, rounded) = since_texts(*offset);
                let stats = query::stats(conn, Some(&since), top).expect("stats");
                prop_assert_eq!(&stats, &model(conn, &rounded, top), "since {}", since);
                prop_assert_eq!(
                    counts_of(conn, CountedColumn::UserAgent, Some(&since), top).expect("counts"),
                    stats.by_user_agent
                );
                prop_assert_eq!(query::totals(conn, Some(&since)).expect("totals"), stats.totals);
            }
            Ok(())
        };
        check(&conn)?;
        let now = base() + SignedDuration::from_secs(cutoff) + SignedDuration::from_hours(24);
        run_retention(&conn, 1, now).expect("retention");
        check(&conn)?;
    }

    /// Both ways of reading a top list give the same records.
    #[test]
    fn both_top_list_plans_agree(
        specs in proptest::collection::vec(spec(), 0..60),
        since in -4 * 3600..4 * 3600_i64,
        top in 1..8usize,
    ) {
        let mut conn = memory_db();
        insert(&mut conn, &specs.into_iter().map(event).collect::<Vec<_>>());
        let (_, rounded) = since_texts(since);
        for sql in query::summary::top_statements() {
            let records = |statement: &str| -> Vec<(String, i64)> {
                let mut stmt = conn.prepare(statement).expect("prepare");
                stmt.query_map(params![rounded, i64::try_from(top).expect("small")], |row| {
                    Ok((row.get(1)?, row.get(3)?))
                })
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
            };
            prop_assert_eq!(records(sql[0]), records(sql[1]));
        }
    }
}

#[test]
fn a_bucket_holds_at_most_its_cap_of_values_and_the_rest_is_counted() {
    let (_dir, path) = super::temp_db();
    let extra = 5;
    let agents = usize::try_from(MAX_VALUES_PER_BUCKET).expect("small") + extra;
    let (sender, receiver) = std::sync::mpsc::channel();
    for n in 0..agents {
        let event = EventBuilder::new()
            .timestamp(base())
            .user_agent(&format!("agent-{n:05}"))
            .build();
        sender.send(std::sync::Arc::new(event)).expect("queue");
    }
    drop(sender);
    let stats = StoreStats::default();
    let options = WriterOptions {
        retention_days: 0,
        batch_max: 100,
        ..WriterOptions::default()
    };
    let conn = crate::store::open(&path).expect("open");
    run_writer(conn, &receiver, &options, &stats).expect("writer");
    let conn = crate::store::open_read_only(&path).expect("reopen");
    let all = query::stats(&conn, None, 5000).expect("stats");
    assert_eq!(all.by_user_agent.len(), agents - extra);
    assert_eq!(all.totals.events, u64::try_from(agents).expect("small"));
    assert_eq!(
        all.by_method,
        [CountBy {
            value: "INVITE".into(),
            count: u64::try_from(agents).expect("small")
        }],
        "the other dimensions count every event"
    );
    assert_eq!(
        stats.rollup_values_over_cap.count(),
        2 * u64::try_from(extra).expect("small"),
        "once per level"
    );
}

#[test]
fn events_per_minute_lists_the_minutes_with_events() {
    let mut conn = memory_db();
    let at = |minutes: i64, seconds: i64| {
        EventBuilder::new()
            .timestamp(
                base() + SignedDuration::from_mins(minutes) + SignedDuration::from_secs(seconds),
            )
            .build()
    };
    insert(&mut conn, &[at(0, 1), at(0, 59), at(2, 0), at(-1, 30)]);
    let minute = |minutes: i64| base() + SignedDuration::from_mins(minutes);
    let since = format_timestamp(base() + SignedDuration::from_secs(30));
    assert_eq!(
        events_per_minute(&conn, &since).expect("per minute"),
        [(minute(0), 2), (minute(2), 1)]
    );
}

#[test]
fn every_rollup_statement_prepares() {
    let conn = memory_db();
    for sql in rollup::all_statements() {
        conn.prepare(sql)
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }
}
