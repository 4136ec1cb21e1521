//! The REST API (`-a`): the router over a read pool and the counters of every part started
//! before it, with the web dashboard's pages under `/ui/` when `--web-gui` is on, served on its
//! bound socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use super::Wiring;
use crate::api::{
    self, ApiLimits, ApiReader, ApiState, CrowdSecKeys, OAuthClients, ServeLimits, ServerStats,
    WritePace,
};
use crate::app::services::{Grace, Stage};
#[cfg(feature = "gui")]
use crate::app::settings::GuiSettings;
use crate::blocklist::Policy;
#[cfg(feature = "gui")]
use crate::gui::{self, GuiState};

/// Time requests in flight have to finish at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts the API when it is on.
///
/// # Errors
/// The bound socket's address cannot be read; no randomness for the token key.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    listener: Option<TcpListener>,
) -> anyhow::Result<()> {
    let (Some(settings), Some(listener)) = (&wiring.settings.api, listener) else {
        return Ok(());
    };
    let server_stats = Arc::new(ServerStats::default());
    wiring.report(Some(Arc::clone(&server_stats)));
    let limits = ServeLimits {
        max_connections_per_source: settings.max_connections_per_source,
        ipv6_source_prefix: settings.ipv6_source_prefix,
        write_pace: WritePace {
            timeout: settings.write_timeout,
            ..ServeLimits::default().write_pace
        },
        ..ServeLimits::default()
    };
    let state = ApiState {
        reader: ApiReader::new(wiring.reader.clone()),
        telemetry: wiring.telemetry.clone(),
        node_id: wiring.node_id,
        started: Instant::now(),
        token: settings.token.clone(),
        session_check: settings.web_gui.as_ref().and_then(|_| session_check()),
        crowdsec: CrowdSecKeys::new(settings.crowdsec_keys.clone()),
        crowdsec_ban: settings.crowdsec_ban,
        live_events: wiring.live_events.clone().unwrap_or_default(),
        blocklist: Arc::clone(&wiring.blocklist),
        feeds_policy: Policy::new(
            &wiring.verdicts,
            &wiring.settings.verdicts.feeds,
            &wiring.blocklist,
        ),
        crowdsec_policy: Policy::new(
            &wiring.verdicts,
            &wiring.settings.verdicts.crowdsec,
            &wiring.blocklist,
        ),
        oauth: OAuthClients::new(settings.clients.clone(), settings.token_lifetime)
            .map_err(|error| anyhow::anyhow!("no randomness for the token key: {error}"))?,
        call_policy: Policy::new(
            &wiring.verdicts,
            &wiring.settings.verdicts.sip_agent,
            &wiring.blocklist,
        ),
        #[cfg(feature = "bgp")]
        bgp: wiring.bgp.clone(),
        #[cfg(feature = "p2p")]
        community: wiring.community.clone(),
        #[cfg(feature = "p2p")]
        connected_peers: wiring.connected_peers.clone(),
    };
    tracing::info!("listening for API on {}", listener.local_addr()?);
    #[cfg(feature = "gui")]
    let gui = match &settings.web_gui {
        Some(gui) => {
            tracing::info!(
                "serving the web dashboard on http://{}/ui/",
                listener.local_addr()?
            );
            Some(gui_state(wiring, gui)?)
        }
        None => None,
    };
    let state = Arc::new(state);
    wiring.services.spawn(
        "api",
        Stage::Serving,
        Grace::Within(STOP_GRACE),
        move |stop| {
            #[cfg(feature = "gui")]
            let pages = gui.map_or_else(axum::Router::new, |gui| gui::router(Arc::new(gui)));
            #[cfg(not(feature = "gui"))]
            let pages = axum::Router::new();
            let router = api::router(state, ApiLimits::default(), pages);
            Ok(async move {
                api::serve(listener, router, limits, server_stats, stop).await?;
                Ok(())
            })
        },
    )
}

/// The dashboard's check of a session cookie, when it is built.
#[cfg(feature = "gui")]
fn session_check() -> Option<api::SessionCheck> {
    Some(gui::session_matches)
}

#[cfg(not(feature = "gui"))]
fn session_check() -> Option<api::SessionCheck> {
    None
}

/// The dashboard's state.
#[cfg(feature = "gui")]
///
/// # Errors
/// The `--geoip-db` file cannot be opened as a MaxMind database.
fn gui_state(wiring: &mut Wiring<'_>, settings: &GuiSettings) -> anyhow::Result<GuiState> {
    Ok(GuiState {
        pool: wiring.reader.clone(),
        telemetry: wiring.telemetry.clone(),
        blocklist: Arc::clone(&wiring.blocklist),
        token: wiring
            .settings
            .api
            .as_ref()
            .and_then(|api| api.token.clone()),
        countries: wiring.countries(settings.geoip_db.as_deref())?,
        node_id: wiring.node_id,
        started: Instant::now(),
        configuration: settings.configuration.clone(),
        sharing_rule: sharing_rule(wiring.settings),
        #[cfg(feature = "p2p")]
        community: wiring.community.clone(),
        #[cfg(feature = "p2p")]
        connected_peers: wiring.connected_peers.clone(),
    })
}

/// The rule the dashboard's Peers page judges peers by: the P2P node's (`--p2p-min-contribution`
/// over its retention window), or the default while `-p` is off.
#[cfg(all(feature = "gui", feature = "p2p"))]
fn sharing_rule(settings: &crate::app::settings::Settings) -> gui::SharingRule {
    settings
        .p2p
        .as_ref()
        .map_or_else(gui::SharingRule::default, |p2p| gui::SharingRule {
            min_contribution: p2p.options.min_contribution,
            window: p2p
                .options
                .retention
                .unwrap_or(gui::SharingRule::default().window),
        })
}

/// [`sharing_rule`] in a binary built without the `p2p` feature.
#[cfg(all(feature = "gui", not(feature = "p2p")))]
fn sharing_rule(_settings: &crate::app::settings::Settings) -> gui::SharingRule {
    gui::SharingRule::default()
}
