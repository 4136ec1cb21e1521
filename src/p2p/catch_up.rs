//! Catch-up of the retention window, decided without a network: whom to ask and when
//! ([`CatchUpRequests`]: each peer once, page after page, again later when it refused), whether
//! to answer a peer ([`ServePolicy`]: contributors only) and what a served page holds
//! ([`page_response`]). The node sends, receives and reads the database.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use libp2p::PeerId;
use libp2p::identity::Keypair;

use super::protocol::{CatchUpResponse, Cursor, PAGE_RECORDS};
use super::reciprocity::Contributions;
use super::record::SignedRecord;
use crate::event::format_timestamp;
use crate::store::query::{SharePage, Shareable};

/// First and longest wait before asking a peer that refused catch-up again.
pub(crate) const RETRY_BACKOFF: (Duration, Duration) =
    (Duration::from_secs(2), Duration::from_secs(60));

/// The oldest `event_timestamp` shared or accepted at `now`: the start of the retention window
/// (`None`: everything).
pub(crate) fn window_start(retention: Option<SignedDuration>, now: Timestamp) -> String {
    let start = retention
        .and_then(|window| now.checked_sub(window).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    format_timestamp(start)
}

/// A catch-up request to send now: `peer`'s page after `after` (from the window's start when
/// `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ask {
    /// Whom to ask.
    pub(crate) peer: PeerId,
    /// Where the last page ended.
    pub(crate) after: Option<Cursor>,
}

/// Where catch-up from one peer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// A request is out.
    InFlight,
    /// It sent its last page.
    Done,
    /// It refused (or failed); ask again from `after` at this time.
    RetryAt(Instant, Option<Cursor>),
}

/// Our catch-up from each peer.
#[derive(Debug)]
pub(crate) struct CatchUpRequests {
    peers: HashMap<PeerId, State>,
    retry: Duration,
}

impl Default for CatchUpRequests {
    fn default() -> Self {
        Self {
            peers: HashMap::new(),
            retry: RETRY_BACKOFF.0,
        }
    }
}

impl CatchUpRequests {
    fn ask(&mut self, peer: PeerId, after: Option<Cursor>) -> Ask {
        self.peers.insert(peer, State::InFlight);
        Ask { peer, after }
    }

    /// `peer`'s first connection is up: ask it from the start, unless it was asked before.
    pub(crate) fn on_connected(&mut self, peer: PeerId) -> Option<Ask> {
        (!self.peers.contains_key(&peer)).then(|| self.ask(peer, None))
    }

    /// `peer`'s last connection closed: a request in flight is lost, so the next connection
    /// starts over.
    pub(crate) fn on_disconnected(&mut self, peer: &PeerId) {
        if self.peers.get(peer) == Some(&State::InFlight) {
            self.peers.remove(peer);
        }
    }

    /// `peer` sent a page ending at `next`: ask for the following one, or it is done.
    pub(crate) fn on_page(&mut self, peer: PeerId, next: Option<Cursor>) -> Option<Ask> {
        match next {
            Some(after) => Some(self.ask(peer, Some(after))),
            None => {
                self.peers.insert(peer, State::Done);
                None
            }
        }
    }

    /// `peer` refused (we contributed too little): ask again later, waiting twice as long after
    /// each refusal, up to [`RETRY_BACKOFF`]'s longest.
    pub(crate) fn on_refused(&mut self, peer: PeerId, now: Instant) {
        self.peers
            .insert(peer, State::RetryAt(now + self.retry, None));
        self.retry = (self.retry * 2).min(RETRY_BACKOFF.1);
    }

    /// The request to `peer` failed (timeout, connection lost): ask again after the longest wait.
    pub(crate) fn on_failed(&mut self, peer: PeerId, now: Instant) {
        self.peers
            .insert(peer, State::RetryAt(now + RETRY_BACKOFF.1, None));
    }

    /// We shared records: a refused catch-up may now be granted, so the next refusal waits the
    /// shortest time again.
    pub(crate) fn on_shared(&mut self) {
        self.retry = RETRY_BACKOFF.0;
    }

    /// Requests whose retry time has come, to peers still `connected`.
    pub(crate) fn due(&mut self, now: Instant, connected: &[PeerId]) -> Vec<Ask> {
        let due: Vec<(PeerId, Option<Cursor>)> = self
            .peers
            .iter()
            .filter_map(|(peer, state)| match state {
                State::RetryAt(at, after) if *at <= now && connected.contains(peer) => {
                    Some((*peer, after.clone()))
                }
                _ => None,
            })
            .collect();
        due.into_iter()
            .map(|(peer, after)| self.ask(peer, after))
            .collect()
    }
}

/// Whom this node serves catch-up to.
#[derive(Debug, Clone)]
pub(crate) struct ServePolicy {
    /// Records a peer must have contributed (at least one).
    pub(crate) min_contribution: u64,
    /// Peers never served.
    pub(crate) deny: Vec<PeerId>,
}

impl ServePolicy {
    /// The refusal for `peer`, or `None` when it may be served: it is not denied and contributed
    /// enough.
    pub(crate) fn refusal(
        &self,
        peer: &PeerId,
        contributions: &Contributions,
    ) -> Option<CatchUpResponse> {
        let served =
            !self.deny.contains(peer) && contributions.may_catch_up(peer, self.min_contribution);
        (!served).then(|| CatchUpResponse::Refused {
            reason: format!(
                "share at least {} record(s) first",
                self.min_contribution.max(1)
            ),
        })
    }
}

/// The page to send for `page` (read with a limit of [`PAGE_RECORDS`]): local events signed
/// with `key` for `network`, peers' records as they came; it points to the next page when full.
pub(crate) fn page_response(page: SharePage, network: &str, key: &Keypair) -> CatchUpResponse {
    let full = page.events.len() >= PAGE_RECORDS;
    let records = page
        .events
        .into_iter()
        .filter_map(|shareable| match shareable {
            Shareable::Local(event) => SignedRecord::sign(&event, network, key)
                .ok()
                .map(|record| record.to_json()),
            Shareable::Peer(text) => Some(text),
        })
        .collect();
    CatchUpResponse::Page {
        records,
        next: if full { page.last } else { None },
    }
}

#[cfg(test)]
mod tests;
