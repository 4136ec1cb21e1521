//! The shared read pool: reads on the blocking pool, connections reused and bounded, errors as
//! store errors.

use crate::store::read_pool::MAX_IDLE_CONNECTIONS;
use crate::store::{self, ReadPool, StoreError};

use super::temp_db;

#[tokio::test]
async fn reads_run_on_the_blocking_pool_and_reuse_one_connection() {
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
