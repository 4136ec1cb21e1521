//! Response bodies: the original's fixed strings, jansson-style pretty JSON (2-space indent,
//! `": "` separators, no trailing newline), and streamed bodies produced by a blocking query.

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
/// Chunks waiting for a slow client before the producer blocks.
const CHUNKS_IN_FLIGHT: usize = 4;

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

/// Writes a streamed body in chunks from a blocking task. Writing fails once the client is gone,
/// which tells the producer to stop.
pub(crate) struct ChunkWriter {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
}

impl ChunkWriter {
    /// Appends text, sending a chunk when enough has gathered.
    ///
    /// # Errors
    /// When the client has gone away.
    pub(crate) fn write(&mut self, text: &str) -> io::Result<()> {
        self.buffer.extend_from_slice(text.as_bytes());
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }

    /// Ends the body with an error: the client sees a broken response, never a truncated one
    /// that looks complete.
    fn fail(self, error: io::Error) {
        let _ = self.sender.blocking_send(Err(error));
    }
}

/// A streamed body: `produce` runs on the blocking pool, writing through a [`ChunkWriter`].
pub(crate) fn streamed<F>(status: StatusCode, content_type: &'static str, produce: F) -> Response
where
    F: FnOnce(&mut ChunkWriter) -> io::Result<()> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter {
            buffer: Vec::with_capacity(CHUNK_BYTES),
            sender,
        };
        match produce(&mut writer).and_then(|()| writer.flush()) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {}
            Err(error) => {
                tracing::error!(%error, "streamed response failed");
                writer.fail(error);
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    with_type(status, content_type, Body::from_stream(stream))
}
