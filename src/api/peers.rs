//! `GET /api/v1/peers`: this node's PeerId and the peers connected to it right now, each with
//! the address of its first connection, who dialled, since when, connections open, records
//! contributed (accepted with it as author), whether that earns it catch-up, and records refused
//! from it by reason; as the P2P node last published them (at once on a connection or a
//! departure, every second for the counts). 404 while `-p` is off.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::body::json;
use super::{ApiError, ApiState};

/// Routes behind the token.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/peers", get(peers))
}

async fn peers(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let connected = state
        .connected_peers
        .as_ref()
        .ok_or(ApiError::Off("Peer-to-peer sharing (-p)"))?;
    Ok(json(StatusCode::OK, &connected.view()))
}
