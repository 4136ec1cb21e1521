//! The one pool of read-only connections to the database, shared by every reader (the API, the
//! peer-to-peer node's catch-up pages and contribution counts).
//!
//! Reads run on a few threads of the pool's own ([`ReadOptions::max_threads`], started when
//! needed and ended after a minute without work), each [`READER_NICENESS`] nice steps below the
//! rest of the process: below the store writer too, so however many readers there are, the
//! writer gets the CPU first and readers never make it drop events. Point lookups (one key's
//! row) have two threads of their own at the process's priority ([`ReadPool::run_lookup`]):
//! someone waits on each, and each costs too little to keep the writer from the CPU. Readers
//! never touch the writer's connection (WAL lets both run at once), and each read is one short
//! transaction: a read never waits on a client while holding its snapshot (the API streams long
//! lists page by page), so checkpoints can complete and the WAL stays small.
//!
//! A read stops (SQLite's progress handler interrupts it) as soon as whoever asked for it stops
//! waiting (the API's client went away, its request timed out), or when it has run for
//! [`ReadOptions::time_limit`]; both are counted.

mod workers;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{StoreError, open_read_only};
use crate::telemetry::{Readings, Report};
pub use crate::thread_priority::{LOOKUP_NICENESS, READER_NICENESS};

/// Idle connections kept for reuse; more readers at once open more, closed when done.
pub const MAX_IDLE_CONNECTIONS: usize = 8;
/// Reads running at once by default (the API keeps some of them for cheap lookups).
pub const DEFAULT_READ_THREADS: usize = 4;
/// Point lookups running at once ([`ReadPool::run_lookup`]), on threads of their own.
pub const LOOKUP_THREADS: usize = 2;
/// Longest a read may run by default.
pub const DEFAULT_READ_TIME_LIMIT: Duration = Duration::from_secs(30);
/// Reads waiting for a thread at most; more are refused ([`StoreError::Busy`]).
const MAX_QUEUED_READS: usize = 1024;

/// How the pool runs reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Reads running at once (at least 1).
    pub max_threads: usize,
    /// A read running longer is interrupted ([`StoreError::ReadTimeLimit`]).
    pub time_limit: Duration,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_threads: DEFAULT_READ_THREADS,
            time_limit: DEFAULT_READ_TIME_LIMIT,
        }
    }
}

/// What the pool counts (shown under `store` in health and metrics).
#[derive(Debug, Default)]
pub struct ReadStats {
    /// Reads run to their end.
    pub reads: AtomicU64,
    /// Reads stopped (or never started) because nobody waited for them any more.
    pub reads_abandoned: AtomicU64,
    /// Reads interrupted at the time limit.
    pub reads_timed_out: AtomicU64,
    /// Reads refused because too many were waiting.
    pub reads_refused: AtomicU64,
}

impl Report for ReadStats {
    fn report(&self, out: &mut Readings) {
        const HELP: &str = "Database reads (API, peers): run, stopped because nobody waited \
                            for them any more, interrupted at the time limit, refused because \
                            too many were waiting.";
        out.counters_in(
            "store",
            HELP,
            &[
                ("sentrypeer_store_reads_total", &self.reads),
                (
                    "sentrypeer_store_reads_abandoned_total",
                    &self.reads_abandoned,
                ),
                (
                    "sentrypeer_store_reads_timed_out_total",
                    &self.reads_timed_out,
                ),
                ("sentrypeer_store_reads_refused_total", &self.reads_refused),
            ],
        );
    }
}

/// A small pool of read-only connections to one database file; clones share it.
#[derive(Debug, Clone)]
pub struct ReadPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    workers: workers::Workers,
    /// Threads for point lookups, at [`LOOKUP_NICENESS`].
    lookup_workers: workers::Workers,
    options: ReadOptions,
    stats: Arc<ReadStats>,
}

impl ReadPool {
    /// A pool for the database at `path`, with the default options. Nothing is opened yet: the
    /// first read opens a connection, once the writer has created and migrated the file.
    pub fn new(path: PathBuf) -> Self {
        Self::with_options(path, ReadOptions::default())
    }

