//! The PBX personality's state machine: which request gets which replies, now and later.
//!
//! Pure: it takes the parsed probe, where it came from and the current [`Instant`], and returns a
//! [`ReplyPlan`] (datagrams to send now, timers to fire later, and whether the source has shown
//! it receives our replies). The transport sends them and calls [`Pbx::fire`] when a timer is
//! due. State (REGISTER attempt counters, dialogs, proven sources) lives in bounded LRU maps
//! whose idle entries expire; a spoofed source can fill them but never grow them.
//!
//! Over UDP, until a source has shown it receives our replies (`pbx/proof.rs`), we never send it
//! more bytes than it sent us (`pbx/budget.rs`). Credentials that do not answer our nonce count
//! as none, and an `ACK`, `BYE` or in-dialog request whose `To` tag is not ours never touches a
//! dialog.
//!
//! | Request | Reply |
//! |---|---|
//! | `ACK`, any response, malformed or empty input | nothing |
//! | unknown method | `501 Not Implemented` |
//! | known method missing from `Allow` | `405 Method Not Allowed` with `Allow` |
//! | `OPTIONS` | `200 OK` advertising the personality |
//! | `REGISTER` | `404` off-plan; `401` without credentials; `403` until `auth_attempts`, then `200` |
//! | `INVITE` | see `pbx/dialogs.rs` |
//! | `BYE`, `CANCEL` | `200` (+ `487` for a ringing INVITE) in a known dialog, else `481` |
//! | `UPDATE`, `PRACK`, `INFO` | `200` in a known dialog, else `481` |
//! | `REFER` | `603 Decline` in a known dialog, else as `SUBSCRIBE` |
//! | `SUBSCRIBE`, `PUBLISH`, `MESSAGE`, `NOTIFY` | `401` without credentials, else `403` |

use std::hash::Hasher as _;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;
use siphasher::sip::SipHasher13;

use super::parse::{MessageKind, Probe};
use super::personality::{Personality, ReplyStyle};
use super::respond::{
    Field, Keep, Response, Transaction, canned_reply, is_answerable_source, write_response,
};

mod accounts;
mod budget;
mod dialogs;
mod plan;
mod proof;
mod sdp;

use dialogs::{Dialog, DialogKey};
pub use plan::{Outgoing, ReplyPlan, Screening, Timer};
use proof::{Credentials, source_ip};
pub use proof::{MAX_PROVEN_SOURCES, PROVEN_SOURCE_EXPIRY};

/// REGISTER attempt counters kept (one per source IP and extension).
pub const MAX_REGISTRATION_COUNTERS: usize = 65_536;
/// A REGISTER attempt counter untouched this long is forgotten.
pub const REGISTRATION_IDLE_EXPIRY: Duration = Duration::from_secs(3600);
/// Calls tracked at once.
pub const MAX_DIALOGS: usize = 4096;
/// Largest transaction headers (`Via`s, `From`, `To`, `Call-ID`, `CSeq`) a dialog keeps; an INVITE
/// with more is answered `486 Busy Here` at once, without state.
pub const MAX_DIALOG_HEADER_BYTES: usize = 4096;
/// How long one digest nonce is handed out to a source before the next one.
const NONCE_WINDOW: Duration = Duration::from_secs(300);
/// `Expires` of an accepted REGISTER when the request asks for more or says nothing.
const MAX_REGISTRATION_SECS: u64 = 3600;

/// Where a request came from and how big its replies may be.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'p, 'a> {
    /// The parsed request.
    pub probe: &'p Probe<'a>,
    /// Who sent it (replies and our `BYE` go only here).
    pub source: SocketAddr,
    /// The address it was sent to (our `Contact`, `Via` and SDP address).
    pub local: SocketAddr,
    /// `UDP`, `TCP` or `TLS`, as written in a `Via`.
    pub transport: &'static str,
    /// Largest datagram allowed (the request's size over UDP), `None` for streams.
    pub max_reply_bytes: Option<usize>,
}

/// Bounds of the state a [`Pbx`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLimits {
    /// REGISTER attempt counters.
    pub registrations: NonZeroUsize,
    /// Dialogs.
    pub dialogs: NonZeroUsize,
    /// Sources remembered as proven (they echoed our nonce or tag, or came over a stream).
    pub proven_sources: NonZeroUsize,
}

