//! The OpenDHT bridge (`--opendht-proxy`): a queue of this node's own events to put, registered
//! with the other consumers when publishing is on, then the bridge itself, which imports the
//! community's values through the intake and, with `-p`, runs discovery for the P2P node.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::blocklist::Intake;
use crate::bridge::discovery::DiscoveryLink;
use crate::bridge::{self, BridgeLinks, BridgeStats};
use crate::pipeline::{AsyncEventReceiver, PeerRecords, PipelineBuilder};

/// Time the bridge has to stop (it drops its connections and puts in flight).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Registers the queue of local events to put, when publishing is on.
pub(in crate::app) fn register(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
) -> Option<AsyncEventReceiver> {
    let publishing = wiring.settings.opendht.as_ref()?.publish;
    publishing.then(|| {
        pipeline.async_consumer(
            "opendht",
            wiring.settings.event_queue_capacity,
            PeerRecords::LeftOut,
        )
    })
}

/// Starts the bridge when a proxy is set.
///
/// # Errors
/// The HTTP client cannot be built.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    intake: &Intake,
    events: Option<AsyncEventReceiver>,
    discovery: Option<DiscoveryLink>,
) -> anyhow::Result<()> {
    let Some(options) = &wiring.settings.opendht else {
        wiring.report::<BridgeStats>(None);
        return Ok(());
    };
    let stats = Arc::new(BridgeStats::default());
    let task_stats = Arc::clone(&stats);
    let links = BridgeLinks {
        intake: intake.clone(),
        events,
        node_id: wiring.node_id,
        discovery,
    };
    let discovering = links.discovery.is_some();
    wiring.services.spawn(
        "opendht",
        Stage::Serving,
        Grace::Within(STOP_GRACE),
        |stop| {
            let task = bridge::start(options, links, task_stats, stop).context("OpenDHT bridge")?;
            Ok(async move {
                task.await;
                Ok(())
            })
        },
    )?;
    tracing::info!(
        proxy = %options.proxy,
        publish = options.publish,
        counts_toward_verdicts = options.counts_toward_verdicts,
        discovery = discovering,
        "OpenDHT bridge on"
    );
    wiring.report(Some(stats));
    Ok(())
}