    /// A pool for the database at `path`.
    pub fn with_options(path: PathBuf, options: ReadOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(Vec::new()),
                workers: workers::Workers::new(
                    options.max_threads.max(1),
                    MAX_QUEUED_READS,
                    READER_NICENESS,
                    "store-reader",
                ),
                lookup_workers: workers::Workers::new(
                    LOOKUP_THREADS,
                    MAX_QUEUED_READS,
                    LOOKUP_NICENESS,
                    "store-lookup",
                ),
                options,
                stats: Arc::default(),
            }),
        }
    }

    /// The pool's counters.
    pub fn stats(&self) -> Arc<ReadStats> {
        Arc::clone(&self.inner.stats)
    }

    /// Runs `read` with a connection, here and now, on the calling thread (no priority, no
    /// time limit): for blocking callers. Async callers use [`ReadPool::run`].
    ///
    /// # Errors
    /// When no connection can be opened (see [`open_read_only`]).
    pub fn with_connection<R>(&self, read: impl FnOnce(&Connection) -> R) -> Result<R, StoreError> {
        let connection = self.take()?;
        let result = read(&connection);
        self.give_back(connection);
        Ok(result)
    }

    /// Runs `query` with a connection on one of the pool's threads. Dropping the returned future
    /// stops the query (it is interrupted at its next step, or never started).
    ///
    /// # Errors
    /// The query's error, the connection's (see [`open_read_only`]),
    /// [`StoreError::ReadTimeLimit`] when it ran too long, [`StoreError::Busy`] when too many
    /// reads wait, or [`StoreError::Task`] when the query panicked.
    pub async fn run<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_on(&self.inner.workers, query).await
    }

    /// [`ReadPool::run`] for a point lookup (one key's row through its index): on threads of its
    /// own at [`LOOKUP_NICENESS`], so a lookup waits neither for the writer nor behind scans.
    /// Only for queries whose cost does not grow with the database.
    ///
    /// # Errors
    /// As [`ReadPool::run`].
    pub async fn run_lookup<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_on(&self.inner.lookup_workers, query).await
    }

    async fn run_on<T, F>(&self, workers: &workers::Workers, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let abandoned = Arc::new(AtomicBool::new(false));
        let mut guard = AbandonOnDrop(Some(Arc::clone(&abandoned)));
        let pool = self.clone();
        let job = workers::Job {
            abandoned,
            run: Box::new(move |abandoned: &Arc<AtomicBool>| {
                let _ = sender.send(pool.read_with_limit(query, abandoned));
            }),
        };
        if workers.submit(job).is_err() {
            self.inner
                .stats
                .reads_refused
                .fetch_add(1, Ordering::Relaxed);
            guard.disarm();
            return Err(StoreError::Busy);
        }
        let result = receiver
            .await
            .map_err(|_| StoreError::Task(String::from("the read panicked or was dropped")));
        guard.disarm();
        result?
    }

    /// Runs `query` on this (pool) thread, interrupted when `abandoned` is set or after the
    /// pool's time limit.
    fn read_with_limit<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError>,
        abandoned: &Arc<AtomicBool>,
    ) -> Result<T, StoreError> {
        let stats = &self.inner.stats;
        if abandoned.load(Ordering::Relaxed) {
            stats.reads_abandoned.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Abandoned);
        }
        let connection = self.take()?;
        let deadline = Instant::now() + self.inner.options.time_limit;
        let outcome = workers::with_interrupts(&connection, abandoned, deadline, query);
        match &outcome {
            Err(StoreError::Abandoned) => stats.reads_abandoned.fetch_add(1, Ordering::Relaxed),
            Err(StoreError::ReadTimeLimit) => stats.reads_timed_out.fetch_add(1, Ordering::Relaxed),
            _ => stats.reads.fetch_add(1, Ordering::Relaxed),
        };
        self.give_back(connection);
        outcome
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let reused = self.inner.idle.lock().ok().and_then(|mut idle| idle.pop());
        match reused {
            Some(connection) => Ok(connection),
            None => open_read_only(&self.inner.path),
        }
    }

    fn give_back(&self, connection: Connection) {
        if let Ok(mut idle) = self.inner.idle.lock()
            && idle.len() < MAX_IDLE_CONNECTIONS
        {
            idle.push(connection);
        }
    }

    /// Connections kept for reuse now.
    #[cfg(test)]
    pub(crate) fn idle_connections(&self) -> usize {
        self.inner
            .idle
            .lock()
            .map(|idle| idle.len())
            .unwrap_or_default()
    }

    /// Threads the pool runs now.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.inner.workers.threads()
    }
}

/// Marks a read abandoned when the future waiting for it is dropped before it finished.
struct AbandonOnDrop(Option<Arc<AtomicBool>>);

impl AbandonOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}
