//! Our catch-up of the window from peers, decided without a network. One peer at a time is
//! asked, page after page, at most one request every [`CATCH_UP_PAGE_INTERVAL`], and only once the
//! records of the last page are all taken: each goes through the per-author rate like a pushed
//! one, and when an author is over its rate the rest of the page waits (nothing an honest peer
//! sends is lost, and a hostile one gets no more than the rate stored). A pass over the window
//! ends when a peer says there is no more; [`CATCH_UP_PASSES`] passes are made, from different
//! peers, preferring peers this node dialled (a bootstrap node, a peer it found) over peers that
//! dialled in. A peer whose pages break the protocol (too long, not moving forward, past the
//! window's end, more records than `--p2p-max-catch-up-records`) is cut off.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use libp2p::PeerId;

use super::{Ask, RETRY_BACKOFF};
use crate::p2p::protocol::{CATCH_UP_PAGE_INTERVAL, CATCH_UP_PASSES, Cursor, PAGE_RECORDS};

/// How a peer's catch-up page broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// More records than a page holds.
    LongPage(usize),
    /// "More" from a position that is not after the last one.
    NoProgress,
    /// "More" from past the end of the window (later than now, give or take the clock skew).
    BeyondWindow,
    /// More records than a window may hold (`--p2p-max-catch-up-records`).
    TooMany(u64),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LongPage(records) => write!(f, "a page of {records} records"),
            Self::NoProgress => f.write_str("a page that does not move forward"),
            Self::BeyondWindow => f.write_str("more pages past the end of the window"),
            Self::TooMany(records) => write!(f, "{records} records, more than a window's worth"),
        }
    }
}

/// A connected peer that may be asked.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// This node dialled it (rather than it dialling in).
    dialled: bool,
    /// Order of connection: the earliest is asked first.
    order: u64,
    /// It refused or failed: not asked again before this time.
    retry_at: Option<Instant>,
}

/// The peer being caught up from.
#[derive(Debug, Clone, Copy)]
struct Source {
    peer: PeerId,
    in_flight: bool,
    next_at: Instant,
    records: u64,
}

/// Our catch-up from peers: whom to ask, where the pass stands, the records waiting for their
/// authors' rate.
#[derive(Debug)]
pub(crate) struct CatchUpRequests {
    candidates: HashMap<PeerId, Candidate>,
    connections: u64,
    source: Option<Source>,
    cursor: Option<Cursor>,
    passes: usize,
    gave_a_pass: Vec<PeerId>,
    held: VecDeque<String>,
    held_from: Option<PeerId>,
    held_until: Option<Instant>,
    retry: Duration,
    max_records: u64,
}

impl CatchUpRequests {
    /// Nothing asked yet; a peer may send at most `max_records` records in one pass.
    pub(crate) fn new(max_records: u64) -> Self {
        Self {
            candidates: HashMap::new(),
            connections: 0,
            source: None,
            cursor: None,
            passes: 0,
            gave_a_pass: Vec::new(),
            held: VecDeque::new(),
            held_from: None,
            held_until: None,
            retry: RETRY_BACKOFF.0,
            max_records,
        }
    }

    /// `peer`'s first connection is up (`dialled` when this node dialled it): it may be asked.
    pub(crate) fn on_connected(&mut self, peer: PeerId, dialled: bool) {
        self.connections += 1;
        let order = self.connections;
        self.candidates.entry(peer).or_insert(Candidate {
            dialled,
            order,
            retry_at: None,
        });
    }

    /// `peer`'s last connection closed: it is forgotten, and a request to it is lost (the pass
    /// goes on from where it stands with another peer).
    pub(crate) fn on_disconnected(&mut self, peer: &PeerId) {
        self.candidates.remove(peer);
        self.drop_source(peer);
    }

    fn drop_source(&mut self, peer: &PeerId) {
        if self.source.is_some_and(|source| source.peer == *peer) {
            self.source = None;
        }
    }

    /// The request to send now, if any: the next page from the current source once its pace
    /// allows and every held record is taken, or the first page from the next peer. `ready`
    /// says whether the node can take a page now (its queues have room).
    pub(crate) fn due(&mut self, now: Instant, ready: bool) -> Option<Ask> {
        if self.passes >= CATCH_UP_PASSES || !self.held.is_empty() || !ready {
            return None;
        }
        if let Some(source) = &mut self.source {
            if source.in_flight || now < source.next_at {
                return None;
            }
            source.in_flight = true;
            source.next_at = now + CATCH_UP_PAGE_INTERVAL;
            return Some(Ask {
                peer: source.peer,
                after: self.cursor.clone(),
            });
        }
        let (peer, _) = self
            .candidates
            .iter()
            .filter(|(peer, candidate)| {
                candidate.retry_at.is_none_or(|at| at <= now) && !self.gave_a_pass.contains(peer)
            })
            .min_by_key(|(_, candidate)| (!candidate.dialled, candidate.order))?;
        let peer = *peer;
        self.source = Some(Source {
            peer,
            in_flight: true,
            next_at: now + CATCH_UP_PAGE_INTERVAL,
            records: 0,
        });
        Some(Ask {
            peer,
            after: self.cursor.clone(),
        })
    }

