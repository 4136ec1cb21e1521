//! Webhook tests against a local axum server on 127.0.0.1:0 that records every request and
//! answers from a script. Timing is checked on tokio's paused clock: back-offs and waits elapse
//! instantly, and requests are stamped with the virtual time they arrived.

mod delivery;
mod oauth;
mod shutdown;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::fmt::MakeWriter;

use super::{RetryPolicy, WebhookOptions, WebhookStats, start};
use crate::event::BadActor;
use crate::event::test_support::EventBuilder;
use crate::telemetry::Count;

/// Longest any wait in a test may take (virtual time on the paused clock).
const WAIT: Duration = Duration::from_secs(4 * 3600);

/// One request the server received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    /// When it arrived (virtual time when the clock is paused).
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The `called_number` of each event in the body (object or array).
    fn numbers(&self) -> Vec<String> {
        let json = self.json();
        let events = match json {
            serde_json::Value::Array(events) => events,
            single => vec![single],
        };
        events
            .iter()
            .map(|event| event["called_number"].as_str().expect("number").to_owned())
            .collect()
    }
}

/// The server's answer: a response, or never answering.
enum Reply {
    Now(Response),
    Hang,
}

fn reply(status: u16, body: &'static str) -> Reply {
    Reply::Now((StatusCode::from_u16(status).expect("status"), body).into_response())
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct ServerState {
    script: Box<Script>,
    counts: Mutex<HashMap<String, usize>>,
    seen: mpsc::UnboundedSender<Seen>,
}

/// A recording HTTP server; `script(request, n)` answers the `n`th request (from 0) on a path.
struct TestServer {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl TestServer {
    async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let (sender, seen) = mpsc::unbounded_channel();
        let state = Arc::new(ServerState {
            script: Box::new(script),
            counts: Mutex::new(HashMap::new()),
            seen: sender,
        });
        let router = Router::new().fallback(record).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind test server");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { addr, seen }
    }

    fn url(&self, path: &str) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://{}{path}", self.addr)).expect("URL")
    }

    /// The next request received.
    async fn next(&mut self) -> Seen {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .expect("a request in time")
            .expect("server running")
    }

    /// Every request received so far, without waiting.
    fn received(&mut self) -> Vec<Seen> {
        std::iter::from_fn(|| self.seen.try_recv().ok()).collect()
    }
}

async fn record(
    State(state): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method,
        path: uri.path().to_owned(),
        headers,
        body,
        at: Instant::now(),
    };
    let n = {
        let mut counts = state.counts.lock().expect("counts");
        let count = counts.entry(seen.path.clone()).or_insert(0);
        *count += 1;
        *count - 1
    };
    let answer = (state.script)(&seen, n);
    let _ = state.seen.send(seen);
    match answer {
        Reply::Now(response) => response,
        Reply::Hang => std::future::pending().await,
    }
}

/// A closed loopback port: connecting is refused.
fn dead_url() -> reqwest::Url {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    reqwest::Url::parse(&format!("http://{addr}/api/events")).expect("URL")
}

fn options(url: reqwest::Url) -> WebhookOptions {
    WebhookOptions {
        url,
        oauth2: None,
        batch: 1,
        skip_empty: false,
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy::default(),
        shutdown_grace: Duration::from_secs(5),
    }
}

/// A local UDP INVITE calling `n`.
fn event(n: usize) -> BadActor {
    EventBuilder::new().number(&n.to_string()).build()
}

/// A running webhook task and its queue.
struct Sink {
    events: mpsc::Sender<Arc<BadActor>>,
    task: JoinHandle<()>,
    stats: Arc<WebhookStats>,
    drain: CancellationToken,
}

impl Sink {
    fn start(options: WebhookOptions) -> Self {
        Self::start_with(options, &[])
    }

    /// Starts the task with `queued` already waiting in its queue.
    fn start_with(options: WebhookOptions, queued: &[BadActor]) -> Self {
        let (events, receiver) = mpsc::channel(1024);
        for event in queued {
            events
                .try_send(Arc::new(event.clone()))
                .expect("queue has room");
        }
        let stats = Arc::new(WebhookStats::default());
        let drain = CancellationToken::new();
        let task = tokio::spawn(
            start(options, receiver.into(), Arc::clone(&stats), drain.clone()).expect("start"),
        );
        Self {
            events,
            task,
            stats,
            drain,
        }
    }

    async fn send(&self, event: BadActor) {
        self.events.send(Arc::new(event)).await.expect("queue open");
    }

    /// Closes the queue as the pipeline does at shutdown and waits for the task to end.
    async fn finish(self) -> Arc<WebhookStats> {
        drop(self.events);
        self.drain.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("task ends")
            .expect("task did not panic");
        self.stats
    }
}

/// Log lines written while the guard lives (on this thread: `#[tokio::test]` runs one thread).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("logs")).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
