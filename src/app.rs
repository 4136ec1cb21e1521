//! The only module that knows every other one: it turns the configuration into each module's
//! options, binds, opens, starts every long-running part as a service, waits for the shutdown
//! signal and stops the services in order.
//!
//! # Layout
//!
//! - [`settings`]: the configuration validated and turned into each module's options.
//! - `bind`: the TLS certificate and every socket, before anything is opened.
//! - `services`: how every long-running part is started and stopped, and the stop order.
//! - `start`: one file per service; [`run`] lists them in start order.
//! - `health_probe`: `--health-check`, a client of a running daemon's `/health-check`.
//! - `lookup`: `--query-ip` and the other command-line lookups in the local database, and
//!   `--print-shared-stats`.

mod bind;
mod health_probe;
mod lookup;
mod services;
pub mod settings;
mod start;

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

pub use health_probe::{HealthProbeError, probe_health};
pub use lookup::{run_lookup, shared_stats};
pub use settings::Settings;

use crate::blocklist::Intake;
use crate::pipeline::{PipelineMonitor, PipelineStats};
use crate::shutdown;
use crate::telemetry::Count;
use crate::transport::udp_drops::UdpDropMonitor;
use services::Services;
use start::{Summary, Wiring};

/// Runs the daemon until SIGINT/SIGTERM, until `shutdown` is cancelled, or until a service
/// ends on its own.
///
/// # Errors
/// Start-up failures (certificate, sockets, database, files) with context; a service that
/// ended on its own or failed.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    shutdown::survive_file_size_limit().context("installing the SIGXFSZ handler")?;
    let bound = bind::bind(&settings)?;
    let database = start::store::open(&settings.store)?;
    let mut wiring = Wiring::new(&settings, Services::new(shutdown), &database);

    // Consumers first, so nothing a listener accepts has nowhere to go.
    start::blocklist::start(&mut wiring, &database)?;
    let mut pipeline = crate::pipeline::Pipeline::builder();
    start::store::start(&mut wiring, &mut pipeline, database)?;
    start::json_log::start(&mut wiring, &mut pipeline)?;
    start::syslog::start(&mut wiring, &mut pipeline)?;
    #[cfg(feature = "webhook")]
    start::webhook::start(&mut wiring, &mut pipeline)?;
    #[cfg(feature = "api")]
    start::live_events::start(&mut wiring, &mut pipeline)?;
    #[cfg(feature = "p2p")]
    let p2p_events = start::p2p::register(&mut wiring, &mut pipeline);
    #[cfg(feature = "opendht")]
    let opendht_events = start::bridge::register(&mut wiring, &mut pipeline);
    let pipeline = pipeline.build();
    wiring.summary.pipeline = Some(pipeline.monitor());
    wiring.report(Some(Arc::new(pipeline.monitor())));
    // Every event enters through here: counted in the blocklist, then handed to the pipeline.
    let intake = Intake::new(Arc::clone(&wiring.blocklist), pipeline);

    // Then what produces events and serves them (SIP first: it raises the open-file limit the
    // P2P node's caps are fitted to).
    start::sip::start(&mut wiring, &intake, bound.sip, bound.tls)?;
    #[cfg(feature = "p2p")]
    let discovery = start::p2p::start(&mut wiring, &intake, p2p_events)?;
    #[cfg(not(feature = "p2p"))]
    let discovery: Option<start::Discovery> = None;
    #[cfg(feature = "opendht")]
    start::bridge::start(&mut wiring, &intake, opendht_events, discovery)?;
    #[cfg(not(feature = "opendht"))]
    let _ = discovery;
    #[cfg(feature = "sip-agent")]
    start::sip_agent::start(&mut wiring, bound.sip_agent)?;
    #[cfg(feature = "bgp")]
    start::bgp::start(&mut wiring, bound.bgp)?;
    // Before the API, which serves the counters registered so far.
    start::not_built::report(&mut wiring);
    #[cfg(feature = "api")]
    start::api::start(&mut wiring, bound.api)?;
    let Wiring {
        mut services,
        summary,
        ..
    } = wiring;
    // The last pipeline handle: dropped once capture and peers have stopped, so the
    // consumers drain their queues and stop.
    services.hold_until_draining(intake);

    shutdown::cancel_on_signal(services.shutdown().clone())
        .context("installing signal handlers")?;
    tracing::info!(version = crate::event::APP_VERSION, "sentrypeer ready");
    services.wait().await;
    let stopped = services.stop().await;
    log_summary(&summary);
    stopped
}

/// The last log line: what was received, stored and dropped since start.
fn log_summary(summary: &Summary) {
    let pipeline = summary.pipeline.as_ref().map(PipelineMonitor::stats);
    tracing::info!(
        received = pipeline
            .as_ref()
            .map_or(0, |stats| stats.received.iter().sum::<u64>()),
        stored = summary.store.events_stored.count(),
        dropped = pipeline.as_ref().map_or(0, PipelineStats::dropped),
        kernel_dropped = summary.udp_drops.as_ref().and_then(UdpDropMonitor::dropped),
        "stopped"
    );
}

/// `error` and its causes on one line, as `{:#}` writes them, except that a cause whose text
/// the line already ends with is left out: our error types quote their source in their message
/// (so `{}` alone is complete in a log field), and `{:#}` would print it twice.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let bind = crate::transport::TransportError::Bind {
            transport: "TCP",
            address: std::net::SocketAddr::from(([127, 0, 0, 1], 5060)),
            source: io,
        };
        let error = anyhow::Error::new(bind).context("Failed to start SIP listeners");
        assert_eq!(
            one_line(&error),
            "Failed to start SIP listeners: cannot bind TCP on 127.0.0.1:5060: \
             Address already in use"
        );
        // A cause the message does not quote is still written.
        let plain = anyhow::anyhow!("disk full").context("cannot store");
        assert_eq!(one_line(&plain), "cannot store: disk full");
    }
}
