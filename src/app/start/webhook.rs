//! The webhook (`-w`): a task on its own queue; once the pipeline has closed at shutdown it has
//! its grace to deliver what is queued.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::pipeline::PipelineBuilder;
use crate::sinks::webhook::{self, WebhookStats};

/// Margin beyond the webhook's own grace before its task is reported as stuck (it stops by
/// itself within its grace; the margin only guards against a bug).
const STOP_MARGIN: Duration = Duration::from_secs(2);

/// Starts the webhook when a URL is set.
///
/// # Errors
/// The HTTP client cannot be built.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
) -> anyhow::Result<()> {
    let Some(settings) = &wiring.settings.webhook else {
        wiring.report::<WebhookStats>(None);
        return Ok(());
    };
    let stats = Arc::new(WebhookStats::default());
    let events = pipeline.async_consumer(
        "webhook",
        wiring.settings.event_queue_capacity,
        settings.peer_records,
    );
    let options = settings.options.clone();
    let grace = Grace::Within(options.shutdown_grace + STOP_MARGIN);
    let task_stats = Arc::clone(&stats);
    wiring
        .services
        .spawn("webhook", Stage::Draining, grace, |drain| {
            let task = webhook::start(options, events, task_stats, drain).context("webhook")?;
            Ok(async move {
                task.await;
                Ok(())
            })
        })?;
    wiring.report(Some(stats));
    Ok(())
}
