//! The read pool's threads: a bounded queue of reads, threads started when a read finds none
//! idle (up to the pool's maximum) and ended after [`IDLE_EXIT`] without work, each at its
//! workers' niceness (see `store::read_pool`); and the progress handler that interrupts a read
//! whose caller stopped waiting or whose time is up.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::store::StoreError;

/// A thread with no read to run for this long ends (the next read starts one again).
const IDLE_EXIT: Duration = Duration::from_secs(60);
/// SQLite virtual-machine steps between two looks at whether a read must stop (about a
/// millisecond of work, a few nanoseconds to look).
const PROGRESS_STEPS: i32 = 10_000;

/// A read as a pool thread runs it, handed the flag that says its caller stopped waiting.
pub(super) type Read = Box<dyn FnOnce(&Arc<AtomicBool>) + Send>;

/// One read: what runs on a pool thread, and whether its caller stopped waiting.
pub(super) struct Job {
    /// Set when the caller stopped waiting.
    pub(super) abandoned: Arc<AtomicBool>,
    /// The read; it is handed the flag above.
    pub(super) run: Read,
}

/// The queue and the threads that serve it.
#[derive(Debug)]
pub(super) struct Workers {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    max_threads: usize,
    max_queued: usize,
    /// Nice steps each thread runs below the rest of the process.
    niceness: i32,
    /// Each thread's name.
    name: &'static str,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("queued", &self.queue.len())
            .field("threads", &self.threads)
            .field("idle", &self.idle)
            .finish()
    }
}

impl Workers {
    /// At most `max_threads` threads and `max_queued` waiting reads.
    pub(super) fn new(
        max_threads: usize,
        max_queued: usize,
        niceness: i32,
        name: &'static str,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                ready: Condvar::new(),
                max_threads,
                max_queued,
                niceness,
                name,
            }),
        }
    }

    /// Queues `job`, starting a thread if none is idle and the pool may grow.
    ///
    /// # Errors
    /// The queue is full, or no thread runs and none can be started.
    pub(super) fn submit(&self, job: Job) -> Result<(), ()> {
        let mut state = self.shared.lock();
        if state.queue.len() >= self.shared.max_queued {
            return Err(());
        }
        state.queue.push_back(job);
        if state.idle == 0 && state.threads < self.shared.max_threads {
            let shared = Arc::clone(&self.shared);
            let started = std::thread::Builder::new()
                .name(self.shared.name.into())
                .spawn(move || work(&shared));
            match started {
                Ok(_) => state.threads += 1,
                Err(error) => {
                    tracing::warn!(%error, "cannot start a database read thread");
                    if state.threads == 0 {
                        state.queue.pop_back();
                        return Err(());
                    }
                }
            }
        }
        drop(state);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Threads running now.
    #[cfg(test)]
    pub(super) fn threads(&self) -> usize {
        self.shared.lock().threads
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next read, or `None` once this thread has waited [`IDLE_EXIT`] for one (it is then
    /// no longer counted).
    fn next_job(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                return Some(job);
            }
            state.idle += 1;
            let (next, wait) = self
                .ready
                .wait_timeout(state, IDLE_EXIT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            state.idle -= 1;
            if wait.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return None;
            }
        }
    }
}

/// A pool thread: at its workers' priority, runs reads until idle too long. A read that panics
/// loses its connection and its answer (its caller gets an error), not the thread.
fn work(shared: &Shared) {
    crate::thread_priority::lower_current_thread(shared.niceness);
    while let Some(job) = shared.next_job() {
        let Job { abandoned, run } = job;
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| run(&abandoned)));
    }
}

/// Runs `query` on `connection`, interrupted (at its next [`PROGRESS_STEPS`] steps) once
/// `abandoned` is set or `deadline` has passed, which the error then says
/// ([`StoreError::Abandoned`], [`StoreError::ReadTimeLimit`]).
pub(super) fn with_interrupts<T>(
    connection: &Connection,
    abandoned: &Arc<AtomicBool>,
    deadline: Instant,
    query: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let flag = Arc::clone(abandoned);
    let stop = move || flag.load(Ordering::Relaxed) || Instant::now() >= deadline;
    if let Err(error) = connection.progress_handler(PROGRESS_STEPS, Some(stop)) {
        tracing::debug!(%error, "cannot set the read's progress handler");
    }
    let result = query(connection);
    let _ = connection.progress_handler(0, None::<fn() -> bool>);
    match result {
        Err(_) if abandoned.load(Ordering::Relaxed) => Err(StoreError::Abandoned),
        Err(_) if Instant::now() >= deadline => Err(StoreError::ReadTimeLimit),
        other => other,
    }
}
