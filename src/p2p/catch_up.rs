//! Catch-up of the retention window, decided without a network: whom to ask, when and how much
//! ([`CatchUpRequests`]), whether to answer a peer ([`ServePolicy`]: contributors only) and
//! within which bounds ([`Serving`]), and what a served page holds ([`page_response`]). The
//! node sends, receives and reads the database.

mod requests;
mod serving;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use libp2p::PeerId;
use libp2p::identity::Keypair;

pub(crate) use requests::CatchUpRequests;
pub(crate) use serving::{OverBound, ServePolicy, Serving};

use super::protocol::{CatchUpResponse, Cursor, PAGE_RECORDS};
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

/// The page to send for `page` (read with a limit of [`PAGE_RECORDS`]): local events signed
/// with `key` for `network`, peers' records as they came; it points to the next page when it
/// read a full page of rows (whether or not each could be rebuilt into an event).
pub(crate) fn page_response(page: SharePage, network: &str, key: &Keypair) -> CatchUpResponse {
    let full = page.rows >= PAGE_RECORDS;
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
