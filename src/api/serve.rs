//! Serves the API router over HTTP/1.1 with the limits `axum::serve` does not set, so no client
//! holds a slot, a buffer or a response for longer than it takes to serve it: a cap on open
//! connections (more wait in the kernel's backlog) and on those from one source (IPv6 grouped by
//! prefix; more are closed at once), a time limit for each request head and a cap on its size,
//! and paced writes (`serve/paced.rs`: a client that stops reading, or reads slower than the
//! minimum rate, is cut); graceful shutdown on the daemon's token. Header names go out in the
//! original's case ([`super::header_case`]).

mod paced;

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::util::MapResponseLayer;

pub use paced::WritePace;

use super::header_case::original_spellings;
use crate::config::defaults;
use crate::telemetry::{Count, Readings, Report};
use crate::transport::SourceConnections;

/// Open connections at once by default.
pub(crate) const MAX_CONNECTIONS: usize = 512;
/// Time to send a request head by default.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head by default (hyper's own default buffers about 400 KB per connection).
pub(crate) const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;
/// Longest a response write may wait for its client by default.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Slowest a client may take a response, on average, by default.
pub(crate) const MIN_BYTES_PER_SECOND: u64 = 4 * 1024;

/// Limits of the HTTP server around the router.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Open connections at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Open connections from one source; more are closed at once (0: no cap).
    pub max_connections_per_source: usize,
    /// IPv6 sources count against that cap by this prefix.
    pub ipv6_source_prefix: u8,
    /// Time a client has to send a whole request head, counted from the connection's start or
    /// the end of its previous response (so idle keep-alive connections close too).
    pub header_timeout: Duration,
    /// Largest request head (request line and headers); a longer one ends the connection.
    pub max_request_head_bytes: usize,
    /// How fast clients must read what they are sent.
    pub write_pace: WritePace,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: MAX_CONNECTIONS,
            max_connections_per_source: defaults::API_MAX_CONNECTIONS_PER_SOURCE,
            ipv6_source_prefix: defaults::SOURCE_IPV6_PREFIX,
            header_timeout: HEADER_TIMEOUT,
            max_request_head_bytes: MAX_REQUEST_HEAD_BYTES,
            write_pace: WritePace {
                timeout: WRITE_TIMEOUT,
                min_bytes_per_second: MIN_BYTES_PER_SECOND,
            },
        }
    }
}

/// What the server counts (under `api` in health and metrics).
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections open now (a gauge).
    pub connections_open: AtomicU64,
    /// Connections closed at once because their source had its cap of open ones.
    pub connections_over_source_cap: AtomicU64,
    /// Connections cut because the client stopped reading or read too slowly.
    pub slow_clients_cut: AtomicU64,
}

impl Report for ServerStats {
    fn report(&self, out: &mut Readings) {
        out.gauge(
            "sentrypeer_api_connections_open",
            "API connections open now.",
            self.connections_open.count(),
        )
        .health_in("api", &[]);
        out.counters_in(
            "api",
            "API connections closed at once over the per-source cap, or cut because the client \
             stopped reading or read slower than the minimum rate.",
            &[
                (
                    "sentrypeer_api_connections_over_source_cap_total",
                    &self.connections_over_source_cap,
                ),
                (
                    "sentrypeer_api_slow_clients_cut_total",
                    &self.slow_clients_cut,
                ),
            ],
        );
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
    stats: Arc<ServerStats>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let spellings = original_spellings().await;
    let router = router.layer(MapResponseLayer::new(move |mut response: Response| {
        response.extensions_mut().extend(spellings.clone());
        response
    }));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let sources =
        SourceConnections::new(limits.max_connections_per_source, limits.ipv6_source_prefix);
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
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::from_millis(10);
                accepted
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
        let Some(place) = sources.enter(peer.ip()) else {
            stats
                .connections_over_source_cap
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "API connection refused: source at its connection cap");
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let shutdown = shutdown.clone();
        let stats = Arc::clone(&stats);
        connections.spawn(async move {
            stats.connections_open.fetch_add(1, Ordering::Relaxed);
            serve_connection(stream, service, &limits, &stats, &shutdown).await;
            stats.connections_open.fetch_sub(1, Ordering::Relaxed);
            drop((permit, place));
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Serves one connection until it ends, or, once `shutdown` is cancelled, until its request in
/// flight is answered.
async fn serve_connection<S>(
    stream: TcpStream,
    service: S,
    limits: &ServeLimits,
    stats: &Arc<ServerStats>,
    shutdown: &CancellationToken,
) where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .title_case_headers(true)
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_request_head_bytes.max(8192));
    let paced = paced::Paced::new(stream, limits.write_pace, Arc::clone(stats));
    let mut connection = pin!(builder.serve_connection(TokioIo::new(paced), service));
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
        }
    }
}
