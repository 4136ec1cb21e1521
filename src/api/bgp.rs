//! `GET /api/v1/bgp/routes`: what the BGP speaker announces, to whom: each session (state,
//! prefixes it holds from us) and each route with the peers that hold it, newest first,
//! streamed. 404 while `--bgp` is off.

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::body::{JSON, json_string, streamed};
use super::{ApiError, ApiState};
use crate::bgp::{SpeakerStatus, community_text};

/// Routes behind the token.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/bgp/routes", get(bgp_routes))
}

async fn bgp_routes(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let speaker = state
        .bgp
        .clone()
        .ok_or(ApiError::Off("The BGP speaker (--bgp)"))?;
    // Written whole, then sent a chunk at a time: the table is capped (`max_routes`), and the
    // speaker's status is read under its locks, which must not wait on a slow client.
    Ok(streamed(JSON, move |mut out| async move {
        let mut body = String::new();
        let written = write_routes(&speaker, &mut |text| {
            body.push_str(text);
            Ok(())
        });
        if written.is_ok() && out.write(&body).await.is_ok() {
            let _ = out.flush().await;
        }
    }))
}

/// The body: `{"sessions": [...], "routes": [...]}`.
fn write_routes(
    speaker: &SpeakerStatus,
    out: &mut dyn FnMut(&str) -> io::Result<()>,
) -> io::Result<()> {
    let sessions: Vec<serde_json::Value> = (speaker.peers.iter())
        .map(|peer| {
            serde_json::json!({
                "peer": peer.options.name(),
                "remote_as": peer.options.remote_as,
                "state": peer.state_name(),
                "uptime_seconds": peer.uptime_seconds(),
                "prefixes": peer.prefixes_held(),
            })
        })
        .collect();
    let options = &speaker.options;
    let attributes = serde_json::json!({
        "local_as": options.local_as,
        "next_hop_v4": options.next_hop_v4.to_string(),
        "next_hop_v6": options.next_hop_v6.to_string(),
        "communities": options.communities.iter().map(|c| community_text(*c)).collect::<Vec<_>>(),
        "large_communities": (options.large_communities.iter())
            .map(|[a, b, c]| format!("{a}:{b}:{c}"))
            .collect::<Vec<_>>(),
    });
    out(&format!(
        "{{\"sessions\":{},\"attributes\":{},\"routes\":[",
        serde_json::Value::from(sessions),
        attributes
    ))?;
    for (index, route) in speaker.announced().iter().enumerate() {
        let prefix = match route.ip {
            std::net::IpAddr::V4(ip) => format!("{ip}/32"),
            std::net::IpAddr::V6(ip) => format!("{ip}/128"),
        };
        let peers: Vec<String> = route
            .peers
            .iter()
            .map(|peer| json_string(&peer.to_string()))
            .collect();
        out(&format!(
            "{}{{\"prefix\":\"{prefix}\",\"last_seen\":\"{}\",\"announced_to\":[{}]}}",
            if index == 0 { "" } else { "," },
            route.last_seen,
            peers.join(",")
        ))?;
    }
    out("]}")
}
