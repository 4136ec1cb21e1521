//! Community analytics, opt in (`--share-stats`): a node that opts in publishes, once an hour,
//! a signed summary of what it captured itself in the last hour (events, distinct source IPs and
//! called numbers, events by attack type and SIP method, source IPs by country; no IP, number or
//! message) on its network's stats topic; every node with `-p` verifies the summaries it
//! receives and adds them up into `/api/v1/community`. A node that does not opt in publishes
//! nothing; its peers' summaries still reach it (it relays them like any gossip).
//!
//! # Layout
//!
//! - `summary`: signing ours, the checks of theirs (plain functions).
//! - `build`: our summary from the store (the rollups and aggregate tables, through the read
//!   pool, or a read-only connection for `--print-shared-stats`).
//! - `ledger`: the community's summaries added up, one per node per hour, nodes capped.
//!
//! The wire types and limits are in `protocol` (`protocol/summary.rs`); the node's event loop
//! publishes and receives (`node/community.rs`).

mod build;
mod ledger;
mod summary;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use libp2p::PeerId;
use libp2p::identity::Keypair;

pub use build::{Author, summarize};
pub use ledger::{CommunityView, NodeView, Totals};
pub use summary::{SummaryError, check_body, is_country_code, is_method};

use super::P2pError;
use super::protocol::SignedSummary;
use crate::countries::Countries;
use crate::telemetry::{Count, Readings, Report};
pub(crate) use ledger::hour_of;
use ledger::{Admission, Ledger};

/// Whether this node publishes its summaries, and how often it checks that one is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareStats {
    /// Publish (`--share-stats`).
    pub publish: bool,
    /// How often a summary is made and published when none went out this hour yet (an hour by
    /// default; `share_stats_interval_secs`).
    pub interval: Duration,
}

/// What the node tells gossipsub of a summary it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Counted: forward it.
    Accepted,
    /// Not counted, not the sender's fault (a second one this hour, or ours): do not forward.
    Ignored,
    /// Forged, malformed or stale: do not forward, and score the sender down.
    Rejected,
}

/// The community's summaries and the counters of sending and receiving them; shared by the
/// node (which adds) and the API (which reads).
#[derive(Debug, Default)]
pub struct Community {
    ledger: Mutex<Ledger>,
    /// Summaries of ours published.
    pub published: AtomicU64,
    /// Bytes of the summaries of ours published.
    pub published_bytes: AtomicU64,
    /// Summaries of ours not published (no peer on the topic, or it could not be built); the
    /// node tries again at the next interval.
    pub unpublished: AtomicU64,
    /// Summaries received from peers.
    pub received: AtomicU64,
    /// Summaries counted.
    pub accepted: AtomicU64,
    /// Refused: larger than the limit, not a summary, or another version.
    pub refused_malformed: AtomicU64,
    /// Refused: the signature does not match the node it names.
    pub refused_signature: AtomicU64,
    /// Refused: of another network.
    pub refused_network: AtomicU64,
    /// Refused: a figure or list out of its limits.
    pub refused_fields: AtomicU64,
    /// Refused: a period that ends in the future or too long ago.
    pub refused_window: AtomicU64,
    /// Refused: the node had one counted this hour already.
    pub refused_duplicate_in_hour: AtomicU64,
    /// Our own summaries coming back.
    pub own: AtomicU64,
    /// Nodes forgotten to keep within the cap.
    pub nodes_dropped: AtomicU64,
}

impl Community {
    /// Checks a summary received at `now` on `network` (this node being `local_peer`), counts
    /// it and, when it passes, adds it up.
    pub(crate) fn receive(
        &self,
        data: &[u8],
        network: &str,
        local_peer: &PeerId,
        now: Timestamp,
    ) -> Outcome {
        bump(&self.received);
        let (author, body) = match SignedSummary::verify(data, network, now) {
            Ok(verified) => verified,
            Err(error) => {
                tracing::debug!(%error, "community summary refused");
                bump(self.refusal_counter(&error));
                return Outcome::Rejected;
            }
        };
        if author == *local_peer {
            bump(&self.own);
            return Outcome::Ignored;
        }
        let admission = match self.ledger.lock() {
            Ok(mut ledger) => ledger.admit(author, &body, now),
            Err(_) => return Outcome::Ignored,
        };
        match admission {
            Admission::Accepted { dropped_node } => {
                bump(&self.accepted);
                if dropped_node {
                    bump(&self.nodes_dropped);
                }
                tracing::debug!(peer = %author, events = body.events, "community summary");
                Outcome::Accepted
            }
            Admission::DuplicateInHour => {
                bump(&self.refused_duplicate_in_hour);
                Outcome::Ignored
            }
        }
    }

