//! Read-only database connections for the API, used on tokio's blocking pool so queries never
//! hold up the runtime, and never touch the writer's connection (WAL lets both run at once).

use std::io;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::Connection;

use super::ApiError;
use super::body::{ChunkWriter, streamed};
use crate::store::query::{self, ListFilter, SeenRecord};
use crate::store::{self, StoreError};

/// Idle connections kept for reuse.
const MAX_IDLE_CONNECTIONS: usize = 8;

/// A small pool of read-only connections to one database file.
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
    /// A pool for the database at `path` (which the writer has already created and migrated).
    pub fn new(path: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let reused = self.inner.idle.lock().ok().and_then(|mut idle| idle.pop());
        match reused {
            Some(connection) => Ok(connection),
            None => store::open_read_only(&self.inner.path),
        }
    }

    fn give_back(&self, connection: Connection) {
        if let Ok(mut idle) = self.inner.idle.lock()
            && idle.len() < MAX_IDLE_CONNECTIONS
        {
            idle.push(connection);
        }
    }

    /// Runs `query` with a connection on the blocking pool.
    ///
    /// # Errors
    /// The query's error, or [`ApiError::Task`] when the blocking task could not finish.
    pub async fn run<T, F>(&self, query: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let connection = pool.take()?;
            let result = query(&connection);
            pool.give_back(connection);
            result
        })
        .await
        .map_err(|error| ApiError::Task(error.to_string()))?
        .map_err(ApiError::from)
    }

    /// A 200 response whose body `produce` streams from a connection on the blocking pool.
    pub(crate) fn stream<F>(&self, content_type: &'static str, produce: F) -> Response
    where
        F: FnOnce(&Connection, &mut ChunkWriter) -> io::Result<()> + Send + 'static,
    {
        let pool = self.clone();
        streamed(StatusCode::OK, content_type, move |writer| {
            let connection = pool.take().map_err(io::Error::other)?;
            let result = produce(&connection, writer);
            pool.give_back(connection);
            result
        })
    }
}

/// Visits every record of a table matching a filter (no cursor, no limit), with a
/// `&mut dyn FnMut` so both tables fit one function pointer type.
pub(crate) type EachRecord = fn(
    &Connection,
    &ListFilter,
    &mut dyn FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError>;

/// Every source IP matching the filter, most recently seen first.
pub(crate) const EACH_IP: EachRecord =
    |conn, filter, visit| query::each_ip(conn, filter, None, None, visit);

/// Every called number matching the filter, most recently seen first.
pub(crate) const EACH_NUMBER: EachRecord =
    |conn, filter, visit| query::each_number(conn, filter, None, None, visit);

/// Writes every record `each` visits, rendered by `render(record, index)`, stopping at the first
/// write error (the client went away). Returns how many were written.
///
/// # Errors
/// The query's error, or the write error.
pub(crate) fn write_records<E>(
    out: &mut ChunkWriter,
    each: E,
    mut render: impl FnMut(&SeenRecord, usize) -> String,
) -> io::Result<usize>
where
    E: FnOnce(&mut dyn FnMut(SeenRecord) -> ControlFlow<()>) -> Result<(), StoreError>,
{
    let mut written = 0;
    let mut failure = None;
    each(&mut |record| match out.write(&render(&record, written)) {
        Ok(()) => {
            written += 1;
            ControlFlow::Continue(())
        }
        Err(error) => {
            failure = Some(error);
            ControlFlow::Break(())
        }
    })
    .map_err(io::Error::other)?;
    match failure {
        Some(error) => Err(error),
        None => Ok(written),
    }
}
