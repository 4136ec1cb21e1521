//! The peer-to-peer routes (`GET /api/v1/community`, `GET /api/v1/peers`) in a binary built
//! without the `p2p` feature: 404, as while `-p` is off, saying why.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use super::{ApiError, ApiState};

/// Routes behind the token.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    let off = || async { ApiError::Off("Peer-to-peer sharing (built without the p2p feature)") };
    Router::new()
        .route("/api/v1/community", get(off))
        .route("/api/v1/peers", get(off))
}
