//! The pipeline's counters: per transport received, per consumer delivered and dropped (with
//! a rate-limited warning), read through [`PipelineMonitor`] for health details and metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::PeerRecords;
use super::demand::Demand;
use super::queue::QueuedBytes;
use crate::event::Transport;
use crate::telemetry::{Readings, Report};

/// How often at most a "queue full" warning is logged per consumer.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// One consumer's counters, its queue's byte count and byte bound.
#[derive(Debug)]
pub(super) struct ConsumerCounters {
    pub(super) name: &'static str,
    pub(super) peer_records: PeerRecords,
    /// `Some`: offered events only while they are wanted.
    pub(super) demand: Option<Demand>,
    pub(super) delivered: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) last_warning: Mutex<Option<Instant>>,
    pub(super) queued: Arc<QueuedBytes>,
    /// Most bytes of events its queue holds.
    pub(super) byte_bound: usize,
}

impl ConsumerCounters {
    pub(super) fn count_drop(&self, reason: &'static str) {
        let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        if last.is_none_or(|at| at.elapsed() >= DROP_WARNING_INTERVAL) {
            *last = Some(Instant::now());
            tracing::warn!(
                consumer = self.name,
                reason,
                dropped_total = total,
                "dropping events"
            );
        }
    }
}

/// Counters of the whole pipeline, shared with [`PipelineMonitor`].
#[derive(Debug)]
pub(super) struct Counters {
    pub(super) received: [AtomicU64; 3],
    pub(super) received_from_peers: AtomicU64,
    pub(super) consumers: Vec<ConsumerCounters>,
}

/// Counters of one consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerStats {
    /// Consumer name (`store`, `json_log`, `syslog`, ...).
    pub name: &'static str,
    /// Events queued for it.
    pub delivered: u64,
    /// Events it never got (queue full, or the consumer had stopped).
    pub dropped: u64,
}

/// Snapshot of the pipeline's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineStats {
    /// Events submitted, per transport in [`Transport::ALL`](crate::event::Transport::ALL) order.
    pub received: [u64; 3],
    /// Events received from peers.
    pub received_from_peers: u64,
    /// Per-consumer counters.
    pub consumers: Vec<ConsumerStats>,
}

impl PipelineStats {
    /// Events dropped for any consumer.
    pub fn dropped(&self) -> u64 {
        self.consumers.iter().map(|consumer| consumer.dropped).sum()
    }
}

/// Reads a pipeline's counters (for health details and metrics); holding it does not keep the
/// consumers' queues open.
#[derive(Debug, Clone)]
pub struct PipelineMonitor {
    pub(super) counters: Arc<Counters>,
}

impl PipelineMonitor {
    /// Current counters.
    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            received: self
                .counters
                .received
                .each_ref()
                .map(|counter| counter.load(Ordering::Relaxed)),
            received_from_peers: self.counters.received_from_peers.load(Ordering::Relaxed),
            consumers: self
                .counters
                .consumers
                .iter()
                .map(|consumer| ConsumerStats {
                    name: consumer.name,
                    delivered: consumer.delivered.load(Ordering::Relaxed),
                    dropped: consumer.dropped.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }
}

impl Report for PipelineMonitor {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[
            &["events", "received"],
            &["events", "dropped"],
            &["events", "dropped_by_consumer"],
            &["p2p", "received_from_peers"],
        ]
    }

    fn report(&self, out: &mut Readings) {
        let stats = self.stats();
        for (transport, received) in Transport::ALL.into_iter().zip(stats.received) {
            out.counter(
                "sentrypeer_events_received_total",
                "Events captured, per transport.",
                received,
            )
            .label("transport", transport.as_str())
            .health(&["events", "received", transport.as_str()]);
        }
        out.health(&["events", "dropped"], stats.dropped());
        // An object even before any consumer is added.
        out.health(&["events", "dropped_by_consumer"], serde_json::Map::new());
        for consumer in &stats.consumers {
            out.counter(
                "sentrypeer_events_dropped_total",
                "Events a consumer never got (its queue was full, or it had stopped).",
                consumer.dropped,
            )
            .label("consumer", consumer.name)
            .health(&["events", "dropped_by_consumer", consumer.name]);
        }
        out.health(&["p2p", "received_from_peers"], stats.received_from_peers);
    }
}
