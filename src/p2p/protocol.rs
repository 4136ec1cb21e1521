//! The peer-to-peer wire protocol in one place: its version, the protocol names of a network,
//! every message that crosses the wire, and every limit on what is sent and accepted, each with
//! its reason. Nothing here does I/O; `record` signs and checks records, `behaviour` builds the
//! libp2p protocols from these names, `node` runs them.
//!
//! ```text
//! gossip message (topic sentrypeer/<network>/bad-actors/1):
//!   Batch          { "v": 1, "records": ["<SignedRecord as JSON>", ...] }
//! SignedRecord     { "body": "<RecordBody as compact JSON>", "signature": "<hex ed25519>" }
//! RecordBody       { "v": 1, "network", "peer_id", the original's 13 fields (addresses as
//!                    IP:port), "request_uri_user", "message_kind", optional: "attack_type",
//!                    "auth_scheme", "auth_username", "auth_realm", "auth_nonce", "auth_uri",
//!                    "auth_response", "auth_algorithm", "auth_qop", "auth_cnonce", "auth_nc",
//!                    "from_user", "contact", "p_asserted_identity" }
//! catch-up (request-response /sentrypeer/<network>/sync/1, JSON):
//!   CatchUpRequest  { "since": "<event_timestamp>", "after": ["<event_timestamp>", "<uuid>"] | null }
//!   CatchUpResponse { "Page": { "records": ["<SignedRecord as JSON>", ...], "next": [..] | null } }
//!                 | { "Refused": { "reason": "..." } }
//! ```
//!
//! Every message refuses unknown fields. The optional record keys are left out when empty; a
//! record without `attack_type` (from a node that predates attack types) is still valid and is
//! classified from its `sip_message`, while nodes that predate them refuse records carrying the
//! new keys. The signature covers the exact bytes of `body`, made with the key of the node whose
//! PeerId is `body.peer_id` (ed25519 PeerIds embed the public key), so a record stays verifiable
//! however many nodes pass it on.
//!
//! Community analytics (`--share-stats`: signed hourly summaries on their own topic) have their
//! wire types and limits in `summary`, re-exported here.

use std::time::Duration;

use jiff::SignedDuration;
use libp2p::gossipsub;
use serde::{Deserialize, Serialize};

mod summary;

pub use summary::*;

/// Version of the protocol: the `v` of every [`RecordBody`] and [`Batch`], and the last part of
/// every protocol name. A record or batch of another version is refused; nodes of different
/// versions do not even find each other's protocols.
pub const PROTOCOL_VERSION: u8 = 1;

// ---------------------------------------------------------------------------------------------
// Limits on what peers send us
// ---------------------------------------------------------------------------------------------

/// Largest signed record accepted: a record carries at most [`MAX_SHARED_MESSAGE_BYTES`] of SIP
/// message, escaped twice (once in the body, once as the body string), plus about 1 KB of other
/// fields and the signature; anything bigger is not a record we would send, and a peer cannot
/// make us parse large texts.
pub const MAX_RECORD_BYTES: usize = 8 * 1024;
/// Raw SIP messages are shared up to this many bytes (the rest stays with the capturing node):
/// enough for the headers scanners send, and it keeps a record within [`MAX_RECORD_BYTES`].
pub const MAX_SHARED_MESSAGE_BYTES: usize = 4 * 1024;
/// Longest called number, method, user agent and attack detail accepted: real ones are far
/// shorter, and the cap bounds what one record can make us store and index.
pub const MAX_FIELD_BYTES: usize = 1024;
/// An ed25519 signature in hex: 64 bytes.
pub const ED25519_SIGNATURE_HEX_CHARS: usize = 128;
/// Longest signature text decoded: twice an ed25519 signature, so longer texts are refused
/// before any work is spent on them.
pub const MAX_SIGNATURE_HEX_CHARS: usize = 2 * ED25519_SIGNATURE_HEX_CHARS;
/// How far in the future a record's timestamp may be: operators' clocks differ by this much.
pub const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(300);
/// An author may send this many seconds' worth of `--p2p-max-records-per-second` at once
/// (a burst of captures), then no more than the rate.
pub const RATE_BURST_SECONDS: u32 = 2;
/// A peer's catch-up refusal reason is logged up to this many characters (Debug-quoted), so a
/// peer can neither flood the log nor forge log lines.
pub const MAX_REFUSAL_REASON_CHARS: usize = 200;

