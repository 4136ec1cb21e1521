//! `/metrics`: Prometheus text of every part in the telemetry registry (read from the atomics
//! the pipeline, listeners and store keep: nothing on the hot path) and of the API's own
//! requests, counted and timed by a middleware, through the same [`Report`] seam.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;

use super::ApiState;
use super::body::with_type;
use crate::telemetry::{self, Histogram, Readings, Report};

/// Requests served by one router, per matched route.
#[derive(Debug, Default)]
pub(crate) struct RequestStats {
    routes: Mutex<BTreeMap<String, RouteStats>>,
}

/// Requests of one route.
#[derive(Debug, Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    latency: Histogram,
}

impl RequestStats {
    fn record(&self, route: String, status: StatusCode, started: Instant) {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let route = routes.entry(route).or_default();
        *route.by_status.entry(status.as_u16()).or_default() += 1;
        route.latency.observe(started.elapsed());
    }
}

impl Report for RequestStats {
    fn report(&self, out: &mut Readings) {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        for (route, stats) in routes.iter() {
            for (status, count) in &stats.by_status {
                out.counter(
                    "sentrypeer_api_requests_total",
                    "API requests answered, by matched route and status.",
                    *count,
                )
                .label("route", route.clone())
                .label("status", status.to_string());
            }
            out.histogram(
                "sentrypeer_api_request_duration_seconds",
                "How long API requests took to answer (head), by matched route.",
                &stats.latency,
            )
            .label("route", route.clone());
        }
    }
}

pub(crate) fn routes(requests: Arc<RequestStats>) -> Router<Arc<ApiState>> {
    let page =
        move |State(state): State<Arc<ApiState>>| std::future::ready(render(&state, &requests));
    Router::new().route("/metrics", get(page))
}

/// Counts and times every request by matched route and status.
pub(crate) async fn record_request(
    State(requests): State<Arc<RequestStats>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    requests.record(route, response.status(), started);
    response
}

fn render(state: &ApiState, requests: &RequestStats) -> Response {
    let mut readings = Readings::of(&state.telemetry);
    readings.add(requests);
    with_type(
        StatusCode::OK,
        telemetry::CONTENT_TYPE,
        readings.prometheus_text(),
    )
}
