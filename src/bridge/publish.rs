//! Publishing (`--opendht-publish`): each event this node captured is put under `bad_actors` as
//! the original's value, at most `rate` a second and [`MAX_IN_FLIGHT`] puts at a time; the rest
//! is counted, never waited for (capture never waits on the proxy).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use governor::{Quota, RateLimiter};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::proxy::Proxy;
use super::stats::BridgeStats;
use super::value::OriginalValue;
use super::{BAD_ACTORS_KEY, BridgeError};
use crate::pipeline::AsyncEventReceiver;

/// Puts waiting for the proxy's answer at most; a slow proxy makes the next events counted as
/// `publish_busy` rather than queued without bound.
pub const MAX_IN_FLIGHT: usize = 32;

/// Publishes `events` until `stop` or until the queue closes.
pub async fn run(
    proxy: Proxy,
    mut events: AsyncEventReceiver,
    rate: NonZeroU32,
    stats: Arc<BridgeStats>,
    stop: CancellationToken,
) {
    let limiter = RateLimiter::direct(Quota::per_second(rate));
    let mut in_flight = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            event = events.recv() => {
                let Some(event) = event else { return };
                if limiter.check().is_err() {
                    stats.publish_rate_limited.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if in_flight.len() >= MAX_IN_FLIGHT {
                    stats.publish_busy.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let value = OriginalValue::of(&event).to_bytes();
                let proxy = proxy.clone();
                let stats = Arc::clone(&stats);
                in_flight.spawn(async move {
                    match proxy.put(BAD_ACTORS_KEY, &value).await {
                        // 502: the proxy's node keeps and serves the value, but no other DHT
                        // node confirmed it (a proxy node alone); it is out there all the same.
                        Ok(()) | Err(BridgeError::Status(502)) => {
                            stats.published.fetch_add(1, Ordering::Relaxed);
                            stats.proxy_state(true, proxy.base(), "");
                        }
                        Err(error) => {
                            stats.publish_failed.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%error, "OpenDHT put failed");
                        }
                    }
                });
            }
        }
    }
}
