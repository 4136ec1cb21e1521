//! Response bodies: the original's fixed strings, jansson-style pretty JSON (2-space indent,
//! `": "` separators, no trailing newline), and streamed bodies produced by a task.

use std::io;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::mpsc;

/// `Content-Type` of every JSON body, as the original sends it (no charset parameter).
pub(crate) const JSON: &str = "application/json";
/// `Content-Type` of the original's HTML bodies (no charset parameter, as it sends them).
pub(crate) const HTML: &str = "text/html";
/// `Content-Type` of the plain-text feeds.
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
/// Bytes gathered before a streamed chunk is sent.
const CHUNK_BYTES: usize = 32 * 1024;
/// Chunks waiting for a slow client before the producer waits (so a client that does not read
/// holds at most about this many chunks, and the write timeout then ends it).
const CHUNKS_IN_FLIGHT: usize = 2;

/// A response with a fixed body and content type.
pub(crate) fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut response = (status, body.into()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A fixed JSON text (the original's error and message bodies).
pub(crate) fn fixed_json(status: StatusCode, text: &'static str) -> Response {
    with_type(status, JSON, text)
}

/// A value as pretty JSON, formatted as the original's jansson `JSON_INDENT(2)`.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => with_type(status, JSON, bytes),
        Err(error) => {
            tracing::error!(%error, "cannot serialise a response");
            fixed_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error": "Internal error."}"#,
            )
        }
    }
}

/// A JSON string literal (quotes and escapes included) for hand-built streamed JSON.
pub(crate) fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\""))
}

/// The sending end of a streamed body: text gathered into chunks of [`CHUNK_BYTES`], at most
/// [`CHUNKS_IN_FLIGHT`] of them waiting for the client. Sending waits (without holding a thread,
/// a database connection or a read transaction) while the client is slow, and fails once it is
/// gone, which tells the producer to stop.
pub(crate) struct ChunkSender {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
}

/// The client went away: stop producing.
#[derive(Debug)]
pub(crate) struct ClientGone;

impl ChunkSender {
    /// Appends text, sending a chunk when enough has gathered.
    ///
    /// # Errors
    /// [`ClientGone`].
    pub(crate) async fn write(&mut self, text: &str) -> Result<(), ClientGone> {
        self.buffer.extend_from_slice(text.as_bytes());
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends what has gathered.
    ///
    /// # Errors
    /// [`ClientGone`].
    pub(crate) async fn flush(&mut self) -> Result<(), ClientGone> {
        match self.take_chunk() {
            Some(chunk) => self.sender.send(Ok(chunk)).await.map_err(|_| ClientGone),
            None => Ok(()),
        }
    }

    /// What has gathered, as one chunk (`None` when nothing has).
    fn take_chunk(&mut self) -> Option<Bytes> {
        (!self.buffer.is_empty()).then(|| {
            Bytes::from(std::mem::replace(
                &mut self.buffer,
                Vec::with_capacity(CHUNK_BYTES),
            ))
        })
    }

    /// [`ChunkSender::write`] from a blocking thread.
    ///
    /// # Errors
    /// [`ClientGone`].
    pub(crate) fn write_blocking(&mut self, text: &str) -> Result<(), ClientGone> {
        self.buffer.extend_from_slice(text.as_bytes());
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush_blocking()?;
        }
        Ok(())
    }

    /// [`ChunkSender::flush`] from a blocking thread.
    fn flush_blocking(&mut self) -> Result<(), ClientGone> {
        match self.take_chunk() {
            Some(chunk) => self.sender.blocking_send(Ok(chunk)).map_err(|_| ClientGone),
            None => Ok(()),
        }
    }

    /// Resolves when the client has gone away (the body was dropped).
    pub(crate) async fn gone(&self) {
        self.sender.closed().await;
    }

    /// Ends the body with an error: the client sees a broken response, never a truncated one
    /// that looks complete.
    pub(crate) async fn fail(self, error: io::Error) {
        let _ = self.sender.send(Err(error)).await;
    }
}

/// A streamed 200 response whose body `produce` sends, on a task of its own, through a
/// [`ChunkSender`].
pub(crate) fn streamed<F, P>(content_type: &'static str, produce: P) -> Response
where
    P: FnOnce(ChunkSender) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let chunks = ChunkSender {
        buffer: Vec::with_capacity(CHUNK_BYTES),
        sender,
    };
    tokio::spawn(produce(chunks));
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    with_type(StatusCode::OK, content_type, Body::from_stream(stream))
}

/// A streamed 200 response whose body `produce` writes from the blocking pool, through
/// [`ChunkSender::write_blocking`]: for a walk over the in-memory blocklist, which calls back
/// synchronously and must not hold a runtime thread while a slow client reads.
pub(crate) fn streamed_blocking<P>(content_type: &'static str, produce: P) -> Response
where
    P: FnOnce(&mut ChunkSender) -> Result<(), ClientGone> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let mut chunks = ChunkSender {
        buffer: Vec::with_capacity(CHUNK_BYTES),
        sender,
    };
    tokio::task::spawn_blocking(move || {
        // An error here only means the client went away: nothing is left to tell it.
        let _ = produce(&mut chunks).and_then(|()| chunks.flush_blocking());
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    with_type(StatusCode::OK, content_type, Body::from_stream(stream))
}
