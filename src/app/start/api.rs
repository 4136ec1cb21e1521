//! The REST API (`-a`): the router over a read pool and the counters of every part started
//! before it, served on its bound socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use super::Wiring;
use crate::api::{
    self, ApiLimits, ApiReader, ApiState, CrowdSecKeys, ServeLimits, ServerStats, WritePace,
};
use crate::app::services::{Grace, Stage};
use crate::blocklist::Policy;

/// Time requests in flight have to finish at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts the API when it is on.
///
/// # Errors
/// The bound socket's address cannot be read.
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
        crowdsec: CrowdSecKeys::new(settings.crowdsec_keys.clone()),
        crowdsec_ban: settings.crowdsec_ban,
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
    };
    tracing::info!("listening for API on {}", listener.local_addr()?);
    let router = api::router(Arc::new(state), ApiLimits::default());
    wiring.services.spawn(
        "api",
        Stage::Serving,
        Grace::Within(STOP_GRACE),
        move |stop| {
            Ok(async move {
                api::serve(listener, router, limits, server_stats, stop).await?;
                Ok(())
            })
        },
    )
}
