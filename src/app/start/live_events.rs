//! The live event feed of `/api/v1/stream` (when the API is on): a task on its own pipeline
//! queue (`stream`, taking peer records too, offered events only while a client follows them)
//! that publishes every event to the stream's clients.

use std::sync::Arc;
use std::time::Duration;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::pipeline::{PeerRecords, PipelineBuilder};
use crate::sinks::live_events::{self, LiveEvents};

/// Time the task has, once its queue has closed, to hand on what is queued (no I/O: instant).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Starts the feed when the API is on, and hands it to the API.
///
/// # Errors
/// Never at present (the task is spawned on the runtime).
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
) -> anyhow::Result<()> {
    if wiring.settings.api.is_none() {
        wiring.report::<LiveEvents>(None);
        return Ok(());
    }
    let feed = Arc::new(LiveEvents::default());
    let events = pipeline.async_consumer_on_demand(
        "stream",
        wiring.settings.event_queue_capacity,
        PeerRecords::Taken,
        feed.demand(),
    );
    let task_feed = Arc::clone(&feed);
    wiring.services.spawn(
        "live-events",
        Stage::Draining,
        Grace::Within(DRAIN_GRACE),
        |_drain| {
            Ok(async move {
                live_events::run(events, task_feed).await;
                Ok(())
            })
        },
    )?;
    wiring.report(Some(Arc::clone(&feed)));
    wiring.live_events = Some(feed);
    Ok(())
}
