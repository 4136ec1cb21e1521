//! Aggregate flushes: rows written exactly (sums, extremes, bits, authors), refused keys, the
//! writer pulling its source every interval, also under a backlog, before the batch that empties
//! its queue, and once more at shutdown after draining, a flush surviving a failed batch, a
//! failing flush held and retried, rows written in key order, and the start-up loader
//! returning what was written.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::{Connection, TransactionBehavior};

use super::temp_db;
use crate::event::test_support::EventBuilder;
use crate::store::aggregate::{AggregateFlush, AggregateRow, AggregateSource, write_rows};
use crate::store::{self, StoreStats, WriterOptions, load_ips, load_numbers, run_writer};
use crate::telemetry::Count;

/// A source handing out queued flushes (then empty ones), counting its calls and the events
/// stored when each came.
#[derive(Default)]
pub(super) struct QueuedSource {
    flushes: Mutex<VecDeque<AggregateFlush>>,
    pub(super) takes: AtomicUsize,
    /// `stats.events_stored` at the latest take, when `stats` is set.
    pub(super) stored_at_take: AtomicU64,
    pub(super) stats: Option<Arc<StoreStats>>,
}

impl QueuedSource {
    pub(super) fn push(&self, flush: AggregateFlush) {
        self.flushes.lock().expect("lock").push_back(flush);
    }

    /// Flushes not taken yet.
    pub(super) fn queued(&self) -> usize {
        self.flushes.lock().expect("lock").len()
    }
}

