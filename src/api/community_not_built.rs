//! `GET /api/v1/community` in a binary built without the `p2p` feature: 404, as while `-p` is
//! off, saying why.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use super::{ApiError, ApiState};

/// Routes behind the token.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route(
        "/api/v1/community",
        get(|| async { ApiError::Off("Peer-to-peer sharing (built without the p2p feature)") }),
    )
}
