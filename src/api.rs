//! REST API (`-a`): the original's routes with their exact bodies and headers, versioned
//! `/api/v1/` routes, blocklist feeds, a CrowdSec-compatible decision stream, the live
//! Server-Sent Events stream and Prometheus metrics. [`router`] is pure; `app` binds and serves
//! it with [`serve`] (connection caps, request-head timeout and size, paced writes), tests drive
//! it with `oneshot`.
//!
//! Every response carries `Access-Control-Allow-Origin: *`, `X-Powered-By: SentryPeer` and
//! `X-SentryPeer-Version`. Requests are GET (or HEAD) without a body, but for the one POST route
//! ([`POST_ROUTES`]: `/oauth/token`); any other method gets 405 with `Allow`, body or not.
//! Requests run under a timeout and a global concurrency limit; queries use the store's shared
//! read pool, expensive ones a few at a time, long lists a page at a time (`reader.rs`).

mod auth;
#[cfg(feature = "bgp")]
mod bgp;
#[cfg(not(feature = "bgp"))]
#[path = "api/bgp_not_built.rs"]
mod bgp;
mod body;
mod browser_root;
#[cfg(feature = "p2p")]
mod community;
mod crowdsec;
mod error;
mod events;
mod feeds;
mod header_case;
mod health;
mod hq_lookups;
mod ip_addresses;
mod listings;
mod metrics;
mod numbers;
mod oauth;
mod original_list;
#[cfg(not(feature = "p2p"))]
mod p2p_not_built;
mod params;
#[cfg(feature = "p2p")]
mod peers;
mod placeholders;
mod reader;
mod serve;
mod stats;
mod stream;
mod value_counts;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use jiff::SignedDuration;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use uuid::Uuid;

pub use crowdsec::CrowdSecKeys;
pub use error::ApiError;
pub use oauth::{ApiClient, ApiClientError, OAuthClients};
pub use reader::ApiReader;
pub use serve::{ServeLimits, ServerStats, WritePace, serve};

use crate::blocklist::{Blocklist, Policy};
use crate::config::Secret;
use crate::event::APP_VERSION;
use crate::sinks::live_events::LiveEvents;
use crate::telemetry;

/// Routes documented in `openapi.json` (a test checks both agree).
pub const DOCUMENTED_ROUTES: &[&str] = &[
    "/health-check",
    "/",
    "/ip-addresses",
    "/ip-addresses/{ip}",
    "/ip-addresses/ipset",
    "/numbers",
    "/numbers/{number}",
    "/countries",
    "/countries/:country",
    "/countries/:country/:city",
    "/user-agents",
    "/user-agents/:user_agent",
    "/sip-methods",
    "/sip-methods/:sip_method",
    "/api/v1/health",
    "/api/v1/events",
    "/api/v1/stats",
    "/api/v1/user-agents",
    "/api/v1/sip-methods",
    "/api/v1/ip-addresses",
    "/api/v1/ip-addresses/{ip}",
    "/api/v1/numbers",
    "/api/v1/numbers/{number}",
    "/api/v1/feeds/ips.txt",
    "/api/v1/feeds/ipset",
    "/api/v1/feeds/nftables",
    "/api/v1/feeds/numbers.txt",
    "/api/v1/stream",
    "/v1/decisions",
    "/v1/decisions/stream",
    "/metrics",
    "/oauth/token",
    "/api/ip-addresses/{ip}",
    "/api/phone-numbers/{number}",
    "/api/v1/bgp/routes",
    "/api/v1/community",
    "/api/v1/peers",
];

/// The documented routes that take a `POST` with a body (every other one answers GET and HEAD
/// only).
pub const POST_ROUTES: &[&str] = &["/oauth/token"];

/// Limits of the HTTP server.
#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    /// Time to produce a response's head (streamed bodies may take longer).
    pub request_timeout: Duration,
    /// Requests served at once; more wait.
    pub max_concurrent_requests: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            max_concurrent_requests: 256,
        }
    }
}

/// Whether a request's headers carry a signed-in session for the token (constant-time).
pub type SessionCheck = fn(&HeaderMap, &Secret) -> bool;

