//! Receiving: the listen stream of `bad_actors`, re-opened with back-off when the proxy is
//! absent, fails or restarts, and each value checked ([`value::import`]) before it enters
//! through the [`Intake`] as peer data with origin `opendht`.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use lru::LruCache;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::proxy::{Line, Lines, Proxy, ProxyValue};
use super::stats::BridgeStats;
use super::value::{self, ImportWindow, Refusal};
use super::{BAD_ACTORS_KEY, Backoff};
use crate::blocklist::Intake;

/// `event_uuid`s remembered to refuse values seen before (the store also skips a UUID it
/// holds).
const SEEN_CAPACITY: usize = 65_536;
/// The listen stream is re-opened this often even when it looks alive (a stalled proxy sends
/// nothing either; re-opening repeats the stored values, which are then duplicates).
const LISTEN_REFRESH: Duration = Duration::from_secs(600);

/// Checks values and hands the good ones to the intake.
#[derive(Debug)]
pub struct Importer {
    intake: Intake,
    stats: Arc<BridgeStats>,
    seen: LruCache<Uuid, ()>,
    node_id: Uuid,
    retention: Option<SignedDuration>,
    counts_toward_verdicts: bool,
}

impl Importer {
    /// Imports into `intake`; values with `node_id` as their author are our own.
    pub fn new(
        intake: Intake,
        stats: Arc<BridgeStats>,
        node_id: Uuid,
        retention: Option<Duration>,
        counts_toward_verdicts: bool,
    ) -> Self {
        Self {
            intake,
            stats,
            seen: LruCache::new(NonZeroUsize::new(SEEN_CAPACITY).unwrap_or(NonZeroUsize::MIN)),
            node_id,
            retention: retention.and_then(|window| SignedDuration::try_from(window).ok()),
            counts_toward_verdicts,
        }
    }

    /// One line of the listen stream.
    pub fn line(&mut self, line: Line) {
        let Line::Whole(line) = line else {
            self.stats.received.fetch_add(1, Ordering::Relaxed);
            self.stats.refuse(Refusal::TooLarge);
            return;
        };
        let Ok(proxy_value) = serde_json::from_slice::<ProxyValue>(&line) else {
            self.stats.received.fetch_add(1, Ordering::Relaxed);
            self.stats.refuse(Refusal::Malformed);
            return;
        };
        if proxy_value.expired {
            self.stats.expired.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        match proxy_value.bytes() {
            Some(bytes) => self.value(&bytes),
            None => self.stats.refuse(Refusal::Malformed),
        }
    }

    /// One value's bytes.
    pub fn value(&mut self, bytes: &[u8]) {
        let window = ImportWindow {
            retention: self.retention,
            now: Timestamp::now(),
        };
        let event = match value::import(bytes, window) {
            Ok(event) => event,
            Err(refusal) => {
                tracing::debug!(%refusal, "OpenDHT value refused");
                self.stats.refuse(refusal);
                return;
            }
        };
        if event.created_by_node_id == self.node_id {
            self.stats.own.fetch_add(1, Ordering::Relaxed);
        } else if self.seen.put(event.event_uuid, ()).is_some() {
            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.imported.fetch_add(1, Ordering::Relaxed);
            self.intake.from_opendht(event, self.counts_toward_verdicts);
        }
    }
}

/// Listens until `stop`: reconnects with back-off, logs the proxy's state once per change.
pub async fn run(proxy: Proxy, mut importer: Importer, stop: CancellationToken) {
    let stats = Arc::clone(&importer.stats);
    let mut backoff = Backoff::default();
    let mut opened_before = false;
    while !stop.is_cancelled() {
        match proxy.listen(BAD_ACTORS_KEY).await {
            Ok(mut response) => {
                if opened_before {
                    stats.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                opened_before = true;
                stats.proxy_state(true, proxy.base(), "");
                backoff.reset();
                let mut lines = Lines::default();
                let refresh = tokio::time::sleep(LISTEN_REFRESH);
                tokio::pin!(refresh);
                let ended = loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = &mut refresh => break None,
                        chunk = response.chunk() => match chunk {
                            Ok(Some(chunk)) => lines.feed(&chunk, |line| importer.line(line)),
                            Ok(None) => break Some("listen stream closed".to_owned()),
                            Err(error) => break Some(error.without_url().to_string()),
                        },
                    }
                };
                if let Some(reason) = ended {
                    stats.proxy_state(false, proxy.base(), &reason);
                } else {
                    continue;
                }
            }
            Err(error) => stats.proxy_state(false, proxy.base(), &error.to_string()),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff.next_wait()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::{Blocklist, BlocklistOptions};
    use crate::event::test_support::EventBuilder;
    use crate::pipeline::{PeerRecords, Pipeline};

    fn line(value: &[u8], expired: bool) -> Line {
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD.encode(value);
        let json = serde_json::json!({ "data": data, "id": "1", "type": 0, "expired": expired });
        Line::Whole(json.to_string().into_bytes())
    }

    #[test]
    fn values_are_imported_once_and_ours_expired_and_bogus_ones_counted() {
        let blocklist = Arc::new(Blocklist::new(&BlocklistOptions::default()));
        let mut builder = Pipeline::builder();
        let store = builder.consumer("store", 16, PeerRecords::Taken);
        let intake = Intake::new(Arc::clone(&blocklist), builder.build());
        let stats = Arc::new(BridgeStats::default());
        let ours = Uuid::from_u128(7);
        let mut importer = Importer::new(intake, Arc::clone(&stats), ours, None, false);
        let theirs = EventBuilder::new().source_ip("198.51.100.7").build();
        let mut own = theirs.clone();
        own.created_by_node_id = ours;
        own.event_uuid = Uuid::from_u128(8);
        let value = |event| value::OriginalValue::of(event).to_bytes();
        importer.line(line(&value(&theirs), false));
        importer.line(line(&value(&theirs), false));
        importer.line(line(&value(&own), false));
        importer.line(line(&value(&theirs), true));
        importer.line(line(b"{}", false));
        importer.line(Line::Whole(b"not json".to_vec()));
        importer.line(Line::TooLong);
        let count = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        assert_eq!(count(&stats.imported), 1);
        assert_eq!(count(&stats.duplicates), 1);
        assert_eq!(count(&stats.own), 1);
        assert_eq!(count(&stats.expired), 1);
        assert_eq!(count(&stats.received), 6);
        assert_eq!(count(&stats.refused[Refusal::WrongKeys.index()]), 1);
        assert_eq!(count(&stats.refused[Refusal::Malformed.index()]), 1);
        assert_eq!(count(&stats.refused[Refusal::TooLarge.index()]), 1);
        // Not counted toward verdicts by default.
        assert!(
            blocklist
                .lookup_ip("198.51.100.7".parse().expect("ip"))
                .is_none()
        );
        drop(importer);
        let stored: Vec<_> = store.iter().collect();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].origin, crate::event::Origin::OpenDht);
    }
}
