//! The API's side of the store's read pool ([`crate::store::ReadPool`]): query errors as
//! [`ApiError`], a small limit on expensive queries at once, and long lists streamed a page at a
//! time.
//!
//! Expensive queries (statistics, raw events, value counts, pages of lists and feeds, the
//! CrowdSec stream) run at most [`EXPENSIVE_QUERIES`] at a time, so point lookups always find a
//! read thread. A list is streamed as pages of [`PAGE_RECORDS`] records, each read in its own
//! short query: no read transaction, connection or thread is held while a slow client reads, so
//! the WAL can be checkpointed, and a client that goes away stops the stream at once.
//!
//! Entries are listed as they were when the response started (newest first), then those seen
//! while it was being sent, which may repeat an entry already listed; none seen before the
//! request is left out.

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::response::Response;
use jiff::Timestamp;
use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::ApiError;
use super::body::{ChunkSender, ClientGone, streamed};
use crate::event::format_timestamp;
use crate::store::query::{self, Cursor, ListFilter, OriginFilter, SeenRecord};
use crate::store::{ReadPool, StoreError};

/// Expensive queries running at once (the read pool runs more threads, so lookups still run).
pub(crate) const EXPENSIVE_QUERIES: usize = 2;
/// Records read per page of a streamed list.
pub(crate) const PAGE_RECORDS: usize = 500;

/// Read-only database access for the handlers, on the pool `app` shares with the other readers.
#[derive(Debug, Clone)]
pub struct ApiReader {
    pool: ReadPool,
    expensive: Arc<Semaphore>,
}

impl ApiReader {
    /// Reads through `pool`.
    pub fn new(pool: ReadPool) -> Self {
        Self {
            pool,
            expensive: Arc::new(Semaphore::new(EXPENSIVE_QUERIES)),
        }
    }

    /// Runs a cheap `query` (a point lookup, a count) on the read pool.
    ///
    /// # Errors
    /// The query's error as an [`ApiError`].
    pub async fn run<T, F>(&self, query: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.pool.run(query).await.map_err(ApiError::from_read)
    }

    /// Runs `query`, one key as seen through `origin` (`query::ip_seen`, `query::number_seen`):
    /// on the pool's lookup threads, at the process's priority (see `store::read_pool`), when it
    /// reads one row ([`query::seen_reads_one_row`]); with the other reads otherwise.
    ///
    /// # Errors
    /// The query's error as an [`ApiError`].
    pub async fn run_key_lookup<T, F>(&self, origin: OriginFilter, query: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if !query::seen_reads_one_row(origin) {
            return self.run(query).await;
        }
        self.pool
            .run_lookup(query)
            .await
            .map_err(ApiError::from_read)
    }

    /// Runs an expensive `query` (a scan) once one of the few places for them is free. Waiting
    /// ends with the request (its time limit, or its client going away), and so does the query.
    ///
    /// # Errors
    /// The query's error as an [`ApiError`].
    pub async fn run_expensive<T, F>(&self, query: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _place = self.expensive.acquire().await.map_err(|_| ApiError::Busy)?;
        self.run(query).await
    }

    /// A 200 response streaming `list`.
    pub(crate) fn stream(&self, content_type: &'static str, list: RecordList) -> Response {
        let reader = self.clone();
        streamed(content_type, move |mut out| async move {
            match reader.send_list(list, &mut out).await {
                Ok(()) | Err(Stop::ClientGone) => {}
                Err(Stop::Failed(error)) => {
                    tracing::error!(%error, "streamed response failed");
                    out.fail(std::io::Error::other("the list could not be read"))
                        .await;
                }
            }
        })
    }

    async fn send_list(&self, list: RecordList, out: &mut ChunkSender) -> Result<(), Stop> {
        let RecordList {
            each,
            filter,
            mut format,
        } = list;
        out.write(&format.head()).await?;
        let as_of = format_timestamp(Timestamp::now());
        let start = Cursor {
            seen_last: as_of.clone(),
            key: String::new(),
        };
        let mut written = self
            .send_pages(each, &filter, Some(start), format.as_mut(), out)
            .await?;
        let mut recent = filter;
        recent.since = Some(recent.since.map_or(as_of.clone(), |since| since.max(as_of)));
        written += self
            .send_pages(each, &recent, None, format.as_mut(), out)
            .await?;
        out.write(&format.finish(written)).await?;
        out.flush().await?;
        Ok(())
    }

