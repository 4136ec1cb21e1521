//! Catch-up of the retention window over request-response: a node asks a peer for the records
//! since a time, page by page, resuming after the last record it got. Served only to peers that
//! contributed (see `reciprocity`).

use serde::{Deserialize, Serialize};

/// Records per catch-up page.
pub const PAGE_RECORDS: usize = 500;

/// "Send me the records at or after `since`, after `after`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Earliest `event_timestamp` wanted.
    pub since: String,
    /// `(event_timestamp, event_uuid)` of the last record already received, to resume.
    pub after: Option<(String, String)>,
}

/// A page, or a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum SyncResponse {
    /// Signed records (JSON texts) and where the next page starts; `None` when this was the last.
    Page {
        /// The records.
        records: Vec<String>,
        /// Position to resume from.
        next: Option<(String, String)>,
    },
    /// The requester has not contributed enough records to this node.
    Refused {
        /// Why.
        reason: String,
    },
}