impl Default for StateLimits {
    fn default() -> Self {
        Self {
            registrations: NonZeroUsize::new(MAX_REGISTRATION_COUNTERS)
                .unwrap_or(NonZeroUsize::MIN),
            dialogs: NonZeroUsize::new(MAX_DIALOGS).unwrap_or(NonZeroUsize::MIN),
            proven_sources: NonZeroUsize::new(MAX_PROVEN_SOURCES).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// Keyed SipHash: our `To` tags, nonces, branch and SDP numbers, unpredictable without the key.
#[derive(Debug, Clone)]
pub(crate) struct Keyed([u8; 16]);

impl Keyed {
    /// A hash of `parts` (each length-prefixed) under `domain`.
    pub(crate) fn hash(&self, domain: &[u8], parts: &[&[u8]]) -> u64 {
        let mut hasher = SipHasher13::new_with_key(&self.0);
        hasher.write(domain);
        for part in parts {
            hasher.write(&(part.len() as u64).to_le_bytes());
            hasher.write(part);
        }
        hasher.finish()
    }

    /// Our `To` tag for a dialog with `source`: the same `Call-ID`, `From` tag and source IP
    /// always give the same tag, and a tag echoed from another IP is not ours.
    pub(crate) fn to_tag(&self, call_id: &[u8], from_tag: Option<&[u8]>, source: IpAddr) -> String {
        let (has_tag, tag) = match from_tag {
            Some(tag) => (&b"1"[..], tag),
            None => (&b"0"[..], &b""[..]),
        };
        let address = proof::ip_octets(source);
        format!(
            "{:016x}",
            self.hash(b"to-tag", &[call_id, has_tag, tag, &address])
        )
    }
}

/// Per-source, per-extension count of authorized REGISTERs.
#[derive(Debug, Clone, Copy)]
struct Attempts {
    authorized: u32,
    last_seen: Instant,
}

/// The responder: a personality and the state of its conversations.
#[derive(Debug)]
pub struct Pbx {
    personality: Personality,
    keyed: Keyed,
    started: Instant,
    registrations: LruCache<(IpAddr, u64), Attempts>,
    dialogs: LruCache<DialogKey, Dialog>,
    /// Sources that showed they receive our replies, and when they last did.
    proven: LruCache<IpAddr, Instant>,
    next_dialog_id: u64,
}

impl Pbx {
    /// A responder with the default state bounds. `key` keys every hash (use random bytes);
    /// `now` starts the nonce clock.
    pub fn new(personality: Personality, key: [u8; 16], now: Instant) -> Self {
        Self::with_limits(personality, key, now, StateLimits::default())
    }

    /// A responder with explicit state bounds.
    pub fn with_limits(
        personality: Personality,
        key: [u8; 16],
        now: Instant,
        limits: StateLimits,
    ) -> Self {
        Self {
            personality,
            keyed: Keyed(key),
            started: now,
            registrations: LruCache::sparse(limits.registrations),
            dialogs: LruCache::sparse(limits.dialogs),
            proven: LruCache::sparse(limits.proven_sources),
            next_dialog_id: 0,
        }
    }

    /// The personality in use.
    pub fn personality(&self) -> &Personality {
        &self.personality
    }

    /// The replies to one received message (nothing for responses, `ACK`, malformed input and
    /// spoofed-looking sources), and whether its source has shown it receives our replies. Over
    /// UDP no datagram is bigger than the request, and until the source is proven the datagrams
    /// of a transaction together are not either.
    pub fn handle(&mut self, inbound: &Inbound<'_, '_>, now: Instant) -> ReplyPlan {
        self.expire(now);
        let source_proven = self.prove(inbound, now);
        let mut plan = self.plan(inbound, source_proven, now);
        plan.source_proven = source_proven;
        plan
    }

    fn plan(&mut self, inbound: &Inbound<'_, '_>, proven: bool, now: Instant) -> ReplyPlan {
        let probe = inbound.probe;
        if !is_answerable_source(inbound.source) || probe.kind != MessageKind::Request {
            return ReplyPlan::default();
        }
        let Some(method) = probe.method else {
            return ReplyPlan::default();
        };
        if self.personality.style == ReplyStyle::Canned {
            return ReplyPlan::single(canned_reply(inbound.max_reply_bytes), 200);
        }
        let source = source_ip(inbound.source);
        if method.eq_ignore_ascii_case("ACK") {
            let mut plan = ReplyPlan::default();
            plan.screening.foreign_to_tag = !self.ack(probe, source, now);
            return plan;
        }
        let keyed = &self.keyed;
        let Some(transaction) = Transaction::from_request(probe, inbound.source, |call_id, tag| {
            keyed.to_tag(call_id, tag, source)
        }) else {
            return ReplyPlan::default();
        };
        let credentials = self.credentials(probe, source, now);
        let mut screening = Screening {
            foreign_nonce: credentials == Credentials::Foreign,
            ..Screening::default()
        };
        let response = if !is_known_method(method) {
            Response::new(501, "Not Implemented").with(self.server())
        } else if !self.personality.allows(method) {
            let allow = Field::text("Allow", &self.personality.allow, Keep::Always);
            Response::new(405, "Method Not Allowed").with(allow.into_iter().chain(self.server()))
        } else {
            match method {
                "INVITE" => {
                    let mut plan = self.invite(inbound, transaction, credentials, proven, now);
                    plan.screening.foreign_nonce = screening.foreign_nonce;
                    return plan;
                }
                "CANCEL" => return self.cancel(inbound, &transaction, now),
                "OPTIONS" => Response::new(200, "OK").with(self.advertised().chain(self.server())),
                "REGISTER" => self.register(inbound, credentials, now),
                "BYE" => {
                    let (response, ours) = self.bye(probe, source, now);
                    screening.foreign_to_tag = !ours;
                    response
                }
                "UPDATE" | "PRACK" | "INFO" => self.in_dialog(probe, source, now),
                "REFER" if self.has_dialog(probe, source, now) => {
                    Response::new(603, "Decline").with(self.server())
                }
                _ => self.account_required(credentials, source, now),
            }
        };
        let code = response.code;
        let mut plan = ReplyPlan::single(
            write_response(&transaction, &response, inbound.max_reply_bytes),
            code,
        );
        plan.screening = screening;
        plan
    }

    /// The messages a due timer sends, and the timers it sets; nothing when the dialog has moved
    /// on (the caller hung up, cancelled, or the dialog was evicted).
    pub fn fire(&mut self, timer: &Timer, now: Instant) -> ReplyPlan {
        self.expire(now);
        self.fire_dialog_timer(timer, now)
    }

    /// Number of REGISTER attempt counters held.
    pub fn registration_counters(&self) -> usize {
        self.registrations.len()
    }

    /// Number of dialogs held.
    pub fn dialog_count(&self) -> usize {
        self.dialogs.len()
    }

    fn in_dialog(&self, probe: &Probe<'_>, source: IpAddr, now: Instant) -> Response {
        if self.has_dialog(probe, source, now) {
            Response::new(200, "OK").with(self.server())
        } else {
            no_such_dialog().with(self.server())
        }
    }

    /// `Server`, kept as long as the size limit allows.
    fn server(&self) -> Option<Field> {
        server_of(&self.personality)
    }

    /// What an `OPTIONS` reply advertises, in Asterisk's order; dropped first when space is short.
    fn advertised(&self) -> impl Iterator<Item = Field> + use<> {
        let p = &self.personality;
        [
            Field::text("Accept", &p.accept, Keep::Optional),
            Field::text("Allow", &p.allow, Keep::Optional),
            Field::text("Supported", &p.supported, Keep::Optional),
            Field::text("Accept-Encoding", &p.accept_encoding, Keep::Optional),
            Field::text("Accept-Language", &p.accept_language, Keep::Optional),
            Field::text("Allow-Events", &p.allow_events, Keep::Optional),
        ]
        .into_iter()
        .flatten()
    }

    /// Forgets idle REGISTER counters and dialogs past their lifetime, from the least recently
    /// used end (lookups also treat an expired dialog as gone).
    fn expire(&mut self, now: Instant) {
        while let Some((_, attempts)) = self.registrations.peek_lru() {
            if now.saturating_duration_since(attempts.last_seen) < REGISTRATION_IDLE_EXPIRY {
                break;
            }
            self.registrations.pop_lru();
        }
        while let Some((_, dialog)) = self.dialogs.peek_lru() {
            if dialog.expires > now {
                break;
            }
            self.dialogs.pop_lru();
        }
        self.expire_proofs(now);
    }
}

/// The personality's `Server` header, kept as long as the size limit allows.
fn server_of(personality: &Personality) -> Option<Field> {
    Field::text("Server", &personality.server, Keep::Identity)
}

/// `481 Call/Transaction Does Not Exist`.
fn no_such_dialog() -> Response {
    Response::new(481, "Call/Transaction Does Not Exist")
}

/// The methods of RFC 3261 and its common extensions; anything else gets `501`.
fn is_known_method(method: &str) -> bool {
    matches!(
        method,
        "INVITE"
            | "ACK"
            | "BYE"
            | "CANCEL"
            | "OPTIONS"
            | "REGISTER"
            | "PRACK"
            | "SUBSCRIBE"
            | "NOTIFY"
            | "PUBLISH"
            | "INFO"
            | "REFER"
            | "MESSAGE"
            | "UPDATE"
    )
}

#[cfg(test)]
mod tests;
