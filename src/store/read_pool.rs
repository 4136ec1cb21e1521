//! The one pool of read-only connections to the database, shared by every reader (the API, the
//! peer-to-peer node's catch-up pages and contribution counts). Reads run on tokio's blocking
//! pool, so they never hold up the runtime, and never touch the writer's connection (WAL lets
//! both run at once). Connections are opened when needed and a few are kept for reuse.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::{StoreError, open_read_only};

/// Idle connections kept for reuse; more readers at once open more, closed when done.
pub const MAX_IDLE_CONNECTIONS: usize = 8;

/// A small pool of read-only connections to one database file; clones share it.
#[derive(Debug, Clone)]
pub struct ReadPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// A pool for the database at `path`. Nothing is opened yet: the first read opens a
    /// connection, once the writer has created and migrated the file.
    pub fn new(path: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `read` with a connection, here and now: it blocks, so call it on a blocking thread
    /// (or use [`ReadPool::run`]).
    ///
    /// # Errors
    /// When no connection can be opened (see [`open_read_only`]).
    pub fn with_connection<R>(&self, read: impl FnOnce(&Connection) -> R) -> Result<R, StoreError> {
        let connection = self.take()?;
        let result = read(&connection);
        self.give_back(connection);
        Ok(result)
    }

    /// Runs `query` with a connection on the blocking pool.
    ///
    /// # Errors
    /// The query's error, the connection's (see [`open_read_only`]), or
    /// [`StoreError::Task`] when the blocking task could not finish.
    pub async fn run<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || pool.with_connection(query))
            .await
            .map_err(|error| StoreError::Task(error.to_string()))?
            .and_then(|result| result)
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
}
