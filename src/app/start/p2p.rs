//! Peer-to-peer sharing (`-p`): a queue of this node's own events to publish, registered with the
//! other consumers, then the node itself, which also submits the records peers send.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::blocklist::Intake;
use crate::p2p::{self, P2pConfig, P2pStats};
use crate::pipeline::{AsyncEventReceiver, PeerRecords, PipelineBuilder};

/// Time the node has to close its connections at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Registers the queue of local events to publish, when sharing is on.
pub(in crate::app) fn register(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
) -> Option<AsyncEventReceiver> {
    wiring.settings.p2p.as_ref().map(|_| {
        pipeline.async_consumer(
            "p2p",
            wiring.settings.event_queue_capacity,
            PeerRecords::LeftOut,
        )
    })
}

/// Loads the node's key and starts the node.
///
/// # Errors
/// The key cannot be read or created.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    intake: &Intake,
    events: Option<AsyncEventReceiver>,
) -> anyhow::Result<()> {
    let (Some(settings), Some(events)) = (&wiring.settings.p2p, events) else {
        wiring.report::<P2pStats>(None);
        return Ok(());
    };
    let key = p2p::identity::load_or_create(&settings.key_file)?;
    let peer_id = key.public().to_peer_id();
    tracing::info!(%peer_id, path = %settings.key_file.display(), "p2p identity");
    let stats = Arc::new(P2pStats::default());
    let _ = stats.peer_id.set(peer_id.to_base58());
    let config = P2pConfig {
        options: settings.options.clone(),
        key,
        reader: wiring.reader.clone(),
    };
    let node_stats = Arc::clone(&stats);
    let intake = intake.clone();
    wiring.services.spawn(
        "p2p",
        Stage::Serving,
        Grace::Within(STOP_GRACE),
        move |stop| {
            Ok(async move {
                p2p::run(config, events, intake, node_stats, stop)
                    .await
                    .context("peer-to-peer")
            })
        },
    )?;
    wiring.report(Some(stats));
    Ok(())
}
