//! The live blocklist: created with the settings' caps, told the node's own addresses (never a
//! verdict), and kept by a service that removes keys older than the retention window.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::blocklist::VerdictOptions;

/// How often keys older than the retention window are looked for. Retention counts in days; a
/// minute late is nothing, and a pass over millions of keys is not free.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(60);
/// Time the upkeep task has to stop.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts the blocklist's upkeep and reports its counters.
///
/// # Errors
/// Never at present (the task is spawned on the runtime).
pub(in crate::app) fn start(wiring: &mut Wiring<'_>) -> anyhow::Result<()> {
    let blocklist = Arc::clone(&wiring.blocklist);
    wiring.report(Some(Arc::clone(&blocklist)));
    wiring.services.spawn(
        "blocklist",
        Stage::Draining,
        Grace::Within(STOP_GRACE),
        |stop| {
            Ok(async move {
                let mut interval = tokio::time::interval(EXPIRY_INTERVAL);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        _ = interval.tick() => {
                            let expired = blocklist.expire(Timestamp::now()).len();
                            if expired > 0 {
                                tracing::debug!(expired, "blocklist keys expired");
                            }
                        }
                    }
                }
            })
        },
    )
}

/// The node-wide verdict options with the addresses of this host's interfaces added to its own
/// (an attacker spoofing them must not get the node to list itself).
pub(in crate::app) fn with_interface_addresses(node: &VerdictOptions) -> VerdictOptions {
    let mut node = node.clone();
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => node
            .own_addresses
            .extend(interfaces.iter().map(|interface| interface.ip())),
        Err(error) => {
            tracing::warn!(%error, "cannot list this host's addresses for the verdict policy")
        }
    }
    node.own_addresses.sort_unstable_by_key(IpAddr::to_string);
    node.own_addresses.dedup();
    node
}