    /// When something is due next without a network event: held records whose authors may send
    /// again, or the current source's next page (`None`: nothing, or a request is out).
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        if !self.held.is_empty() {
            return self.held_until;
        }
        self.source
            .filter(|source| !source.in_flight && self.passes < CATCH_UP_PASSES)
            .map(|source| source.next_at)
    }

    /// `peer` sent `records` and `next`; `latest` is the latest position a record may have (now
    /// plus the clock skew, as an event timestamp). The records are held until taken
    /// ([`next_held`](Self::next_held)). Returns whether the pass is complete, or how the page
    /// broke the protocol (the peer is then forgotten and the page dropped).
    pub(crate) fn on_page(
        &mut self,
        peer: PeerId,
        records: Vec<String>,
        next: Option<Cursor>,
        latest: &str,
    ) -> Result<bool, Violation> {
        let Some(source) = self.source.as_mut().filter(|source| source.peer == peer) else {
            return Ok(false);
        };
        let total = source.records + records.len() as u64;
        let violation = if records.len() > PAGE_RECORDS {
            Some(Violation::LongPage(records.len()))
        } else if total > self.max_records {
            Some(Violation::TooMany(total))
        } else {
            next.as_ref().and_then(|next| {
                if self.cursor.as_ref().is_some_and(|cursor| next <= cursor) {
                    Some(Violation::NoProgress)
                } else if next.0.as_str() > latest {
                    Some(Violation::BeyondWindow)
                } else {
                    None
                }
            })
        };
        if let Some(violation) = violation {
            self.cut_off(&peer);
            return Err(violation);
        }
        source.records = total;
        source.in_flight = false;
        self.held.extend(records);
        self.held_from = Some(peer);
        let complete = next.is_none();
        self.cursor = next;
        if complete {
            self.passes += 1;
            self.gave_a_pass.push(peer);
            self.source = None;
        }
        Ok(complete)
    }

    /// The next record of the last pages to take, and the peer that sent it, unless they wait
    /// for an author's rate.
    pub(crate) fn next_held(&mut self, now: Instant) -> Option<(PeerId, String)> {
        if self.held_until.is_some_and(|until| until > now) {
            return None;
        }
        self.held_until = None;
        let record = self.held.pop_front()?;
        Some((self.held_from?, record))
    }

    /// `record` (just taken) is over its author's rate: it and the rest wait until `until`.
    pub(crate) fn hold_back(&mut self, record: String, until: Instant) {
        self.held.push_front(record);
        self.held_until = Some(until);
    }

    /// `peer` broke the protocol: it is forgotten and what it sent and is not taken yet is
    /// dropped.
    pub(crate) fn cut_off(&mut self, peer: &PeerId) {
        self.candidates.remove(peer);
        self.drop_source(peer);
        if self.held_from == Some(*peer) {
            self.held.clear();
            self.held_until = None;
        }
    }

    /// `peer` refused (we contributed too little, or it is busy): another peer is asked, and
    /// this one again later, waiting twice as long after each refusal, up to
    /// [`RETRY_BACKOFF`]'s longest.
    pub(crate) fn on_refused(&mut self, peer: PeerId, now: Instant) {
        self.wait_for(peer, now + self.retry);
        self.retry = (self.retry * 2).min(RETRY_BACKOFF.1);
    }

    /// The request to `peer` failed (timeout, connection lost): another peer is asked, and this
    /// one again after the longest wait.
    pub(crate) fn on_failed(&mut self, peer: PeerId, now: Instant) {
        self.wait_for(peer, now + RETRY_BACKOFF.1);
    }

    fn wait_for(&mut self, peer: PeerId, until: Instant) {
        if let Some(candidate) = self.candidates.get_mut(&peer) {
            candidate.retry_at = Some(until);
        }
        self.drop_source(&peer);
    }

    /// We shared records: a refused catch-up may now be granted, so the next refusal waits the
    /// shortest time again.
    pub(crate) fn on_shared(&mut self) {
        self.retry = RETRY_BACKOFF.0;
    }

    /// Peers remembered (connected ones only).
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.candidates.len()
    }
}

#[cfg(test)]
mod tests;
