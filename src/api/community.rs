//! `GET /api/v1/community`: the community analytics this node received (`--share-stats` on
//! other nodes): their signed summaries of the last 24 hours added up, by attack type, method and
//! country, and per node. 404 while `-p` is off. A node that does not share its own summary may
//! still read the others' (it is its own API).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use jiff::Timestamp;

use super::body::json;
use super::{ApiError, ApiState};

/// Routes behind the token.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/community", get(community))
}

async fn community(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let community = state
        .community
        .as_ref()
        .ok_or(ApiError::Off("Peer-to-peer sharing (-p)"))?;
    Ok(json(StatusCode::OK, &community.view(Timestamp::now())))
}
