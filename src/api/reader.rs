//! The API's side of the store's read pool ([`crate::store::ReadPool`]): query errors as
//! [`ApiError`], and response bodies streamed from a connection on the blocking pool.

use std::io;
use std::ops::ControlFlow;

use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::Connection;

use super::ApiError;
use super::body::{ChunkWriter, streamed};
use crate::store::query::{self, ListFilter, SeenRecord};
use crate::store::{ReadPool, StoreError};

/// Read-only database access for the handlers, on the pool `app` shares with the other readers.
#[derive(Debug, Clone)]
pub struct ApiReader {
    pool: ReadPool,
}

impl ApiReader {
    /// Reads through `pool`.
    pub fn new(pool: ReadPool) -> Self {
        Self { pool }
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
        self.pool.run(query).await.map_err(|error| match error {
            StoreError::Task(reason) => ApiError::Task(reason),
            other => ApiError::Store(other),
        })
    }

    /// A 200 response whose body `produce` streams from a connection on the blocking pool.
    pub(crate) fn stream<F>(&self, content_type: &'static str, produce: F) -> Response
    where
        F: FnOnce(&Connection, &mut ChunkWriter) -> io::Result<()> + Send + 'static,
    {
        let pool = self.pool.clone();
        streamed(StatusCode::OK, content_type, move |writer| {
            pool.with_connection(|connection| produce(connection, writer))
                .map_err(io::Error::other)?
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
