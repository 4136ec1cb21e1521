//! Catch-up of the retention window: asking peers for pages, answering their requests from the
//! database (only for peers that contributed), retrying when refused.

use std::time::Instant;

use libp2p::request_response::{self, ResponseChannel};
use libp2p::{PeerId, Swarm};

use super::{Arrival, CATCH_UP_RETRY, CatchUp, Node, window_start};
use crate::p2p::P2pStats;
use crate::p2p::behaviour::Behaviour;
use crate::p2p::record::SignedRecord;
use crate::p2p::sync::{PAGE_RECORDS, SyncRequest, SyncResponse};
use crate::store::{self, query};

impl Node {
    pub(super) fn request_catch_up(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        after: Option<(String, String)>,
    ) {
        let since = window_start(&self.config);
        swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, SyncRequest { since, after });
        self.catch_up.insert(peer, CatchUp::InFlight);
    }

    pub(super) fn on_sync(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        event: request_response::Event<SyncRequest, SyncResponse>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    self.serve_catch_up(peer, request, channel);
                }
                request_response::Message::Response { response, .. } => match response {
                    SyncResponse::Page { records, next } => {
                        for record in &records {
                            let _ = self.ingest(record, peer, Arrival::CaughtUp);
                        }
                        match next {
                            Some(after) => self.request_catch_up(swarm, peer, Some(after)),
                            None => {
                                tracing::info!(%peer, "caught up");
                                self.catch_up.insert(peer, CatchUp::Done);
                            }
                        }
                    }
                    SyncResponse::Refused { reason } => {
                        P2pStats::bump(&self.stats.catch_up_refused_by_peers);
                        // The peer's own words: Debug-quoted (line breaks escaped) and cut, so
                        // a peer cannot forge log lines.
                        let reason: String = reason.chars().take(200).collect();
                        tracing::info!(%peer, ?reason, "catch-up refused by peer");
                        let retry = Instant::now() + self.catch_up_retry;
                        self.catch_up_retry = (self.catch_up_retry * 2).min(CATCH_UP_RETRY.1);
                        self.catch_up.insert(peer, CatchUp::RetryAt(retry, None));
                    }
                },
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "catch-up request failed");
                let retry = Instant::now() + CATCH_UP_RETRY.1;
                self.catch_up.insert(peer, CatchUp::RetryAt(retry, None));
            }
            _ => {}
        }
    }

    /// Answers a catch-up request from the blocking pool, or refuses a peer that has not
    /// contributed enough.
    pub(super) fn serve_catch_up(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        let served = self.served.clone();
        if self.config.deny.contains(&peer)
            || !self
                .contributions
                .may_catch_up(&peer, self.config.min_contribution)
        {
            P2pStats::bump(&self.stats.catch_up_refused);
            tracing::info!(%peer, contributed = self.contributions.count(&peer), "catch-up refused");
            let reason = format!(
                "share at least {} record(s) first",
                self.config.min_contribution.max(1)
            );
            let _ = served.try_send((channel, SyncResponse::Refused { reason }));
            return;
        }
        P2pStats::bump(&self.stats.catch_up_pages_served);
        let window = window_start(&self.config);
        let since = request.since.max(window);
        let db_file = self.config.db_file.clone();
        let key = self.config.key.clone();
        let network = self.config.network.clone();
        tokio::task::spawn_blocking(move || {
            let page = store::open_read_only(&db_file).and_then(|conn| {
                let after = request
                    .after
                    .as_ref()
                    .map(|(time, uuid)| (time.as_str(), uuid.as_str()));
                query::shareable_events(&conn, &since, after, PAGE_RECORDS)
            });
            let response = match page {
                Ok(page) => {
                    let full = page.events.len() >= PAGE_RECORDS;
                    let records = page
                        .events
                        .into_iter()
                        .filter_map(|shareable| match shareable {
                            query::Shareable::Local(event) => {
                                SignedRecord::sign(&event, &network, &key)
                                    .ok()
                                    .map(|r| r.to_json())
                            }
                            query::Shareable::Peer(text) => Some(text),
                        })
                        .collect();
                    SyncResponse::Page {
                        records,
                        next: if full { page.last } else { None },
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "cannot read catch-up page");
                    SyncResponse::Page {
                        records: Vec::new(),
                        next: None,
                    }
                }
            };
            let _ = served.blocking_send((channel, response));
        });
    }
}