// ---------------------------------------------------------------------------------------------
// Limits on what we send
// ---------------------------------------------------------------------------------------------

/// Largest gossipsub message (its `max_transmit_size`, both ways): a batch of signed records. It
/// bounds the memory one message from a peer can take.
pub const MAX_GOSSIP_BYTES: usize = 256 * 1024;
/// Largest batch of records we publish: well under [`MAX_GOSSIP_BYTES`]. libp2p-gossipsub
/// (0.50.1) checks the size of its read buffer against the limit, not the size of the frame,
/// and it reads 8 KiB at a time, so a frame within 8 KiB of the limit followed by the next one
/// is refused by the receiver, which drops the stream; after five such drops the sender stops
/// sending to that peer for the life of the connection. 16 KiB of room covers the 8 KiB read
/// and the message's own envelope (source, sequence number, topic, signature).
pub const MAX_BATCH_BYTES: usize = MAX_GOSSIP_BYTES - 16 * 1024;
/// Local records gathered before a push (or at every tick, whichever comes first): a flood of
/// probes becomes a few messages a tick, not one message per probe.
pub const BATCH_RECORDS: usize = 200;
/// Messages queued for one peer before more are dropped (counted in `unsent_to_slow_peers`):
/// at most about 8 MiB of batches per peer that reads too slowly, instead of gossipsub's default
/// 5,000 messages (over a gigabyte of full batches).
pub const PEER_SEND_QUEUE_MESSAGES: usize = 32;
/// Records per catch-up page: few round trips for a week of records, while a page of the
/// largest records, escaped once more inside the response, stays under the request-response
/// JSON codec's response limit ([`CATCH_UP_RESPONSE_LIMIT`]).
pub const PAGE_RECORDS: usize = 500;
/// libp2p-request-response's JSON codec refuses responses larger than this (its default).
pub const CATCH_UP_RESPONSE_LIMIT: usize = 10 * 1024 * 1024;
/// How long a catch-up request may take before it counts as failed (a page is read, signed
/// and sent well within it, even from a busy peer).
pub const CATCH_UP_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Catch-up requests open at once on one connection, both ways: one page at a time is all a
/// node asks of a peer, so a peer cannot make us read many pages at once through one
/// connection (request-response's default is 100).
pub const CATCH_UP_STREAMS_PER_CONNECTION: usize = 2;

// ---------------------------------------------------------------------------------------------
// Catch-up: how fast and how much, both ways
// ---------------------------------------------------------------------------------------------

/// Shortest time between two page requests to one peer: at most 20 pages (10,000 records) a
/// second from one source, so a week of a busy community (a million records) comes in under
/// two minutes, and serving a newcomer stays a small share of the server's CPU.
pub const CATCH_UP_PAGE_INTERVAL: Duration = Duration::from_millis(50);
/// Shortest time between two pages served to one peer: half of [`CATCH_UP_PAGE_INTERVAL`], so
/// a requester that keeps to its pace is never refused because of network jitter, and one that
/// asks faster is.
pub const SERVE_PAGE_INTERVAL: Duration = Duration::from_millis(25);
/// Peers whose window is caught up one after another: the first gives the window, the second
/// fills what the first lacked (a shorter retention, a gap while it was down). Asking every
/// peer would multiply the transfer by the number of peers (50 copies of a million records for
/// a newcomer to a 50-node network), and asking them at once would double it from the start.
pub const CATCH_UP_PASSES: usize = 2;
/// Pages read from the database at once for all requesters together: serving catch-up never
/// takes more than this share of the read pool and of the CPU from the API and from capture.
pub const SERVE_CONCURRENT_PAGES: usize = 2;
/// Windows one peer may start pulling within [`SERVE_WINDOW_PERIOD`], over all its connections
/// (one per connection in any case): a node that restarts a few times an hour is served each
/// time, one that reconnects to pull the window again and again is not.
pub const SERVE_WINDOWS_PER_PEER: usize = 3;
/// See [`SERVE_WINDOWS_PER_PEER`].
pub const SERVE_WINDOW_PERIOD: Duration = Duration::from_secs(3600);
/// Peers whose served windows are remembered (beyond, the oldest are forgotten first): enough
/// for a large community, while a flood of identities costs a bounded map.
pub const SERVE_TRACKED_PEERS: usize = 4096;
/// How long a peer that broke the catch-up protocol (endless or malformed pages, forged
/// records) stays cut off and scored below gossipsub's graylist threshold.
pub const CUT_OFF_PERIOD: Duration = Duration::from_secs(3600);
/// Peers remembered as cut off (the oldest are forgotten first beyond this).
pub const MAX_CUT_OFF_PEERS: usize = 4096;

