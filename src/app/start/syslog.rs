//! Syslog lines (`-s`): a thread on its own queue, sending to the local daemon or a remote one.

use std::sync::Arc;
use std::time::Duration;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::pipeline::PipelineBuilder;
use crate::sinks::syslog::{self, SyslogStats};

/// Time syslog has, once its queue has closed, to send what is left.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Starts the syslog sink when it is on.
///
/// # Errors
/// The thread cannot be started.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
) -> anyhow::Result<()> {
    let Some(settings) = &wiring.settings.syslog else {
        return Ok(());
    };
    let events = pipeline.consumer(
        "syslog",
        wiring.settings.event_queue_capacity,
        settings.peer_records,
    );
    let stats = Arc::new(SyslogStats::default());
    let target = settings.target.clone();
    wiring.services.spawn_thread(
        "syslog",
        Stage::Draining,
        Grace::Within(DRAIN_GRACE),
        move |_stop| {
            syslog::run(&target, &events, &stats);
            Ok(())
        },
    )?;
    tracing::info!(peer_records = ?settings.peer_records, "syslog on");
    Ok(())
}
