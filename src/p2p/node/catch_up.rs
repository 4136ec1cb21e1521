//! Catch-up on the swarm: sending the requests [`CatchUpRequests`] decides, taking the records of
//! the pages that come back at their authors' rate, cutting off peers that break the protocol,
//! and answering peers' requests from the read pool when [`ServePolicy`] and [`Serving`] allow.
//!
//! [`CatchUpRequests`]: crate::p2p::catch_up::CatchUpRequests
//! [`ServePolicy`]: crate::p2p::catch_up::ServePolicy
//! [`Serving`]: crate::p2p::catch_up::Serving

use std::fmt::Display;
use std::sync::atomic::Ordering;
use std::time::Instant;

use jiff::Timestamp;
use libp2p::request_response::{self, ResponseChannel};
use libp2p::swarm::ConnectionId;
use libp2p::{PeerId, Swarm};

use super::{Node, ServedPage};
use crate::event::format_timestamp;
use crate::p2p::P2pStats;
use crate::p2p::behaviour::Behaviour;
use crate::p2p::catch_up::{Ask, OverBound, page_response, window_start};
use crate::p2p::inbound::Verdict;
use crate::p2p::protocol::{
    CatchUpRequest, CatchUpResponse, Cursor, MAX_CLOCK_SKEW, MAX_REFUSAL_REASON_CHARS, PAGE_RECORDS,
};
use crate::store::query;

impl Node {
    /// When catch-up is due next without a network event; `None` leaves it to the tick, also
    /// while a page is due but the pipeline has no room for it (the tick asks again).
    pub(super) fn catch_up_wake(&self) -> Option<Instant> {
        let wake = self.catch_up.wake_at()?;
        (wake > Instant::now() || self.intake.has_room_for_peer_records()).then_some(wake)
    }

    /// Takes the held records that may be taken, then asks for the next page when it is due
    /// and the pipeline has room for it.
    pub(super) fn catch_up(&mut self, swarm: &mut Swarm<Behaviour>) {
        self.take_held(swarm);
        let ready = self.intake.has_room_for_peer_records();
        if let Some(ask) = self.catch_up.due(Instant::now(), ready) {
            self.send_ask(swarm, ask);
        }
    }

    fn send_ask(&self, swarm: &mut Swarm<Behaviour>, ask: Ask) {
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
            request_response::Event::Message {
                peer,
                connection_id,
                message,
            } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.serve_catch_up(swarm, peer, connection_id, request, channel),
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
                let latest = Timestamp::now()
                    .checked_add(MAX_CLOCK_SKEW)
                    .unwrap_or_else(|_| Timestamp::now());
                let page = self
                    .catch_up
                    .on_page(peer, records, next, &format_timestamp(latest));
                match page {
                    Err(violation) => self.cut_off(swarm, peer, violation),
                    Ok(complete) => {
                        self.take_held(swarm);
                        if complete {
                            tracing::info!(%peer, "caught up");
                        }
                    }
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

    /// Takes the records of the last catch-up pages, until one is over its author's rate (it
    /// and the rest wait until the author may send again) or one is forged (its sender is cut
    /// off).
    pub(super) fn take_held(&mut self, swarm: &mut Swarm<Behaviour>) {
        let now = Instant::now();
        while let Some((from, record)) = self.catch_up.next_held(now) {
            let verdict = self.inbound.check(&record, Timestamp::now());
            if let Verdict::RateLimited { wait } = verdict {
                P2pStats::bump(&self.stats.catch_up_rate_waits);
                self.catch_up.hold_back(record, now + wait);
                return;
            }
            if self.settle(verdict, from) {
                self.cut_off(swarm, from, "a forged record");
                return;
            }
        }
    }

    /// Cuts `peer` off for `why`: it is not asked for catch-up again, what it sent and is not
    /// taken yet is dropped, it scores below the graylist threshold for a while, and its
    /// connections are closed.
    fn cut_off(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId, why: impl Display) {
        P2pStats::bump(&self.stats.catch_up_cut_off);
        tracing::warn!(%peer, why = %why, "peer cut off: it broke the catch-up protocol");
        self.catch_up.cut_off(&peer);
        self.contributions.cut_off(peer, Instant::now());
        self.update_score(swarm, &peer);
        let _ = swarm.disconnect_peer_id(peer);
    }

    /// Answers a catch-up request from the read pool, or refuses a peer that may not have it,
    /// or not now.
    fn serve_catch_up(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        connection: ConnectionId,
        request: CatchUpRequest,
        channel: ResponseChannel<CatchUpResponse>,
    ) {
        let refusal = match self.serve_policy.refusal(&peer, &self.contributions) {
            Some(refusal) => {
                P2pStats::bump(&self.stats.catch_up_refused);
                tracing::info!(%peer, contributed = self.contributions.count(&peer), "catch-up refused");
                Some(refusal)
            }
            None => self
                .serving
                .admit(peer, connection, &request, Instant::now())
                .err()
                .map(|over| {
                    P2pStats::bump(match over {
                        OverBound::Busy => &self.stats.catch_up_refused_busy,
                        OverBound::TooFast => &self.stats.catch_up_refused_pace,
                        OverBound::WindowServed => &self.stats.catch_up_refused_window_served,
                    });
                    tracing::debug!(%peer, ?over, "catch-up request over its bounds");
                    over.response()
                }),
        };
        if let Some(refusal) = refusal {
            let _ = swarm.behaviour_mut().sync.send_response(channel, refusal);
            return;
        }
        self.read_page(peer, connection, request, channel);
    }

    /// Reads, signs and queues the page `request` asks for, on the read pool.
    fn read_page(
        &self,
        peer: PeerId,
        connection: ConnectionId,
        request: CatchUpRequest,
        channel: ResponseChannel<CatchUpResponse>,
    ) {
        let since = request.since.max(window_start(
            self.config.options.retention,
            Timestamp::now(),
        ));
        let key = self.config.key.clone();
        let network = self.config.options.network.clone();
        let reader = self.config.reader.clone();
        let served = self.served.clone();
        let requester = peer.to_base58();
        tokio::spawn(async move {
            let page = reader
                .run(move |conn| {
                    let after = request
                        .after
                        .as_ref()
                        .map(|(time, uuid)| (time.as_str(), uuid.as_str()));
                    let page = query::shareable_events(
                        conn,
                        &since,
                        after,
                        PAGE_RECORDS,
                        Some(&requester),
                    )?;
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
            let page = ServedPage {
                peer,
                connection,
                channel,
                response,
            };
            let _ = served.send(page).await;
        });
    }

    /// Sends a page read for a peer, and counts it.
    pub(super) fn answer(&mut self, swarm: &mut Swarm<Behaviour>, page: ServedPage) {
        let next: Option<Cursor> = match &page.response {
            CatchUpResponse::Page { records, next } => {
                let bytes: usize = records.iter().map(String::len).sum();
                P2pStats::bump(&self.stats.catch_up_pages_served);
                self.stats
                    .catch_up_bytes_served
                    .fetch_add(bytes as u64, Ordering::Relaxed);
                next.clone()
            }
            CatchUpResponse::Refused { .. } => None,
        };
        self.serving
            .on_served(page.peer, page.connection, next, Instant::now());
        let sync = &mut swarm.behaviour_mut().sync;
        if sync.send_response(page.channel, page.response).is_err() {
            tracing::debug!(peer = %page.peer, "catch-up requester went away");
        }
    }
}
