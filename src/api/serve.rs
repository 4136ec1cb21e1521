//! Serves the API router over HTTP/1.1 with the limits `axum::serve` does not set: a cap on open
//! connections (more wait in the kernel's backlog) and a time limit for each request head, so
//! idle or slowloris clients cannot pile up; graceful shutdown on the daemon's token. Header
//! names go out in the original's case ([`super::header_case`]). Each request carries its
//! connection's [`ConnectionControl`], so a streamed response can end with the server or close a
//! client that stopped reading.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceBuilder;
use tower::util::MapResponseLayer;

use super::header_case::original_spellings;

/// Limits of the HTTP server around the router.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Open connections at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time a client has to send a whole request head, counted from the connection's start or
    /// the end of its previous response (so idle keep-alive connections close too).
    pub header_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// What a long-lived response (`/api/v1/stream`) knows of its connection: when the server is
/// stopping (end the body, so the connection can close gracefully), and how to close the
/// connection at once (a client that stopped reading: a body nobody reads never ends, and hyper
/// stops polling it while the socket is full). The default is a connection nothing stops (tests
/// driving the router without a server).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionControl {
    stopping: CancellationToken,
    abort: CancellationToken,
}

impl ConnectionControl {
    /// Waits until the server is stopping.
    pub(crate) async fn stopping(&self) {
        self.stopping.cancelled().await;
    }

    /// Closes the connection now, whatever is in flight on it.
    pub(crate) fn abort(&self) {
        self.abort.cancel();
    }
}

/// Accepts connections until `shutdown` is cancelled, then lets requests in flight finish
/// (the caller bounds how long it waits).
///
/// # Errors
/// Never at present; accept errors back off and are retried.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let spellings = original_spellings().await;
    let router = router.layer(MapResponseLayer::new(move |mut response: Response| {
        response.extensions_mut().extend(spellings.clone());
        response
    }));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut backoff = Duration::from_millis(10);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                backoff = Duration::from_millis(10);
                stream
            }
            Err(error) => {
                tracing::warn!(%error, "API accept failed; backing off");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let control = ConnectionControl {
            stopping: shutdown.clone(),
            abort: CancellationToken::new(),
        };
        let abort = control.abort.clone();
        let service = ServiceBuilder::new()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(control.clone());
                request
            })
            .service(router.clone());
        let service = TowerToHyperService::new(service);
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .title_case_headers(true)
                .header_read_timeout(limits.header_timeout);
            let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
            let mut stopping = pin!(shutdown.cancelled());
            let mut asked_to_stop = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::debug!(%error, "API connection ended");
                        }
                        break;
                    }
                    () = &mut stopping, if !asked_to_stop => {
                        asked_to_stop = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    () = abort.cancelled() => {
                        tracing::debug!("API connection closed by its handler");
                        break;
                    }
                }
            }
            drop(permit);
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}
