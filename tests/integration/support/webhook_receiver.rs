//! An HTTP receiver for the webhook tests: axum on 127.0.0.1:0 in its own runtime, recording
//! every request and answering from a script.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::daemon::WAIT;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path: String,
    headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// What the receiver answers; `hold` keeps the answer until [`Receiver::release`].
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) hold: bool,
}

pub(crate) fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        body: body.to_owned(),
        hold: false,
    }
}

type Script = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

struct Shared {
    script: Box<Script>,
    counts: Mutex<HashMap<String, usize>>,
    seen: Mutex<mpsc::Sender<Seen>>,
    gate: Arc<Semaphore>,
}

/// An HTTP receiver on 127.0.0.1:0 in its own runtime.
pub(crate) struct Receiver {
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    seen: mpsc::Receiver<Seen>,
    gate: Arc<Semaphore>,
}

impl Receiver {
    pub(crate) fn start(script: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (sender, seen) = mpsc::channel();
        let gate = Arc::new(Semaphore::new(0));
        let shared = Arc::new(Shared {
            script: Box::new(script),
            counts: Mutex::new(HashMap::new()),
            seen: Mutex::new(sender),
            gate: Arc::clone(&gate),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind receiver");
        let addr = listener.local_addr().expect("address");
        let router = axum::Router::new().fallback(record).with_state(shared);
        runtime.spawn(async move { axum::serve(listener, router).await });
        Self {
            _runtime: runtime,
            addr,
            seen,
            gate,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request (fails the test after [`WAIT`]).
    pub(crate) fn next(&self) -> Seen {
        self.seen.recv_timeout(WAIT).expect("a request in time")
    }

    /// Lets every held answer go.
    pub(crate) fn release(&self) {
        self.gate.add_permits(1_000);
    }

    /// Requests received so far, without waiting.
    pub(crate) fn received(&self) -> Vec<Seen> {
        self.seen.try_iter().collect()
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let n = {
        let mut counts = shared.counts.lock().expect("counts");
        let count = counts.entry(seen.path.clone()).or_insert(0);
        *count += 1;
        *count - 1
    };
    let reply = (shared.script)(&seen, n);
    let _ = shared.seen.lock().expect("channel").send(seen);
    if reply.hold {
        let _ = shared.gate.acquire().await.map(|permit| permit.forget());
    }
    let status = StatusCode::from_u16(reply.status).expect("status");
    (status, reply.body).into_response()
}

/// A closed loopback port.
pub(crate) fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    format!("http://{addr}/api/events")
}
