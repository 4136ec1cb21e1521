//! The shared read pool: reads on its own threads, connections reused and bounded, errors as
//! store errors, reads stopped when their caller stops waiting or their time is up.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::store::read_pool::MAX_IDLE_CONNECTIONS;
use crate::store::{self, ReadOptions, ReadPool, StoreError};

use super::temp_db;

#[tokio::test]
async fn reads_run_on_the_pools_threads_and_reuse_one_connection() {
    let (_dir, path) = temp_db();
    drop(store::open(&path).expect("created and migrated"));
    let pool = ReadPool::new(path);
    assert_eq!(
        pool.idle_connections(),
        0,
        "nothing opened before the first read"
    );
    assert_eq!(pool.run(store::count_events).await.expect("count"), 0);
    assert_eq!(
        pool.clone().run(store::count_events).await.expect("count"),
        0
    );
    assert_eq!(pool.idle_connections(), 1, "clones share the pool");
}

#[test]
fn readers_at_once_get_their_own_connections_and_few_are_kept() {
    let (_dir, path) = temp_db();
    drop(store::open(&path).expect("created and migrated"));
    let pool = ReadPool::new(path);
    fn nested(pool: &ReadPool, depth: usize) -> usize {
        pool.with_connection(|_| {
            if depth == 0 {
                1
            } else {
                1 + nested(pool, depth - 1)
            }
        })
        .expect("a connection")
    }
    assert_eq!(
        nested(&pool, MAX_IDLE_CONNECTIONS + 3),
        MAX_IDLE_CONNECTIONS + 4
    );
    assert_eq!(pool.idle_connections(), MAX_IDLE_CONNECTIONS);
}

#[tokio::test]
async fn a_missing_database_and_a_failed_read_task_are_store_errors() {
    let (_dir, path) = temp_db();
    let pool = ReadPool::new(path);
    let missing = pool.run(store::count_events).await;
    assert!(
        matches!(missing, Err(StoreError::Open { .. })),
        "{missing:?}"
    );
    let (_dir, path) = temp_db();
    drop(store::open(&path).expect("created and migrated"));
    let pool = ReadPool::new(path);
    let failed = pool
        .run(|_| -> Result<(), StoreError> { panic!("a read that fails") })
        .await;
    assert!(matches!(failed, Err(StoreError::Task(_))), "{failed:?}");
    assert_eq!(pool.run(store::count_events).await.expect("still reads"), 0);
}

/// A query that runs for as long as SQLite is let to (counts to a billion).
fn endless(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) \
         SELECT count(*) FROM n",
        [],
        |row| row.get(0),
    )?)
}

#[tokio::test]
async fn a_read_nobody_waits_for_stops_at_once() {
    let (_dir, path) = temp_db();
    drop(store::open(&path).expect("created and migrated"));
    let pool = ReadPool::new(path);
    let abandoned = tokio::time::timeout(Duration::from_millis(200), pool.run(endless)).await;
    assert!(abandoned.is_err(), "still running after 200 ms");
    let stopped = Instant::now();
    while pool.stats().reads_abandoned.load(Ordering::Relaxed) == 0 {
        assert!(stopped.elapsed() < Duration::from_secs(10), "never stopped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        pool.run(store::count_events)
            .await
            .expect("the thread is free"),
        0
    );
}

#[tokio::test]
async fn a_read_is_interrupted_at_its_time_limit_and_the_pool_stays_small() {
    let (_dir, path) = temp_db();
    drop(store::open(&path).expect("created and migrated"));
    let options = ReadOptions {
        max_threads: 2,
        time_limit: Duration::from_millis(100),
    };
    let pool = ReadPool::with_options(path, options);
    let reads: Vec<_> = (0..6)
        .map(|_| {
            let pool = pool.clone();
            async move { pool.run(endless).await }
        })
        .collect();
    for result in futures_join(reads).await {
        assert!(
            matches!(result, Err(StoreError::ReadTimeLimit)),
            "{result:?}"
        );
    }
    assert_eq!(pool.stats().reads_timed_out.load(Ordering::Relaxed), 6);
    assert!(pool.threads() <= 2, "{} threads", pool.threads());
}

/// The calling thread's nice value and name.
#[cfg(target_os = "linux")]
fn nice_and_name(_: &rusqlite::Connection) -> Result<(i32, Option<String>), StoreError> {
    let nice = rustix::process::getpriority_process(None).expect("nice");
    Ok((nice, std::thread::current().name().map(String::from)))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn reads_run_below_the_writers_priority_and_point_lookups_at_the_process_priority() {
    use crate::thread_priority::{BACKGROUND_NICENESS, LOOKUP_NICENESS, READER_NICENESS};
    let (_dir, path) = temp_db();
    drop(store::open(&path).expect("created and migrated"));
    let pool = ReadPool::new(path);
    let ours = rustix::process::getpriority_process(None).expect("nice");
    let lookup = pool.run_lookup(nice_and_name).await.expect("lookup");
    assert_eq!(
        lookup,
        (
            (ours + LOOKUP_NICENESS).min(19),
            Some("store-lookup".into())
        )
    );
    assert_eq!(pool.threads(), 0, "no reader thread started for a lookup");
    let read = pool.run(nice_and_name).await.expect("read");
    assert_eq!(
        read,
        (
            (ours + READER_NICENESS).min(19),
            Some("store-reader".into())
        )
    );
    const {
        assert!(READER_NICENESS > BACKGROUND_NICENESS);
        assert!(LOOKUP_NICENESS < BACKGROUND_NICENESS);
    }
}

/// Awaits every future, in order.
async fn futures_join<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("task"));
    }
    outputs
}
