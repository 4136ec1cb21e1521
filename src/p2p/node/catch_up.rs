//! Catch-up on the swarm: sending the requests [`CatchUpRequests`] decides, ingesting the pages
//! that come back, and answering peers' requests from the read pool when [`ServePolicy`] allows.
//!
//! [`CatchUpRequests`]: crate::p2p::catch_up::CatchUpRequests
//! [`ServePolicy`]: crate::p2p::catch_up::ServePolicy

use std::time::Instant;

use jiff::Timestamp;
use libp2p::request_response::{self, ResponseChannel};
use libp2p::{PeerId, Swarm};

use super::Node;
use crate::p2p::P2pStats;
use crate::p2p::behaviour::Behaviour;
use crate::p2p::catch_up::{Ask, page_response, window_start};
use crate::p2p::inbound::Arrival;
use crate::p2p::protocol::{
    CatchUpRequest, CatchUpResponse, MAX_REFUSAL_REASON_CHARS, PAGE_RECORDS,
};
use crate::store::query;

impl Node {
    pub(super) fn send_ask(&self, swarm: &mut Swarm<Behaviour>, ask: Ask) {
        let request = CatchUpRequest {
            since: window_start(self.config.options.retention, Timestamp::now()),
            after: ask.after,
        };
        swarm.behaviour_mut().sync.send_request(&ask.peer, request);
    }

    pub(super) fn on_sync(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        event: request_response::Event<CatchUpRequest, CatchUpResponse>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.serve_catch_up(peer, request, channel),
                request_response::Message::Response { response, .. } => {
                    self.on_catch_up_response(swarm, peer, response);
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "catch-up request failed");
                self.catch_up.on_failed(peer, Instant::now());
            }
            _ => {}
        }
    }

    fn on_catch_up_response(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        response: CatchUpResponse,
    ) {
        match response {
            CatchUpResponse::Page { records, next } => {
                for record in &records {
                    self.ingest(record, peer, Arrival::CaughtUp);
                }
                let done = next.is_none();
                if let Some(ask) = self.catch_up.on_page(peer, next) {
                    self.send_ask(swarm, ask);
                }
                if done {
                    tracing::info!(%peer, "caught up");
                }
            }
            CatchUpResponse::Refused { reason } => {
                P2pStats::bump(&self.stats.catch_up_refused_by_peers);
                // The peer's own words: Debug-quoted (line breaks escaped) and cut, so a peer
                // cannot forge log lines.
                let reason: String = reason.chars().take(MAX_REFUSAL_REASON_CHARS).collect();
                tracing::info!(%peer, ?reason, "catch-up refused by peer");
                self.catch_up.on_refused(peer, Instant::now());
            }
        }
    }

    /// Answers a catch-up request from the read pool, or refuses a peer that may not have it.
    fn serve_catch_up(
        &mut self,
        peer: PeerId,
        request: CatchUpRequest,
        channel: ResponseChannel<CatchUpResponse>,
    ) {
        let served = self.served.clone();
        if let Some(refusal) = self.serving.refusal(&peer, &self.contributions) {
            P2pStats::bump(&self.stats.catch_up_refused);
            tracing::info!(%peer, contributed = self.contributions.count(&peer), "catch-up refused");
            let _ = served.try_send((channel, refusal));
            return;
        }
        P2pStats::bump(&self.stats.catch_up_pages_served);
        let since = request.since.max(window_start(
            self.config.options.retention,
            Timestamp::now(),
        ));
        let key = self.config.key.clone();
        let network = self.config.options.network.clone();
        let reader = self.config.reader.clone();
        tokio::spawn(async move {
            let page = reader
                .run(move |conn| {
                    let after = request
                        .after
                        .as_ref()
                        .map(|(time, uuid)| (time.as_str(), uuid.as_str()));
                    let page = query::shareable_events(conn, &since, after, PAGE_RECORDS)?;
                    Ok(page_response(page, &network, &key))
                })
                .await;
            let response = page.unwrap_or_else(|error| {
                tracing::error!(%error, "cannot read catch-up page");
                CatchUpResponse::Page {
                    records: Vec::new(),
                    next: None,
                }
            });
            let _ = served.send((channel, response)).await;
        });
    }
}
