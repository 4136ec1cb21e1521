//! The original's placeholder routes: `/countries`, `/user-agents`, `/sip-methods` and the
//! literal paths `/countries/:country`, `/countries/:country/:city`, `/user-agents/:user_agent`
//! and `/sip-methods/:sip_method` answer 200 `text/html` with the route itself as the body, as
//! the original's `http_routes.c` does (its `:name`s are not parameters: only those characters
//! match). Counts per user agent and per SIP method are under `/api/v1/` ([`super::value_counts`]).

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;

use super::body::{HTML, with_type};
use super::{ApiError, ApiState};

/// The paths the original answers with themselves.
pub(crate) const PLACEHOLDERS: [&str; 7] = [
    "/countries",
    "/countries/:country",
    "/countries/:country/:city",
    "/user-agents",
    "/user-agents/:user_agent",
    "/sip-methods",
    "/sip-methods/:sip_method",
];

/// The routes that reach [`PLACEHOLDERS`]: a segment starting with `:` cannot be routed
/// literally (axum reads it as the old parameter syntax), so it becomes a capture that takes any
/// segment, and [`placeholder`] answers only the literal one.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    PLACEHOLDERS
        .into_iter()
        .fold(Router::new(), |router, path| {
            router.route(&route_for(path), get(placeholder))
        })
}

/// `/countries/:country` as the route `/countries/{country}`.
fn route_for(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The original's body for a placeholder path; the catch-all 404 for any other.
async fn placeholder(uri: Uri) -> Result<Response, ApiError> {
    let path = PLACEHOLDERS
        .into_iter()
        .find(|placeholder| *placeholder == uri.path())
        .ok_or(ApiError::NotFound)?;
    Ok(with_type(StatusCode::OK, HTML, path))
}
