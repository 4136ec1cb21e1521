//! Serving catch-up to peers, decided without a network: to contributors only ([`ServePolicy`]),
//! and within bounds ([`Serving`]): one request at a time per peer, a page at most every
//! [`SERVE_PAGE_INTERVAL`], at most [`SERVE_CONCURRENT_PAGES`] pages read at once for all peers,
//! one pass over the window per connection (pages only move forward and end with the last one),
//! and at most [`SERVE_WINDOWS_PER_PEER`] passes per peer per [`SERVE_WINDOW_PERIOD`] over all
//! its connections.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::time::Instant;

use libp2p::PeerId;
use libp2p::swarm::ConnectionId;
use lru::LruCache;

use crate::p2p::protocol::{
    CatchUpRequest, CatchUpResponse, Cursor, SERVE_CONCURRENT_PAGES, SERVE_PAGE_INTERVAL,
    SERVE_TRACKED_PEERS, SERVE_WINDOW_PERIOD, SERVE_WINDOWS_PER_PEER,
};
use crate::p2p::reciprocity::Contributions;

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
        (!served).then(|| {
            refused(format!(
                "share at least {} record(s) first",
                self.min_contribution.max(1)
            ))
        })
    }
}

fn refused(reason: String) -> CatchUpResponse {
    CatchUpResponse::Refused { reason }
}

/// Why a request within the reciprocity rules was still refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverBound {
    /// A request of the peer is being answered, or the node reads as many pages as it serves at
    /// once.
    Busy,
    /// Sooner than [`SERVE_PAGE_INTERVAL`] after the peer's last page.
    TooFast,
    /// The window was served on this connection already, or the peer started too many passes.
    WindowServed,
}

impl OverBound {
    /// The refusal sent to the peer.
    pub(crate) fn response(self) -> CatchUpResponse {
        refused(
            match self {
                Self::Busy => "busy: one page at a time, ask again later",
                Self::TooFast => "too fast: one page at a time, at a steady pace",
                Self::WindowServed => "the window was served already",
            }
            .to_owned(),
        )
    }
}

/// Where serving one connection stands.
#[derive(Debug, Clone, Default)]
struct Pass {
    in_flight: bool,
    last_page: Option<Instant>,
    /// Where the last page served ended (`None` before the first).
    position: Option<Cursor>,
    started: bool,
    finished: bool,
}

/// The bounds on serving catch-up, and what they remember.
#[derive(Debug)]
pub(crate) struct Serving {
    passes: HashMap<(PeerId, ConnectionId), Pass>,
    windows: LruCache<PeerId, VecDeque<Instant>>,
    reading: usize,
}

impl Default for Serving {
    fn default() -> Self {
        let capacity = NonZeroUsize::new(SERVE_TRACKED_PEERS).unwrap_or(NonZeroUsize::MIN);
        Self {
            passes: HashMap::new(),
            windows: LruCache::new(capacity),
            reading: 0,
        }
    }
}

impl Serving {
    /// Whether `request` from `peer` on `connection` may be served at `now`; when it may, a page
    /// is being read for it until [`on_served`](Self::on_served).
    pub(crate) fn admit(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        request: &CatchUpRequest,
        now: Instant,
    ) -> Result<(), OverBound> {
        let busy = self.reading >= SERVE_CONCURRENT_PAGES
            || self
                .passes
                .iter()
                .any(|((other, _), pass)| *other == peer && pass.in_flight);
        if busy {
            return Err(OverBound::Busy);
        }
        let pass = self.passes.entry((peer, connection)).or_default();
        let backwards = pass.started && request.after < pass.position;
        if pass.finished || backwards {
            return Err(OverBound::WindowServed);
        }
        if pass
            .last_page
            .is_some_and(|last| now.saturating_duration_since(last) < SERVE_PAGE_INTERVAL)
        {
            return Err(OverBound::TooFast);
        }
        if !pass.started {
            let starts = self.windows.get_or_insert_mut(peer, VecDeque::new);
            while starts
                .front()
                .is_some_and(|at| now.saturating_duration_since(*at) >= SERVE_WINDOW_PERIOD)
            {
                starts.pop_front();
            }
            if starts.len() >= SERVE_WINDOWS_PER_PEER {
                return Err(OverBound::WindowServed);
            }
            starts.push_back(now);
            pass.started = true;
        }
        pass.in_flight = true;
        self.reading += 1;
        Ok(())
    }

    /// The page for `peer` on `connection` was read and sent at `now`, ending at `next` (`None`:
    /// it was the last, the pass is over).
    pub(crate) fn on_served(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        next: Option<Cursor>,
        now: Instant,
    ) {
        self.reading = self.reading.saturating_sub(1);
        if let Some(pass) = self.passes.get_mut(&(peer, connection)) {
            pass.in_flight = false;
            pass.last_page = Some(now);
            pass.finished = next.is_none();
            pass.position = next;
        }
    }

    /// The connection closed: what it held is forgotten (the passes the peer started are not).
    pub(crate) fn on_closed(&mut self, peer: PeerId, connection: ConnectionId) {
        self.passes.remove(&(peer, connection));
    }

    /// Connections remembered.
    #[cfg(test)]
    pub(crate) fn connections(&self) -> usize {
        self.passes.len()
    }
}

#[cfg(test)]
mod tests;