const _: () = assert!(MAX_BATCH_BYTES < MAX_GOSSIP_BYTES);
const _: () = assert!(MAX_RECORD_BYTES + 16 < MAX_BATCH_BYTES);
const _: () = assert!(PAGE_RECORDS * MAX_RECORD_BYTES * 2 < CATCH_UP_RESPONSE_LIMIT);

// ---------------------------------------------------------------------------------------------
// Limits on what a node keeps
// ---------------------------------------------------------------------------------------------

/// Event ids remembered to drop records already seen without asking the database: a few
/// minutes of a busy network (16 bytes each, about 6 MB with the set's overhead).
pub const SEEN_CAPACITY: usize = 200_000;
/// Peers dialled on discovery until this many are connected: twice gossipsub's largest mesh
/// (12), so the mesh always has candidates and gossip about messages (IHAVE) reaches the rest,
/// without dialling a whole community (50 nodes that all dial each other hold 1,225
/// connections; stopping at 24 peers, about 600).
pub const MAX_DIALLED_PEERS: u64 = 24;
/// Authors whose contributions are counted in memory (records of the window, per author): a
/// flood of new identities each sharing a record or two cannot grow the map without bound; the
/// smallest contributors are forgotten first.
pub const MAX_TRACKED_AUTHORS: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Limits on connections
// ---------------------------------------------------------------------------------------------

/// Connections to one peer: two nodes dialling each other at once make two; more are refused.
pub const MAX_CONNECTIONS_PER_PEER: u32 = 2;
/// Incoming connections in their handshake at once (each holds a file descriptor before the
/// peer has proved an identity).
pub const MAX_PENDING_INBOUND: u32 = 32;
/// Outgoing dials in progress at once.
pub const MAX_PENDING_OUTBOUND: u32 = 32;
/// File descriptors the node itself holds besides connections: its listeners (IPv4 and IPv6),
/// mDNS's sockets, DNS look-ups.
pub const NODE_DESCRIPTORS: u32 = 8;

/// The protocol names of one `--p2p-network`: every one carries the network name, so separate
/// communities never exchange a byte.
#[derive(Debug, Clone)]
pub struct Protocols {
    /// Identify's protocol version string (`/sentrypeer/<network>/1`); a peer announcing another
    /// one is disconnected.
    pub identify: String,
    /// The gossipsub topic records are pushed on (`sentrypeer/<network>/bad-actors/1`).
    pub topic: gossipsub::IdentTopic,
    /// The gossipsub topic of community summaries (`sentrypeer/<network>/community-stats/1`).
    pub stats_topic: gossipsub::IdentTopic,
    /// Gossipsub's protocol id prefix (`/sentrypeer/<network>/meshsub`; gossipsub appends its
    /// own version).
    pub gossip_prefix: String,
    /// Kademlia's protocol (`/sentrypeer/<network>/kad/1`).
    pub kademlia: String,
    /// Catch-up's request-response protocol (`/sentrypeer/<network>/sync/1`).
    pub catch_up: String,
}

