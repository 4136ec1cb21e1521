//! The web dashboard (`--web-gui`): server-rendered pages under `/ui/` on the API listener
//! (overview, search and detail, live, peers, health), readable with JavaScript off; a small embedded
//! script makes the live page follow the API's live stream (`/api/v1/stream`). [`router`] is pure; `app` merges
//! it into the API's router.
//!
//! Every page is HTML built by `maud`, which escapes every interpolated string: user agents,
//! SIP messages, numbers and usernames are text, never markup. Responses carry a
//! Content-Security-Policy that allows only this origin's own script and style (no inline
//! script). The GUI only reads: the store through the shared read pool, the live blocklist and
//! the telemetry registry. With `--api-token` set, every page but the sign-in form needs the
//! session cookie the form sets (`HttpOnly`, `SameSite=Strict`).

mod assets;
mod auth;
mod community;
mod connected;
mod error;
mod health;
mod layout;
mod live;
mod overview;
mod peers;
mod reciprocity;
mod search;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::{Redirect, Response};
use axum::routing::get;
use uuid::Uuid;

pub use crate::countries::{Countries, CountriesError};
pub use assets::total_bytes as embedded_asset_bytes;
pub use auth::{SESSION_COOKIE, session_matches};
pub use error::GuiError;
pub use overview::events_by_country;
pub use reciprocity::SharingRule;

use crate::blocklist::Blocklist;
use crate::config::Secret;
use crate::store::ReadPool;
use crate::telemetry;

/// What every page sees content through.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Everything the pages share.
#[derive(Debug)]
pub struct GuiState {
    /// Read-only database access (the pool `app` shares with the API).
    pub pool: ReadPool,
    /// Every part that counts (the health page).
    pub telemetry: telemetry::Registry,
    /// The live blocklist (details and the live page).
    pub blocklist: Arc<Blocklist>,
    /// The API token; when set, pages need the session cookie holding it.
    pub token: Option<Secret>,
    /// Country of an IP address.
    pub countries: Arc<Countries>,
    /// This node's id.
    pub node_id: Uuid,
    /// When the daemon started.
    pub started: Instant,
    /// The running configuration, secrets masked (the health page).
    pub configuration: serde_json::Value,
    /// The P2P node's sharing rule (the peers page's reciprocity).
    pub sharing_rule: SharingRule,
    /// The community's summaries, when the P2P node runs (the peers page's community card).
    #[cfg(feature = "p2p")]
    pub community: Option<Arc<crate::p2p::community::Community>>,
    /// The peers connected now, when the P2P node runs (the peers page's table).
    #[cfg(feature = "p2p")]
    pub connected_peers: Option<Arc<crate::p2p::ConnectedPeers>>,
}

/// The dashboard's routes, all under `/ui/`.
pub fn router(state: Arc<GuiState>) -> Router {
    let pages = Router::new()
        .merge(overview::routes())
        .merge(search::routes())
        .merge(live::routes())
        .merge(peers::routes())
        .merge(health::routes())
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_session,
        ));
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .merge(pages)
        .merge(auth::routes())
        .merge(assets::routes())
        .layer(middleware::map_response(add_security_headers))
        .with_state(state)
}

/// The policy and the headers that keep pages from being framed, sniffed or cached.
async fn add_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests;
