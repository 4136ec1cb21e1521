//! A client of OpenDHT's REST proxy (`dhtnode --proxyserver PORT`, routes of 2.4.12's
//! `src/dht_proxy_server.cpp`): `GET /key/{key}/listen` streams the key's values as JSON lines
//! (`{"data": base64, "id": ..., "type": 0}`, `"expired": true` when one expires), then each new
//! one; `GET /key/{key}` answers the values stored now; `POST /key/{key}` with `{"data": base64}`
//! puts one. A key that is not 40 hex digits is hashed by the proxy (SHA-1 of its text, as
//! `InfoHash::get`), so `bad_actors` is the original's InfoHash.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::BridgeError;
use super::value::MAX_VALUE_BYTES;

/// Longest line of the listen stream kept: a value at OpenDHT's cap, base64 (4/3) and its
/// envelope.
pub const MAX_LINE_BYTES: usize = MAX_VALUE_BYTES / 3 * 4 + 1024;

/// The proxy at one base URL.
#[derive(Debug, Clone)]
pub struct Proxy {
    client: reqwest::Client,
    base: String,
    request_timeout: Duration,
}

/// One line of the proxy's answers.
#[derive(Debug, Deserialize)]
pub struct ProxyValue {
    /// The value's bytes, base64.
    #[serde(default)]
    pub data: String,
    /// Set when the DHT tells that this value expired.
    #[serde(default)]
    pub expired: bool,
}

impl ProxyValue {
    /// The value's bytes, when `data` is base64 of at most [`MAX_VALUE_BYTES`].
    pub fn bytes(&self) -> Option<Vec<u8>> {
        if self.data.len() > MAX_LINE_BYTES {
            return None;
        }
        STANDARD.decode(&self.data).ok()
    }
}

impl Proxy {
    /// A client of the proxy at `base` (`http://127.0.0.1:8000`); each request but the listen
    /// stream may take `request_timeout`.
    ///
    /// # Errors
    /// [`BridgeError::Client`] when the HTTP client cannot be built.
    pub fn new(base: &str, request_timeout: Duration) -> Result<Self, BridgeError> {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("SentryPeer/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| BridgeError::Client(error.to_string()))?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            request_timeout,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Opens the listen stream of `key`.
    ///
    /// # Errors
    /// The proxy cannot be reached or answers other than 200.
    pub async fn listen(&self, key: &str) -> Result<reqwest::Response, BridgeError> {
        let response = self
            .client
            .get(format!("{}/key/{key}/listen", self.base))
            .send()
            .await
            .map_err(request_failed)?;
        ok(response)
    }

    /// The values stored under `key` now.
    ///
    /// # Errors
    /// The proxy cannot be reached, answers other than 200, or not within the timeout.
    pub async fn get(&self, key: &str) -> Result<Vec<ProxyValue>, BridgeError> {
        let response = self
            .client
            .get(format!("{}/key/{key}", self.base))
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(request_failed)?;
        let body = ok(response)?.bytes().await.map_err(request_failed)?;
        Ok(body
            .split(|byte| *byte == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect())
    }

    /// Puts `value` under `key`.
    ///
    /// # Errors
    /// The proxy cannot be reached, refuses the put, or does not answer within the timeout.
    pub async fn put(&self, key: &str, value: &[u8]) -> Result<(), BridgeError> {
        let body = serde_json::json!({ "data": STANDARD.encode(value) });
        let response = self
            .client
            .post(format!("{}/key/{key}", self.base))
            .timeout(self.request_timeout)
            .json(&body)
            .send()
            .await
            .map_err(request_failed)?;
        ok(response).map(drop)
    }
}

fn request_failed(error: reqwest::Error) -> BridgeError {
    BridgeError::Request(error.without_url().to_string())
}

fn ok(response: reqwest::Response) -> Result<reqwest::Response, BridgeError> {
    let status = response.status();
    if status.is_success() {
        Ok(response)
    } else {
        Err(BridgeError::Status(status.as_u16()))
    }
}

/// Splits the listen stream into lines, keeping at most [`MAX_LINE_BYTES`] of one: a longer
/// line is skipped up to its end and reported once as too long.
#[derive(Debug, Default)]
pub struct Lines {
    buffer: Vec<u8>,
    skipping: bool,
}

/// One piece of the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, without its newline.
    Whole(Vec<u8>),
    /// A line over the cap was dropped.
    TooLong,
}

impl Lines {
    /// Feeds `chunk`; calls `each` with every line it completes.
    pub fn feed(&mut self, mut chunk: &[u8], mut each: impl FnMut(Line)) {
        while !chunk.is_empty() {
            let end = memchr::memchr(b'\n', chunk);
            let (part, rest) = match end {
                Some(at) => (&chunk[..at], &chunk[at + 1..]),
                None => (chunk, &[][..]),
            };
            chunk = rest;
            if !self.skipping {
                if self.buffer.len() + part.len() > MAX_LINE_BYTES {
                    self.buffer.clear();
                    self.skipping = true;
                    each(Line::TooLong);
                } else {
                    self.buffer.extend_from_slice(part);
                }
            }
            if end.is_some() {
                if !self.skipping && !self.buffer.is_empty() {
                    each(Line::Whole(std::mem::take(&mut self.buffer)));
                }
                self.skipping = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_across_chunks_and_long_ones_skipped_once() {
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        lines.feed(b"{\"a\"", |line| seen.push(line));
        lines.feed(b":1}\n\n{\"b\":2}\n", |line| seen.push(line));
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        lines.feed(&long, |line| seen.push(line));
        lines.feed(&long, |line| seen.push(line));
        lines.feed(b"\n{}\n", |line| seen.push(line));
        assert_eq!(
            seen,
            [
                Line::Whole(b"{\"a\":1}".to_vec()),
                Line::Whole(b"{\"b\":2}".to_vec()),
                Line::TooLong,
                Line::Whole(b"{}".to_vec()),
            ]
        );
    }
}
