//! Community analytics on the swarm: when sharing is on, our summary is made on the read pool
//! every interval until one went out this hour (an hour with no events of ours sends none), and
//! published on the stats topic; every summary received is checked and added up by
//! [`Community`](crate::p2p::community::Community), whose outcome tells gossipsub whether to
//! forward it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use jiff::Timestamp;
use libp2p::{PeerId, Swarm, gossipsub};
use tokio::sync::mpsc;

use super::Node;
use crate::p2p::behaviour::Behaviour;
use crate::p2p::community::{Author, Outcome, hour_of, summarize};
use crate::p2p::drops::DropReason;
use crate::p2p::protocol::SignedSummary;

/// A summary of ours made on the read pool: `None` when there was nothing to send or it could
/// not be made.
pub(super) struct Made {
    hour: i64,
    summary: Option<SignedSummary>,
}

impl Node {
    /// Makes our summary on the read pool (the result arrives on `made`), unless one went out
    /// this hour or one is being made.
    pub(super) fn make_summary(&mut self, made: &mpsc::Sender<Made>) {
        let now = Timestamp::now();
        let hour = hour_of(now);
        if self.summary_hour == Some(hour) || self.summary_pending {
            return;
        }
        self.summary_pending = true;
        let reader = self.config.reader.clone();
        let countries = Arc::clone(&self.config.countries);
        let key = self.config.key.clone();
        let author = Author {
            network: self.config.options.network.clone(),
            peer_id: self.local_peer.to_base58(),
        };
        let made = made.clone();
        tokio::spawn(async move {
            let body = reader
                .run(move |conn| summarize(conn, &countries, &author, now))
                .await;
            let summary = match body {
                Ok(body) if body.events == 0 => None,
                Ok(body) => match SignedSummary::sign(&body, &key) {
                    Ok(summary) => Some(summary),
                    Err(error) => {
                        tracing::warn!(%error, "community summary not signed");
                        None
                    }
                },
                Err(error) => {
                    tracing::warn!(%error, "community summary not made");
                    None
                }
            };
            let _ = made.send(Made { hour, summary }).await;
        });
    }

    /// Publishes a summary made; a failure is counted and the next interval tries again.
    pub(super) fn publish_summary(&mut self, swarm: &mut Swarm<Behaviour>, made: Made) {
        self.summary_pending = false;
        let Some(summary) = made.summary else {
            return;
        };
        let data = summary.to_json().into_bytes();
        let bytes = data.len() as u64;
        let topic = self.protocols.stats_topic.clone();
        let community = &self.config.community;
        match swarm.behaviour_mut().gossipsub.publish(topic, data) {
            Ok(_) => {
                self.summary_hour = Some(made.hour);
                community.published.fetch_add(1, Ordering::Relaxed);
                community
                    .published_bytes
                    .fetch_add(bytes, Ordering::Relaxed);
                tracing::debug!(bytes, "community summary published");
            }
            Err(error) => {
                community.unpublished.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "community summary not published");
            }
        }
    }

    /// Checks and adds up a summary `from` sent; the verdict tells gossipsub whether to forward
    /// it and whether to penalise the sender.
    pub(super) fn on_summary(&self, data: &[u8], from: PeerId) -> gossipsub::MessageAcceptance {
        let outcome = self.config.community.receive(
            data,
            &self.config.options.network,
            &self.local_peer,
            Timestamp::now(),
        );
        match outcome {
            Outcome::Accepted => gossipsub::MessageAcceptance::Accept,
            Outcome::Ignored => gossipsub::MessageAcceptance::Ignore,
            Outcome::Rejected => {
                self.stats.dropped_from(&from, DropReason::CommunitySummary);
                gossipsub::MessageAcceptance::Reject
            }
        }
    }
}