/// Everything the handlers share.
#[derive(Debug)]
pub struct ApiState {
    /// Read-only database access.
    pub reader: ApiReader,
    /// Every part that counts (health details, stats, metrics); none of them keeps the capture
    /// pipeline open.
    pub telemetry: telemetry::Registry,
    /// This node's id.
    pub node_id: Uuid,
    /// When the daemon started.
    pub started: Instant,
    /// Bearer token required on every route but `/health-check`, when set.
    pub token: Option<Secret>,
    /// With the dashboard on: its check of a request's session cookie against the token; a
    /// signed-in browser then needs no bearer token for the feeds and streams the pages link to.
    pub session_check: Option<SessionCheck>,
    /// CrowdSec bouncer keys and their stream positions.
    pub crowdsec: CrowdSecKeys,
    /// How long a CrowdSec decision lasts after an IP was last seen.
    pub crowdsec_ban: SignedDuration,
    /// The events `/api/v1/stream` hands on, and its clients' counters.
    pub live_events: Arc<LiveEvents>,
    /// The live blocklist.
    pub blocklist: Arc<Blocklist>,
    /// What of the blocklist the feeds list.
    pub feeds_policy: Policy,
    /// What of the blocklist the CrowdSec stream decides on.
    pub crowdsec_policy: Policy,
    /// Clients that get bearer tokens from `POST /oauth/token`.
    pub oauth: OAuthClients,
    /// What of the blocklist SentryPeerHQ's lookups call known (the SIP agent's policy: both
    /// answer a switch about to route a call).
    pub call_policy: Policy,
    /// The BGP speaker's routes and sessions, when `--bgp` is on.
    #[cfg(feature = "bgp")]
    pub bgp: Option<Arc<crate::bgp::SpeakerStatus>>,
    /// The community's summaries, when `-p` is on.
    #[cfg(feature = "p2p")]
    pub community: Option<Arc<crate::p2p::community::Community>>,
    /// The peers connected now, when `-p` is on.
    #[cfg(feature = "p2p")]
    pub connected_peers: Option<Arc<crate::p2p::ConnectedPeers>>,
}

/// The peer-to-peer routes: the community's summaries and the peers connected now.
#[cfg(feature = "p2p")]
fn p2p_routes() -> Router<Arc<ApiState>> {
    community::routes().merge(peers::routes())
}

/// Without the `p2p` feature, the same routes say it is not built.
#[cfg(not(feature = "p2p"))]
fn p2p_routes() -> Router<Arc<ApiState>> {
    p2p_not_built::routes()
}

/// The whole API, with `pages` (the dashboard's routes, or none) served beside it under the
/// same limits and headers.
pub fn router(state: Arc<ApiState>, limits: ApiLimits, pages: Router) -> Router {
    let requests = Arc::new(metrics::RequestStats::default());
    let root_state = Arc::clone(&state);
    let protected = Router::new()
        .merge(health::routes())
        .merge(ip_addresses::routes())
        .merge(numbers::routes())
        .merge(listings::routes())
        .merge(events::routes())
        .merge(stats::routes())
        .merge(value_counts::routes())
        .merge(placeholders::routes())
        .merge(feeds::routes())
        .merge(stream::routes())
        .merge(metrics::routes(Arc::clone(&requests)))
        .merge(bgp::routes())
        .merge(p2p_routes())
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_bearer_token,
        ));
    Router::new()
        .merge(health::open_routes())
        .merge(protected)
        .merge(crowdsec::routes(Arc::clone(&state)))
        .merge(oauth::routes())
        .merge(hq_lookups::routes(Arc::clone(&state)))
        .with_state(state)
        .merge(pages)
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            root_state,
            browser_root::browsers_to_dashboard,
        ))
        .layer(middleware::from_fn_with_state(
            requests,
            metrics::record_request,
        ))
        .layer(middleware::from_fn(reject_request_bodies))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests,
        ))
        .layer(middleware::map_response(add_common_headers))
}

/// The original's headers, on every response.
async fn add_common_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        HeaderName::from_static("x-powered-by"),
        HeaderValue::from_static("SentryPeer"),
    );
    headers.insert(
        HeaderName::from_static("x-sentrypeer-version"),
        HeaderValue::from_static(APP_VERSION),
    );
    response
}

/// No route takes a body: a `GET` or `HEAD` carrying one is refused rather than read. Any other
/// method goes on to routing, which answers 405 (or 404) whether or not it carries a body, and
/// never reads it.
async fn reject_request_bodies(request: Request, next: Next) -> Result<Response, ApiError> {
    let served_method = matches!(*request.method(), Method::GET | Method::HEAD);
    if served_method && carries_body(request.headers()) {
        return Err(ApiError::BodyNotAccepted);
    }
    Ok(next.run(request).await)
}

/// Whether the request head announces a body (a non-zero length, or any transfer coding).
fn carries_body(headers: &HeaderMap) -> bool {
    let has_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|length| length.trim() != "0");
    has_length || headers.contains_key(header::TRANSFER_ENCODING)
}

#[cfg(test)]
mod tests;
