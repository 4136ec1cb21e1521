//! `GET /api/v1/bgp/routes` in a binary built without the `bgp` feature: 404, as while `--bgp`
//! is off, saying why.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use super::{ApiError, ApiState};

/// Routes behind the token.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route(
        "/api/v1/bgp/routes",
        get(|| async { ApiError::Off("The BGP speaker (built without the bgp feature)") }),
    )
}