impl Protocols {
    /// Names for `network`.
    pub fn new(network: &str) -> Self {
        let v = PROTOCOL_VERSION;
        Self {
            identify: format!("/sentrypeer/{network}/{v}"),
            topic: gossipsub::IdentTopic::new(format!("sentrypeer/{network}/bad-actors/{v}")),
            stats_topic: gossipsub::IdentTopic::new(format!(
                "sentrypeer/{network}/community-stats/{v}"
            )),
            gossip_prefix: format!("/sentrypeer/{network}/meshsub"),
            kademlia: format!("/sentrypeer/{network}/kad/{v}"),
            catch_up: format!("/sentrypeer/{network}/sync/{v}"),
        }
    }
}

/// Length of `text` written as a JSON string, quotes included: how the limits above count a
/// record inside a batch or a page, and a body inside its record. `"` and `\` take two bytes,
/// control characters six (`\u00XX`, to be safe: some have two-byte escapes), the rest as is.
pub fn json_string_len(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// A gossip message: a batch of signed records.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// [`PROTOCOL_VERSION`].
    pub v: u8,
    /// Signed records (JSON texts).
    pub records: Vec<String>,
}

impl Batch {
    /// A batch of this version.
    pub fn new(records: Vec<String>) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            records,
        }
    }

    /// The batch in `data`, when it is one of this version.
    pub fn decode(data: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(data)
            .ok()
            .filter(|batch| batch.v == PROTOCOL_VERSION)
    }
}

/// A record with its signature, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRecord {
    /// [`RecordBody`] as compact JSON: the exact bytes signed.
    pub body: String,
    /// Hex of the ed25519 signature over `body`.
    pub signature: String,
}

/// What a node signs: one event as it captured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    /// [`PROTOCOL_VERSION`].
    pub v: u8,
    /// The `--p2p-network` it was shared on.
    pub network: String,
    /// The capturing node's PeerId.
    pub peer_id: String,
    /// Always `sentrypeer`.
    pub app_name: String,
    /// Version of the capturing program.
    pub app_version: String,
    /// UTC, `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`.
    pub event_timestamp: String,
    /// UUID of the event.
    pub event_uuid: String,
    /// The capturing node's `created_by_node_id`.
    pub created_by_node_id: String,
    /// `passive` or `responsive`.
    pub collected_method: String,
    /// `UDP`, `TCP` or `TLS`.
    pub transport_type: String,
    /// `IP:port`.
    pub source_ip: String,
    /// `IP:port`.
    pub destination_ip: String,
    /// User part of the `To` URI.
    pub called_number: String,
    /// Request method.
    pub sip_method: String,
    /// `User-Agent`.
    pub sip_user_agent: String,
    /// The raw message, cut at [`MAX_SHARED_MESSAGE_BYTES`].
    pub sip_message: String,
    /// User part of the Request-URI.
    pub request_uri_user: Option<String>,
    /// `request`, `response`, `empty` or `malformed`.
    pub message_kind: String,
    /// What the event was after (a [`crate::sip::AttackType`] name); `None` in records from
    /// nodes that predate attack types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack_type: Option<String>,
    /// Credentials scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_scheme: Option<String>,
    /// Account tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    /// Digest `realm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_realm: Option<String>,
    /// Digest `nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_nonce: Option<String>,
    /// Digest `uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_uri: Option<String>,
    /// Digest `response`, or a Basic token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_response: Option<String>,
    /// Digest `algorithm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_algorithm: Option<String>,
    /// Digest `qop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_qop: Option<String>,
    /// Digest `cnonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_cnonce: Option<String>,
    /// Digest `nc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_nc: Option<String>,
    /// User part of the `From` URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user: Option<String>,
    /// `Contact` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// `P-Asserted-Identity` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_asserted_identity: Option<String>,
}

/// Where a catch-up page ends: `(event_timestamp, event_uuid)` of its last record.
pub type Cursor = (String, String);

/// "Send me the records at or after `since`, after `after`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatchUpRequest {
    /// Earliest `event_timestamp` wanted.
    pub since: String,
    /// Position of the last record already received, to resume.
    pub after: Option<Cursor>,
}

/// A page, or a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum CatchUpResponse {
    /// Signed records (JSON texts) and where the next page starts; `None` when this was the last.
    Page {
        /// The records.
        records: Vec<String>,
        /// Position to resume from.
        next: Option<Cursor>,
    },
    /// The requester has not contributed enough records to this node.
    Refused {
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests;
