//! The JSON log (`-j`): its file opened at start (a path that cannot be written stops start-up),
//! then its writer thread on its own queue.

use std::sync::Arc;
use std::time::Duration;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::pipeline::PipelineBuilder;
use crate::sinks::json_log::{self, JsonLogFile, JsonLogStats};

/// Time the JSON log has, once its queue has closed, to write what is left.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Starts the JSON log when it is on.
///
/// # Errors
/// The file cannot be opened for appending; the thread cannot be started.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
) -> anyhow::Result<()> {
    let Some(settings) = &wiring.settings.json_log else {
        return Ok(());
    };
    let file = JsonLogFile::open(&settings.path)?;
    let events = pipeline.consumer(
        "json_log",
        wiring.settings.event_queue_capacity,
        settings.peer_records,
    );
    let stats = Arc::new(JsonLogStats::default());
    wiring.services.spawn_thread(
        "json-log",
        Stage::Draining,
        Grace::Within(DRAIN_GRACE),
        move |_stop| {
            json_log::run(file, &events, &stats);
            Ok(())
        },
    )?;
    tracing::info!(path = %settings.path.display(), peer_records = ?settings.peer_records, "JSON log on");
    Ok(())
}