impl AggregateSource for QueuedSource {
    fn take(&self) -> AggregateFlush {
        if let Some(stats) = &self.stats {
            self.stored_at_take
                .store(stats.events_stored.count(), Ordering::SeqCst);
        }
        self.takes.fetch_add(1, Ordering::SeqCst);
        self.flushes
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or_default()
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::new(1_704_067_200 + second, 7).expect("valid")
}

/// A flush row for `key`: `local` and `remote` events, newest at `second`, oldest a minute
/// earlier.
pub(super) fn row<K>(key: K, local: u64, remote: u64, second: i64) -> AggregateRow<K> {
    AggregateRow {
        key,
        seen_count: local + remote,
        first_seen: at(second - 60),
        last_seen: at(second),
        local_count: local,
        local_last_seen: (local > 0).then(|| at(second)),
        remote_count: remote,
        remote_last_seen: (remote > 0).then(|| at(second - 1)),
        attack_types: 1,
        transports: u8::from(local > 0),
        proven: false,
        authors: Vec::new(),
        more_authors: false,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

/// Writes `flush` in one transaction, as the writer does.
fn write(conn: &mut Connection, flush: &AggregateFlush) {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    write_rows(&tx, &flush.ips, &flush.numbers).expect("write");
    tx.commit().expect("commit");
}

/// Every stored IP row, as the loader reads them.
fn loaded_ips(conn: &Connection) -> Vec<AggregateRow<IpAddr>> {
    load_ips(conn, None)
        .collect::<Result<Vec<_>, _>>()
        .expect("load")
        .concat()
}

fn loaded_numbers(conn: &Connection) -> Vec<AggregateRow<Box<str>>> {
    load_numbers(conn, None)
        .collect::<Result<Vec<_>, _>>()
        .expect("load")
        .concat()
}

#[test]
fn flush_rows_are_written_exactly_and_merge_with_what_is_stored() {
    let (_dir, path) = temp_db();
    let mut conn = store::open(&path).expect("open");
    let mut first = row(ip("::ffff:192.0.2.1"), 3, 0, 100);
    first.transports = 1;
    let mut second = row(ip("192.0.2.1"), 2, 5, 50);
    second.first_seen = at(-500);
    second.attack_types = 8;
    second.transports = 2;
    second.proven = true;
    second.authors = ["a", "b", "c"].map(Arc::from).to_vec();
    let mut third = row(ip("192.0.2.1"), 0, 1, 10);
    third.authors = ["c", "d", "e"].map(Arc::from).to_vec();
    for flush in [&first, &second, &third] {
        write(
            &mut conn,
            &AggregateFlush {
                ips: vec![flush.clone()],
                numbers: Vec::new(),
            },
        );
    }
    let stored = loaded_ips(&conn);
    let names: Vec<&str> = stored[0].authors.iter().map(|name| &**name).collect();
    assert_eq!(stored.len(), 1, "IPv4-mapped IPv6 is stored as IPv4");
    assert_eq!(
        (
            stored[0].key,
            stored[0].seen_count,
            stored[0].local_count,
            stored[0].remote_count
        ),
        (ip("192.0.2.1"), 11, 5, 6)
    );
    assert_eq!(
        (stored[0].first_seen, stored[0].last_seen),
        (at(-500), at(100))
    );
    assert_eq!(
        (stored[0].local_last_seen, stored[0].remote_last_seen),
        (Some(at(100)), Some(at(49)))
    );
    assert_eq!(
        (
            stored[0].attack_types,
            stored[0].transports,
            stored[0].proven
        ),
        (9, 3, true)
    );
    assert_eq!(names, ["a", "b", "c", "d"]);
    assert!(stored[0].more_authors, "e did not fit");
}

#[test]
fn numbers_that_are_not_phone_numbers_are_refused() {
    let mut conn = super::memory_db();
    let tx = conn.transaction().expect("begin");
    let done = write_rows(
        &tx,
        &[],
        &[
            row("+441234".into(), 1, 0, 0),
            row("NOT_FOUND".into(), 1, 0, 0),
        ],
    )
    .expect("write");
    tx.commit().expect("commit");
    assert_eq!((done.written, done.refused), (1, 1));
    let keys: Vec<Box<str>> = loaded_numbers(&conn)
        .into_iter()
        .map(|row| row.key)
        .collect();
    assert_eq!(keys, [Box::from("+441234")]);
}

#[test]
fn a_flush_is_written_in_the_order_of_each_key_index() {
    let mut conn = super::memory_db();
    let ips = ["10.0.0.9", "::1", "10.0.0.10", "10.0.0.1"].map(|text| row(ip(text), 1, 0, 0));
    let numbers = ["300", "1000", "200"].map(|key| row(Box::<str>::from(key), 1, 0, 0));
    write(
        &mut conn,
        &AggregateFlush {
            ips: ips.to_vec(),
            numbers: numbers.to_vec(),
        },
    );
    let by_id = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .expect("prepare")
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(
        by_id("SELECT source_ip FROM ip_addresses ORDER BY id"),
        ["10.0.0.1", "10.0.0.10", "10.0.0.9", "::1"],
        "text order, as the unique index on source_ip holds them"
    );
    assert_eq!(
        by_id("SELECT called_number FROM called_numbers ORDER BY id"),
        ["1000", "200", "300"]
    );
}

#[test]
fn the_loader_returns_every_row_in_chunks_and_filters_by_last_seen() {
    let mut conn = super::memory_db();
    let count = store::aggregate::LOAD_CHUNK_ROWS + 3;
    let ips: Vec<AggregateRow<IpAddr>> = (0..count)
        .map(|n| {
            let n = u32::try_from(n).expect("small");
            row(
                IpAddr::from((0x0a00_0000 + n).to_be_bytes()),
                1,
                0,
                i64::from(n % 2),
            )
        })
        .collect();
    let mut numbers = vec![row("100".into(), 1, 0, 0)];
    numbers[0].authors = vec!["peer".into()];
    write(
        &mut conn,
        &AggregateFlush {
            ips: ips.clone(),
            numbers: numbers.clone(),
        },
    );
    conn.execute(
        "INSERT INTO ip_addresses (source_ip, seen_count, first_seen, last_seen, local_count,
         peer_count) VALUES ('not an ip', 1, '', '2030-01-01 00:00:00.000000000', 1, 0)",
        [],
    )
    .expect("odd row");
    let mut load = load_ips(&conn, None);
    let chunks: Vec<Vec<AggregateRow<IpAddr>>> =
        load.by_ref().collect::<Result<_, _>>().expect("load");
    assert_eq!(chunks.len(), 2);
    // Rows are loaded by id, which is the order they were written in: by key (their text).
    let mut loaded = chunks.concat();
    loaded.sort_by_key(|row| row.key);
    let mut written = ips.clone();
    written.sort_by_key(|row| row.key);
    assert_eq!(loaded, written);
    assert_eq!(load.skipped(), 1, "the odd row is skipped and counted");
    assert_eq!(loaded_numbers(&conn), numbers);

    let since = crate::event::format_timestamp(at(1));
    let recent = load_ips(&conn, Some(&since))
        .collect::<Result<Vec<_>, _>>()
        .expect("load")
        .concat();
    assert_eq!(
        recent.len(),
        count / 2,
        "odd ones were last seen at second 1"
    );
    assert!(recent.iter().all(|row| row.last_seen == at(1)));
}

/// Options with `source`, pulled every `interval`, never pruning.
fn with_source(source: &Arc<QueuedSource>, interval: Duration, batch_max: usize) -> WriterOptions {
    WriterOptions {
        batch_max,
        retention_days: 0,
        aggregate_source: Some(Arc::clone(source) as Arc<dyn AggregateSource>),
        aggregate_flush_interval: interval,
        ..WriterOptions::default()
    }
}

#[test]
fn with_a_source_the_batches_write_no_aggregates_and_the_last_pull_follows_the_drain() {
    let (_dir, path) = temp_db();
    let stats = Arc::new(StoreStats::default());
    let source = Arc::new(QueuedSource {
        stats: Some(Arc::clone(&stats)),
        ..QueuedSource::default()
    });
    source.push(AggregateFlush {
        ips: vec![row(ip("192.0.2.9"), 1, 0, 0)],
        numbers: Vec::new(),
    });
    let (sender, receiver) = mpsc::channel();
    for n in 0..2500_u32 {
        let event = EventBuilder::new()
            .at("2024-01-01T00:00:00Z")
            .source_ip(&format!("198.51.100.{}", n % 200))
            .build();
        sender.send(Arc::new(event)).expect("queue");
    }
    drop(sender);
    let options = with_source(&source, Duration::from_secs(3600), 1000);
    run_writer(
        store::open(&path).expect("open"),
        &receiver,
        &options,
        &stats,
    )
    .expect("writer");

    assert_eq!(
        source.takes.load(Ordering::SeqCst),
        2,
        "before the batch that emptied the queue, and the final pull"
    );
    assert_eq!(
        source.stored_at_take.load(Ordering::SeqCst),
        2500,
        "after the drain"
    );
    let conn = store::open(&path).expect("reopen");
    let keys: Vec<IpAddr> = loaded_ips(&conn).into_iter().map(|row| row.key).collect();
    assert_eq!(
        keys,
        [ip("192.0.2.9")],
        "aggregates come from the source only"
    );
    assert_eq!(store::count_events(&conn).expect("count"), 2500);
    assert_eq!(
        (
            stats.aggregate_flushes.count(),
            stats.aggregate_rows.count()
        ),
        (1, 1)
    );
}

#[test]
fn an_idle_writer_pulls_before_storing_the_batch_that_emptied_its_queue() {
    let (_dir, path) = temp_db();
    let stats = Arc::new(StoreStats::default());
    let source = Arc::new(QueuedSource {
        stats: Some(Arc::clone(&stats)),
        ..QueuedSource::default()
    });
    source.push(AggregateFlush {
        ips: vec![row(ip("192.0.2.10"), 1, 0, 0)],
        numbers: Vec::new(),
    });
    let (sender, receiver) = mpsc::channel();
    let options = with_source(&source, Duration::from_secs(3600), 1000);
    let writer = store::spawn_writer(
        store::open(&path).expect("open"),
        receiver,
        options,
        Arc::clone(&stats),
    )
    .expect("spawn");
    let event = EventBuilder::new().source_ip("192.0.2.10").build();
    sender.send(Arc::new(event)).expect("queue");
    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.events_stored.count() < 1 {
        assert!(Instant::now() < deadline, "the event was never stored");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Long before the interval: the pull came with the batch, before it was stored.
    assert_eq!(source.takes.load(Ordering::SeqCst), 1);
    assert_eq!(source.stored_at_take.load(Ordering::SeqCst), 0);
    let conn = store::open_read_only(&path).expect("read");
    let keys: Vec<IpAddr> = loaded_ips(&conn).into_iter().map(|row| row.key).collect();
    assert_eq!(keys, [ip("192.0.2.10")], "the stored event's IP is there");
    drop(sender);
    writer.join().expect("thread").expect("writer");
}

#[test]
fn the_writer_pulls_every_interval_while_a_backlog_drains() {
    let (_dir, path) = temp_db();
    let stats = Arc::new(StoreStats::default());
    let source = Arc::new(QueuedSource {
        stats: Some(Arc::clone(&stats)),
        ..QueuedSource::default()
    });
    let (sender, receiver) = mpsc::channel();
    let total = 20_000_u64;
    for _ in 0..total {
        let event = EventBuilder::new().at("2024-01-01T00:00:00Z").build();
        sender.send(Arc::new(event)).expect("queue");
    }
    drop(sender);
    // Batches of 50: hundreds of transactions, so the backlog lasts many 10 ms intervals.
    let options = with_source(&source, Duration::from_millis(10), 50);
    run_writer(
        store::open(&path).expect("open"),
        &receiver,
        &options,
        &stats,
    )
    .expect("writer");
    let takes = source.takes.load(Ordering::SeqCst);
    assert!(takes >= 3, "{takes} pulls");
    assert_eq!(stats.events_stored.count(), total);
}

#[test]
fn a_flush_survives_a_failed_batch_and_a_failing_flush_is_held_and_retried() {
    let (_dir, path) = temp_db();
    let conn = store::open(&path).expect("open");
    conn.execute_batch(
        "CREATE TABLE refuse (flag INTEGER);
         CREATE TRIGGER reject_fail BEFORE INSERT ON honey WHEN NEW.called_number = 'fail'
         BEGIN SELECT RAISE(ABORT, 'rejected by test trigger'); END;
         CREATE TRIGGER reject_aggregates BEFORE UPDATE ON ip_addresses
         WHEN EXISTS (SELECT 1 FROM refuse)
         BEGIN SELECT RAISE(ABORT, 'rejected by test trigger'); END;",
    )
    .expect("triggers");
    let stats = Arc::new(StoreStats::default());
    let source = Arc::new(QueuedSource::default());
    let key = ip("192.0.2.1");
    source.push(AggregateFlush {
        ips: vec![row(key, 1, 0, 0)],
        numbers: Vec::new(),
    });
    let (sender, receiver) = mpsc::sync_channel(10);
    let handle = store::spawn_writer(
        conn,
        receiver,
        with_source(&source, Duration::from_millis(10), 10),
        Arc::clone(&stats),
    )
    .expect("spawn");
    let failing = EventBuilder::new().number("fail").build();
    sender.send(Arc::new(failing)).expect("queue");
    let other = super::raw_open(&path);
    let seen = |other: &Connection| -> Option<i64> {
        other
            .query_row(
                "SELECT seen_count FROM ip_addresses WHERE source_ip = '192.0.2.1'",
                [],
                |row| row.get(0),
            )
            .ok()
    };
    // The batch failed, the flush did not.
    wait_until("the first flush and the failed batch", || {
        seen(&other) == Some(1) && stats.events_failed.count() == 1
    });

    other
        .execute("INSERT INTO refuse VALUES (1)", [])
        .expect("refuse updates");
    source.push(AggregateFlush {
        ips: vec![row(key, 2, 0, 5)],
        numbers: Vec::new(),
    });
    wait_until("a failed flush", || {
        stats.aggregate_flushes_failed.count() >= 1
    });
    source.push(AggregateFlush {
        ips: vec![row(key, 4, 0, 9)],
        numbers: Vec::new(),
    });
    wait_until("the third flush taken", || source.queued() == 0);
    other
        .execute("DELETE FROM refuse", [])
        .expect("accept again");
    wait_until("the held rows", || seen(&other) == Some(7));
    drop(sender);
    handle.join().expect("thread").expect("writer");
    assert_eq!(stats.aggregate_rows_lost.count(), 0);
}

#[test]
fn rows_still_held_at_shutdown_are_counted_as_lost() {
    let (_dir, path) = temp_db();
    let conn = store::open(&path).expect("open");
    conn.execute_batch(
        "CREATE TRIGGER reject_all BEFORE INSERT ON ip_addresses
         BEGIN SELECT RAISE(ABORT, 'rejected by test trigger'); END;",
    )
    .expect("trigger");
    let source = Arc::new(QueuedSource::default());
    source.push(AggregateFlush {
        ips: vec![row(ip("192.0.2.1"), 1, 0, 0), row(ip("192.0.2.2"), 1, 0, 0)],
        numbers: Vec::new(),
    });
    let (sender, receiver) = mpsc::channel::<Arc<crate::event::BadActor>>();
    drop(sender);
    let stats = StoreStats::default();
    let options = with_source(&source, Duration::from_secs(3600), 10);
    run_writer(conn, &receiver, &options, &stats).expect("writer");
    assert_eq!(stats.aggregate_rows_lost.count(), 2);
    assert!(stats.aggregate_flushes_failed.count() >= 1);
}

/// Waits (up to 30 s, for a loaded machine) until `done`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
