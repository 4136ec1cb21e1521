//! `/metrics`: Prometheus text through `metrics-exporter-prometheus`. Capture counters are read
//! from the atomics the pipeline, listeners and store keep (nothing on the hot path); API
//! requests are counted and timed by a middleware.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::ApiState;
use super::body::with_type;
use crate::event::Transport;

/// Buckets of the latency histograms, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once and returns its handle (later calls, e.g.
/// from tests, get the same handle).
pub fn install_recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            handle
        })
        .clone()
}

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/metrics", get(render))
}

/// Counts and times every request by matched route and status.
pub(crate) async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("sentrypeer_api_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("sentrypeer_api_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

async fn render(State(state): State<Arc<ApiState>>) -> Response {
    publish_counters(&state);
    with_type(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        state.metrics.render(),
    )
}

/// Copies the capture counters into the recorder.
fn publish_counters(state: &ApiState) {
    let telemetry = &state.telemetry;
    if let Some(pipeline) = &telemetry.pipeline {
        let stats = pipeline.stats();
        for transport in Transport::ALL {
            metrics::counter!("sentrypeer_events_received_total", "transport" => transport.as_str())
                .absolute(stats.received[transport.index()]);
        }
        for consumer in &stats.consumers {
            metrics::counter!("sentrypeer_events_dropped_total", "consumer" => consumer.name)
                .absolute(consumer.dropped);
        }
    }
    if let Some(transport_counters) = &telemetry.transport {
        let replies = transport_counters.snapshot();
        for transport in Transport::ALL {
            let index = transport.index();
            let label = transport.as_str();
            metrics::counter!("sentrypeer_replies_sent_total", "transport" => label)
                .absolute(replies.replies_sent[index]);
            metrics::counter!("sentrypeer_replies_rate_limited_total", "transport" => label)
                .absolute(replies.replies_rate_limited[index]);
            metrics::counter!("sentrypeer_replies_failed_total", "transport" => label)
                .absolute(replies.replies_failed[index]);
            metrics::counter!("sentrypeer_replies_delayed_skipped_total", "transport" => label)
                .absolute(replies.delayed_skipped[index]);
        }
        for (class, count) in ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"]
            .into_iter()
            .zip(replies.replies_by_status_class)
        {
            metrics::counter!("sentrypeer_replies_by_status_total", "class" => class)
                .absolute(count);
        }
        metrics::counter!("sentrypeer_requests_sent_total").absolute(replies.requests_sent);
    }
    if let Some(connection_counters) = &telemetry.connections {
        let connections = connection_counters.snapshot();
        // Only the stream transports have connections.
        for transport in [Transport::Tcp, Transport::Tls] {
            let index = transport.index();
            let label = transport.as_str();
            metrics::gauge!("sentrypeer_connections_open", "transport" => label)
                .set(connections.open[index] as f64);
            metrics::counter!("sentrypeer_connections_accepted_total", "transport" => label)
                .absolute(connections.accepted[index]);
            metrics::counter!("sentrypeer_connections_over_source_cap_total", "transport" => label)
                .absolute(connections.over_source_cap[index]);
            metrics::counter!("sentrypeer_connections_message_timeouts_total", "transport" => label)
                .absolute(connections.message_timeouts[index]);
            metrics::counter!("sentrypeer_connections_idle_timeouts_total", "transport" => label)
                .absolute(connections.idle_timeouts[index]);
            metrics::counter!("sentrypeer_connections_handshake_timeouts_total", "transport" => label)
                .absolute(connections.handshake_timeouts[index]);
        }
    }
    if let Some(p2p) = &telemetry.p2p {
        for (name, value) in p2p.snapshot() {
            metrics::counter!("sentrypeer_p2p_total", "counter" => name).absolute(value);
        }
    }
    if let Some(webhook) = &telemetry.webhook {
        let w = webhook.snapshot();
        metrics::counter!("sentrypeer_webhook_delivered_total").absolute(w.delivered);
        metrics::counter!("sentrypeer_webhook_failed_total").absolute(w.failed);
        metrics::counter!("sentrypeer_webhook_retries_total").absolute(w.retries);
        metrics::counter!("sentrypeer_webhook_skipped_total").absolute(w.skipped);
        metrics::counter!("sentrypeer_webhook_token_requests_total").absolute(w.token_requests);
    }
    if let Some(dropped) = telemetry
        .udp_drops
        .as_ref()
        .and_then(|drops| drops.dropped())
    {
        metrics::counter!("sentrypeer_udp_kernel_dropped_total").absolute(dropped);
    }
    let store = telemetry.store.snapshot();
    metrics::counter!("sentrypeer_events_stored_total").absolute(store.events_stored);
    metrics::counter!("sentrypeer_events_store_failed_total").absolute(store.events_failed);
    metrics::counter!("sentrypeer_store_batches_total").absolute(store.batches);
    metrics::gauge!("sentrypeer_store_last_batch_seconds")
        .set(store.last_batch_micros as f64 / 1_000_000.0);
    metrics::counter!("sentrypeer_retention_deleted_total").absolute(store.retention_deleted);
}
