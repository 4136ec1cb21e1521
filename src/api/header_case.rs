//! The original's spelling of HTTP/1 header names (`X-SentryPeer-Version`, not
//! `x-sentrypeer-version`): scripts `grep` for them case-sensitively.
//!
//! hyper writes header names in lower case. Its `title_case_headers` option would write
//! `X-Sentrypeer-Version`, and the only way to make it write a chosen spelling is a private
//! response extension (its `HeaderCaseMap`), which hyper fills when it parses a message with
//! `preserve_header_case` on. So [`original_spellings`] lets hyper parse, once at start and in
//! memory, a request that carries the spellings, and keeps that request's extensions; the
//! server loop (`serve.rs`) puts them on every response and title-cases every other name
//! (`Content-Type`, `Content-Length`, `Date`), as the original's libmicrohttpd writes them.

use std::convert::Infallible;
use std::io;
use std::sync::mpsc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Extensions, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

/// Header names written in exactly this case: the original's three on every response, and
/// `WWW-Authenticate` as its RFC spells it (title case would give `Www-Authenticate`).
const SPELLINGS: [&str; 4] = [
    "Access-Control-Allow-Origin",
    "X-Powered-By",
    "X-SentryPeer-Version",
    "WWW-Authenticate",
];

/// How long hyper may take to parse the request in memory (it takes microseconds).
const LEARNING_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Extensions that make hyper write [`SPELLINGS`] as spelled there. Empty (so those names are
/// title-cased like the rest) if hyper did not parse the request in time, which is logged.
pub(crate) async fn original_spellings() -> Extensions {
    match learn_spellings().await {
        Ok(extensions) => extensions,
        Err(error) => {
            tracing::error!(%error, "API header names cannot take the original's case; title case used");
            Extensions::new()
        }
    }
}

/// Has hyper parse a request carrying [`SPELLINGS`] over an in-memory pipe and returns the
/// extensions it attached to it.
async fn learn_spellings() -> io::Result<Extensions> {
    let mut head = String::from("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for name in SPELLINGS {
        head.push_str(name);
        head.push_str(": -\r\n");
    }
    head.push_str("\r\n");
    // Large enough for the request and hyper's short answer, so neither side waits on the other.
    let (mut client, server) = tokio::io::duplex(4096);
    client.write_all(head.as_bytes()).await?;
    let (sender, receiver) = mpsc::sync_channel(1);
    let keep_extensions = service_fn(move |request: Request<Incoming>| {
        let _ = sender.try_send(request.extensions().clone());
        async { Ok::<_, Infallible>(Response::new(Body::empty())) }
    });
    let connection = http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(server), keep_extensions);
    // `Connection: close` ends it after one answer; the limit only guards the daemon's start.
    tokio::time::timeout(LEARNING_TIME_LIMIT, connection)
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    drop(client);
    receiver
        .try_recv()
        .map_err(|_| io::Error::other("hyper answered without passing the request on"))
}
