//! A Server-Sent Events client of `/api/v1/stream` over a plain TCP socket (what `curl -N`
//! does): the response head, then the messages as they come, read up to a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::daemon::WAIT;

/// One message of the stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// Its `id`, when it has one.
    pub(crate) id: Option<u64>,
    /// Its `event` (`open`, `reset`, `event`, `decision`, `missed`).
    pub(crate) event: String,
    /// Its `data`, parsed.
    pub(crate) data: serde_json::Value,
}

/// An open stream.
pub(crate) struct SseClient {
    socket: TcpStream,
    /// The status code of the response.
    pub(crate) status: u16,
    /// The response head, lower-cased.
    pub(crate) head: String,
    /// Body bytes read so far (chunked transfer coding removed).
    body: Vec<u8>,
    /// Raw bytes not yet de-chunked.
    raw: Vec<u8>,
    /// Whether the body is chunked; `None` until the head is read.
    chunked: Option<bool>,
}

impl SseClient {
    /// `GET path` on `api` with `headers` (`Name: value`), reading the response head.
    pub(crate) fn open(api: SocketAddr, path: &str, headers: &[&str]) -> Self {
        Self::open_with(
            TcpStream::connect(api).expect("connect to the API"),
            path,
            headers,
        )
    }

    /// As [`SseClient::open`], over a socket the caller connected (e.g. with a small receive
    /// buffer).
    pub(crate) fn open_with(mut socket: TcpStream, path: &str, headers: &[&str]) -> Self {
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: sentrypeer\r\nAccept: text/event-stream\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        socket.write_all(request.as_bytes()).expect("send request");
        let mut client = Self {
            socket,
            status: 0,
            head: String::new(),
            body: Vec::new(),
            raw: Vec::new(),
            chunked: None,
        };
        client.read_head();
        client
    }

    fn read_head(&mut self) {
        let deadline = Instant::now() + WAIT;
        while !self.raw.windows(4).any(|w| w == b"\r\n\r\n") {
            assert!(self.read_some(deadline), "no response head");
        }
        let end = self
            .raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head")
            + 4;
        self.head = String::from_utf8_lossy(&self.raw[..end]).to_ascii_lowercase();
        self.raw.drain(..end);
        self.status = self
            .head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        self.chunked = Some(self.head.contains("transfer-encoding: chunked"));
        self.dechunk();
    }

    /// Reads once (up to `deadline`); false on end of stream, error or deadline.
    fn read_some(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        self.socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("read timeout");
        let mut buffer = [0u8; 16 * 1024];
        match self.socket.read(&mut buffer) {
            Ok(0) => false,
            Ok(n) => {
                self.raw.extend_from_slice(&buffer[..n]);
                self.dechunk();
                true
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => true,
            Err(_) => false,
        }
    }

    /// Moves whole chunks (or, unchunked, everything) from `raw` to `body` once the head is
    /// read.
    fn dechunk(&mut self) {
        match self.chunked {
            None => return,
            Some(false) => {
                self.body.append(&mut self.raw);
                return;
            }
            Some(true) => {}
        }
        loop {
            let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size = std::str::from_utf8(&self.raw[..line_end])
                .ok()
                .and_then(|text| usize::from_str_radix(text.trim(), 16).ok())
                .expect("chunk size");
            let total = line_end + 2 + size + 2;
            if self.raw.len() < total {
                return;
            }
            self.body
                .extend_from_slice(&self.raw[line_end + 2..line_end + 2 + size]);
            self.raw.drain(..total);
        }
    }

    /// Every whole message so far (comments and `retry` left out).
    pub(crate) fn messages(&self) -> Vec<Message> {
        let text = String::from_utf8_lossy(&self.body);
        let whole = &text[..text.rfind("\n\n").map_or(0, |end| end + 2)];
        whole
            .split("\n\n")
            .filter_map(|block| {
                let mut message = Message {
                    id: None,
                    event: String::new(),
                    data: serde_json::Value::Null,
                };
                for line in block.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        message.id = id.parse().ok();
                    } else if let Some(event) = line.strip_prefix("event: ") {
                        message.event = event.to_owned();
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        message.data = serde_json::from_str(data).expect("JSON data");
                    }
                }
                (!message.event.is_empty()).then_some(message)
            })
            .collect()
    }

    /// Reads until `done` holds for the messages so far; fails the test after [`WAIT`].
    pub(crate) fn read_until(
        &mut self,
        what: &str,
        done: impl Fn(&[Message]) -> bool,
    ) -> Vec<Message> {
        self.read_until_within(WAIT, what, done)
    }

    /// [`SseClient::read_until`], failing the test after `wait`.
    pub(crate) fn read_until_within(
        &mut self,
        wait: Duration,
        what: &str,
        done: impl Fn(&[Message]) -> bool,
    ) -> Vec<Message> {
        let deadline = Instant::now() + wait;
        loop {
            let messages = self.messages();
            if done(&messages) {
                return messages;
            }
            assert!(
                self.read_some(deadline),
                "stream ended or timed out waiting for {what}; so far:\n{}",
                String::from_utf8_lossy(&self.body)
            );
        }
    }

    /// The first message (`open` or `reset`).
    pub(crate) fn opening(&mut self) -> Message {
        self.read_until("the opening message", |messages| !messages.is_empty())[0].clone()
    }

    /// Reads and throws away until the server closes the connection; false if it is still
    /// open after [`WAIT`].
    pub(crate) fn closed_by_server(mut self) -> bool {
        let deadline = Instant::now() + WAIT;
        loop {
            self.body.clear();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.socket
                .set_read_timeout(Some(left))
                .expect("read timeout");
            let mut buffer = [0u8; 64 * 1024];
            match self.socket.read(&mut buffer) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    return matches!(
                        error.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    );
                }
            }
        }
    }
}

/// The messages of one kind.
pub(crate) fn of_kind(messages: &[Message], kind: &str) -> Vec<Message> {
    messages
        .iter()
        .filter(|message| message.event == kind)
        .cloned()
        .collect()
}