    /// `/api/v1/community`'s body as of `now`.
    pub fn view(&self, now: Timestamp) -> CommunityView {
        match self.ledger.lock() {
            Ok(ledger) => ledger.view(now),
            Err(poisoned) => poisoned.into_inner().view(now),
        }
    }

    fn refusal_counter(&self, error: &SummaryError) -> &AtomicU64 {
        match error {
            SummaryError::BadSignature => &self.refused_signature,
            SummaryError::OtherNetwork => &self.refused_network,
            SummaryError::InvalidField(_) => &self.refused_fields,
            SummaryError::OutOfWindow => &self.refused_window,
            _ => &self.refused_malformed,
        }
    }

    fn nodes(&self) -> u64 {
        self.ledger.lock().map_or(0, |ledger| ledger.nodes() as u64)
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Report for Community {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["community"]]
    }

    fn report(&self, out: &mut Readings) {
        #[rustfmt::skip]
        let counters = [
            ("published", self.published.count()),
            ("published_bytes", self.published_bytes.count()),
            ("unpublished", self.unpublished.count()),
            ("received", self.received.count()),
            ("accepted", self.accepted.count()),
            ("refused_malformed", self.refused_malformed.count()),
            ("refused_signature", self.refused_signature.count()),
            ("refused_network", self.refused_network.count()),
            ("refused_fields", self.refused_fields.count()),
            ("refused_window", self.refused_window.count()),
            ("refused_duplicate_in_hour", self.refused_duplicate_in_hour.count()),
            ("own", self.own.count()),
            ("nodes_dropped", self.nodes_dropped.count()),
        ];
        for (name, count) in counters {
            out.counter(
                "sentrypeer_community_summaries_total",
                "Community analytics: summaries of ours published or not, summaries received, \
                 counted and refused by reason, nodes forgotten over the cap.",
                count,
            )
            .label("counter", name)
            .health(&["community", name]);
        }
        out.gauge(
            "sentrypeer_community_nodes",
            "Nodes whose summaries of the last 24 hours are remembered.",
            self.nodes(),
        )
        .health(&["community", "nodes"]);
    }
}

/// `--print-shared-stats`: the signed summary this node would publish now, as the JSON text it
/// would send, from the database at `db_file` (opened read-only) and the key at `key_file`
/// (which must exist: a node that never ran with `-p` has nothing to sign with).
///
/// # Errors
/// [`P2pError::Key`] without a key; [`P2pError::Summary`] when the database cannot be read.
pub fn shared_stats_text(
    db_file: &Path,
    key_file: &Path,
    network: &str,
    countries: &Countries,
) -> Result<String, P2pError> {
    if !key_file.exists() {
        return Err(P2pError::Key {
            path: key_file.to_owned(),
            reason: "no key yet: start the node with -p once".to_owned(),
        });
    }
    let key = super::identity::load_or_create(key_file)?;
    let conn = crate::store::open_read_only(db_file)
        .map_err(|error| P2pError::Summary(error.to_string()))?;
    Ok(signed_summary(&conn, countries, network, &key, Timestamp::now())?.to_json())
}

/// Our summary as of `now`, signed.
///
/// # Errors
/// A failed query, or a summary that cannot be signed.
pub(crate) fn signed_summary(
    conn: &rusqlite::Connection,
    countries: &Countries,
    network: &str,
    key: &Keypair,
    now: Timestamp,
) -> Result<SignedSummary, P2pError> {
    let author = Author {
        network: network.to_owned(),
        peer_id: key.public().to_peer_id().to_base58(),
    };
    let body = summarize(conn, countries, &author, now)
        .map_err(|error| P2pError::Summary(error.to_string()))?;
    SignedSummary::sign(&body, key).map_err(|error| P2pError::Summary(error.to_string()))
}

#[cfg(test)]
mod tests;
