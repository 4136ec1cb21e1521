//! The BGP blackhole feed (`--bgp`): the speaker with its policy (the `[verdicts.bgp]` knobs, the
//! node's own addresses, the never-announce list), its counters in health and metrics, and its
//! status for the API.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::bgp::{Speaker, SpeakerStatus};
use crate::blocklist::Policy;

/// Time the sessions have to send their Cease NOTIFICATIONs at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts the speaker when `--bgp` is on.
///
/// # Errors
/// No router id was configured and the host has no IPv4 address to take it from.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    listener: Option<TcpListener>,
) -> anyhow::Result<()> {
    let Some(settings) = &wiring.settings.bgp else {
        wiring.report::<SpeakerStatus>(None);
        return Ok(());
    };
    let mut options = settings.options.clone();
    options.router_id = settings
        .router_id
        .or_else(|| first_interface_ipv4(&wiring.verdicts.own_addresses))
        .context("no IPv4 address to take the BGP router id from: set bgp.router_id")?;
    let mut consumer = wiring.settings.verdicts.bgp.clone();
    consumer
        .never
        .networks
        .extend(settings.never.iter().copied());
    let policy = Policy::new(&wiring.verdicts, &consumer, &wiring.blocklist);
    let speaker = Speaker::new(options, Arc::clone(&wiring.blocklist), policy);
    let status = speaker.status();
    wiring.report(Some(Arc::clone(&status)));
    wiring.bgp = Some(status);
    if let Some(listener) = &listener {
        tracing::info!("listening for BGP on {}", listener.local_addr()?);
    }
    wiring.services.spawn(
        "bgp",
        Stage::Serving,
        Grace::Within(STOP_GRACE),
        move |stop| {
            Ok(async move {
                speaker.run(listener, stop).await;
                Ok(())
            })
        },
    )
}

/// The host's first IPv4 address that is not loopback (the node's own addresses include them).
fn first_interface_ipv4(own: &[IpAddr]) -> Option<Ipv4Addr> {
    own.iter().find_map(|ip| match ip {
        IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(*ip),
        _ => None,
    })
}
