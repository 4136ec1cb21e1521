//! The bridge's counters, named once for `/api/v1/health` (section `opendht`) and `/metrics`
//! (`sentrypeer_opendht_total{counter=...}`, `sentrypeer_opendht_refused_total{reason=...}`,
//! `sentrypeer_opendht_proxy_up`), and the proxy's up/down state, logged once per change.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::value::Refusal;
use crate::telemetry::{Count, Readings, Report};

/// What the bridge did since start.
#[derive(Debug, Default)]
pub struct BridgeStats {
    /// Values the listen stream delivered (before any check).
    pub received: AtomicU64,
    /// Values imported as events.
    pub imported: AtomicU64,
    /// Values seen before (same `event_uuid`).
    pub duplicates: AtomicU64,
    /// Values this node put itself (its own `created_by_node_id`).
    pub own: AtomicU64,
    /// Expiry notices from the proxy (not values).
    pub expired: AtomicU64,
    /// Values refused, by [`Refusal::LABELS`].
    pub refused: [AtomicU64; Refusal::LABELS.len()],
    /// Our events put through the proxy (answered 2xx).
    pub published: AtomicU64,
    /// Puts the proxy refused or did not answer.
    pub publish_failed: AtomicU64,
    /// Events not put: over the publish rate.
    pub publish_rate_limited: AtomicU64,
    /// Events not put: too many puts in flight (the proxy is slow).
    pub publish_busy: AtomicU64,
    /// Listen streams opened after the first (reconnections).
    pub reconnects: AtomicU64,
    /// Discovery entries published (`-p`).
    pub discovery_published: AtomicU64,
    /// Other nodes' discovery entries read (valid, not ours).
    pub discovery_found: AtomicU64,
    /// Discovery entries refused (bad signature, malformed, expired, over the cap).
    pub discovery_refused: AtomicU64,
    /// Whether the proxy answered the last request.
    up: AtomicBool,
}

impl BridgeStats {
    /// Counts a refused value.
    pub fn refuse(&self, refusal: Refusal) {
        self.refused[refusal.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Records that the proxy answered (`true`) or failed (`false`): one log line per change.
    pub fn proxy_state(&self, up: bool, proxy: &str, detail: &str) {
        if self.up.swap(up, Ordering::Relaxed) == up {
            return;
        }
        if up {
            tracing::info!(proxy, "OpenDHT proxy reachable");
        } else {
            tracing::warn!(proxy, error = detail, "OpenDHT proxy unreachable; retrying");
        }
    }

    /// Whether the proxy answered the last request.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}

impl Report for BridgeStats {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["opendht"]]
    }

    fn report(&self, out: &mut Readings) {
        #[rustfmt::skip]
        let counters = [
            ("received", &self.received),
            ("imported", &self.imported),
            ("duplicates", &self.duplicates),
            ("own", &self.own),
            ("expired", &self.expired),
            ("published", &self.published),
            ("publish_failed", &self.publish_failed),
            ("publish_rate_limited", &self.publish_rate_limited),
            ("publish_busy", &self.publish_busy),
            ("reconnects", &self.reconnects),
            ("discovery_published", &self.discovery_published),
            ("discovery_found", &self.discovery_found),
            ("discovery_refused", &self.discovery_refused),
        ];
        for (name, counter) in counters {
            out.counter(
                "sentrypeer_opendht_total",
                "OpenDHT bridge counters by name: values received, imported, duplicate, our own, \
                 expiry notices; our events published, failed, rate-limited, left out while busy; \
                 listen reconnections; discovery entries published, found, refused.",
                counter.count(),
            )
            .label("counter", name)
            .health(&["opendht", name]);
        }
        for (label, counter) in Refusal::LABELS.iter().zip(&self.refused) {
            out.counter(
                "sentrypeer_opendht_refused_total",
                "OpenDHT values refused, by reason.",
                counter.count(),
            )
            .label("reason", *label)
            .health(&["opendht", "refused", label]);
        }
        out.gauge(
            "sentrypeer_opendht_proxy_up",
            "1 when the OpenDHT proxy answered the last request.",
            u64::from(self.is_up()),
        )
        .health(&["opendht", "proxy_up"]);
    }
}