    /// Sends every record `each` lists for `filter` after `after`, a page per query; returns
    /// how many.
    async fn send_pages(
        &self,
        each: EachRecord,
        filter: &ListFilter,
        mut after: Option<Cursor>,
        format: &mut dyn ListFormat,
        out: &mut ChunkSender,
    ) -> Result<usize, Stop> {
        let mut written = 0;
        loop {
            let page_filter = filter.clone();
            let cursor = after.clone();
            let read = self.run_expensive(move |conn| {
                let mut records = Vec::with_capacity(PAGE_RECORDS);
                each(conn, &page_filter, cursor.as_ref(), &mut |record| {
                    records.push(record);
                    ControlFlow::Continue(())
                })?;
                Ok(records)
            });
            let page = tokio::select! {
                () = out.gone() => return Err(Stop::ClientGone),
                page = read => page.map_err(|error| Stop::Failed(error.to_string()))?,
            };
            for record in &page {
                out.write(&format.record(record)).await?;
            }
            written += page.len();
            if page.len() < PAGE_RECORDS {
                return Ok(written);
            }
            after = page.last().map(Cursor::after);
        }
    }
}

/// Why a stream stopped early.
enum Stop {
    ClientGone,
    Failed(String),
}

impl From<ClientGone> for Stop {
    fn from(_: ClientGone) -> Self {
        Self::ClientGone
    }
}

/// How a streamed list is written: text before the records, each record (with whatever goes
/// before it), text after them.
pub(crate) trait ListFormat: Send {
    /// Text before the records.
    fn head(&mut self) -> String;
    /// One record's text.
    fn record(&mut self, record: &SeenRecord) -> String;
    /// Text after the records, given how many there were.
    fn finish(&mut self, written: usize) -> String;
}

/// A list streamed by [`ApiReader::stream`].
pub(crate) struct RecordList {
    /// Which records.
    pub(crate) each: EachRecord,
    /// Which of them.
    pub(crate) filter: ListFilter,
    /// How they are written.
    pub(crate) format: Box<dyn ListFormat>,
}

/// Visits one page ([`PAGE_RECORDS`]) of the records of a table matching a filter, after a
/// cursor, with a `&mut dyn FnMut` so both tables fit one function pointer type.
pub(crate) type EachRecord = fn(
    &Connection,
    &ListFilter,
    Option<&Cursor>,
    &mut dyn FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError>;

/// A page of source IPs matching the filter, most recently seen first.
pub(crate) const EACH_IP: EachRecord =
    |conn, filter, after, visit| query::each_ip(conn, filter, after, Some(PAGE_RECORDS), visit);

/// A page of called numbers matching the filter, most recently seen first.
pub(crate) const EACH_NUMBER: EachRecord =
    |conn, filter, after, visit| query::each_number(conn, filter, after, Some(PAGE_RECORDS), visit);

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_name(_: &Connection) -> Result<Option<String>, StoreError> {
        Ok(std::thread::current().name().map(String::from))
    }

    #[tokio::test]
    async fn key_lookups_take_the_lookup_threads_but_the_opendht_view_which_scans() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sentrypeer.db");
        drop(crate::store::open(&path).expect("created and migrated"));
        let reader = ApiReader::new(ReadPool::new(path));
        for (origin, thread) in [
            (OriginFilter::default(), "store-lookup"),
            (OriginFilter::Local, "store-lookup"),
            (OriginFilter::OpenDht, "store-reader"),
        ] {
            let ran_on = reader
                .run_key_lookup(origin, thread_name)
                .await
                .expect("lookup");
            assert_eq!(ran_on.as_deref(), Some(thread), "{origin:?}");
        }
    }
}
