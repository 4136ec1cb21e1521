//! The SIP verdict agent's protocol side: a redirect server (RFC 3261 §8.3) that switches ask
//! before routing a call. Pure: a parsed request, where it came from and the current
//! [`Instant`] in, the datagrams to send out; the verdict itself is the caller's
//! (`decide(&Dip) -> Answer`), so nothing here knows the blocklist.
//!
//! | Request | Reply |
//! |---|---|
//! | `INVITE` | the caller's [`Answer`] (`302`, `403`, `404`, `486`, `603`), kept as an INVITE server transaction: over UDP retransmitted on Timer G until the `ACK` or Timer H; a retransmitted INVITE gets it again |
//! | `ACK` | absorbed (nothing) |
//! | `CANCEL` | `200 OK`; and `487 Request Terminated` for its INVITE when that INVITE was never answered here (an answered one keeps its answer, RFC 3261 §9.2) |
//! | `OPTIONS` | `200 OK` with `Allow` (SBC keep-alive pings) |
//! | any other method | `405 Method Not Allowed` with `Allow` |
//! | `CSeq` method not the request's | `400 Bad Request` |
//! | responses, malformed input, a missing `Via`/`From`/`To`/`Call-ID`/`CSeq` | nothing |
//!
//! Non-INVITE requests are answered statelessly (RFC 3261 §8.2.7): a retransmission gets the
//! same answer again (our `To` tag is a keyed hash of `Call-ID` and `From` tag). Replies carry
//! only what their meaning needs (the transaction headers, `Contact` or `Allow` where the
//! status needs it, the verdict header) and no body, and never exceed the caller's size limit:
//! compact header names first; a reply that still does not fit is not sent.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Instant;

use super::parse::{MessageKind, Probe};
use super::pbx::{Keyed, Outgoing};
use super::respond::{Field, Keep, Response, Transaction, is_answerable_source, write_response};
use super::uri::{find_param, split_address};

mod dip;
mod transactions;

pub use dip::{Dip, DipRules, read_dip};
pub use transactions::{Due, Retransmission, T1, T2, T4, TIMER_H};

use transactions::{Matched, Transactions};

/// The methods the agent answers, in its `Allow` header.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, OPTIONS";
/// The header saying why a dip got its answer.
pub const VERDICT_HEADER: &str = "X-SentryPeer-Verdict";
/// INVITE transactions a UDP agent keeps by default (each holds its response until the `ACK`).
pub const DEFAULT_MAX_TRANSACTIONS: usize = 65_536;
/// RFC 3261's magic cookie: a branch starting with it identifies its transaction.
const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// The final answer to a dip, as the caller decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `302`, `403`, `404`, `486` or `603` (any code gets its reason phrase).
    pub code: u16,
    /// The `Contact` of a `302` (a SIP URI without angle brackets).
    pub contact: Option<String>,
    /// The value of [`VERDICT_HEADER`].
    pub verdict: String,
}

/// One received request and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'p, 'a> {
    /// The parsed message.
    pub probe: &'p Probe<'a>,
    /// Who sent it (every reply goes there).
    pub source: SocketAddr,
    /// Largest reply allowed (the request's size over UDP), `None` for streams.
    pub max_reply_bytes: Option<usize>,
}

/// What a request was, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new INVITE: decided and answered.
    Dip,
    /// A retransmitted INVITE: answered again from its transaction.
    Retransmission,
    /// An `ACK` (or an INVITE after its `ACK`): absorbed.
    Absorbed,
    /// `OPTIONS`: `200 OK`.
    KeepAlive,
    /// `CANCEL`: `200 OK`; `answered` when its INVITE already had its answer (else a `487`
    /// went with it).
    Cancel {
        /// Whether the INVITE had been answered.
        answered: bool,
    },
    /// Another method: `405`.
    NotAllowed,
    /// A `CSeq` that does not name the request's method: `400`.
    BadRequest,
    /// Not a request we can answer (a response, malformed, missing headers, an unknown `ACK`).
    Ignored,
    /// The reply does not fit the size limit: nothing sent.
    TooLarge,
}

/// The replies to one request, and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// What the request was.
    pub outcome: Outcome,
    /// Datagrams (or stream writes) to send now, in order.
    pub replies: Vec<Outgoing>,
}

impl Handled {
    fn nothing(outcome: Outcome) -> Self {
        Self {
            outcome,
            replies: Vec::new(),
        }
    }

    fn one(outcome: Outcome, bytes: Option<Vec<u8>>, status: u16) -> Self {
        match bytes {
            Some(bytes) => Self {
                outcome,
                replies: vec![Outgoing {
                    bytes,
                    status: Some(status),
                }],
            },
            None => Self::nothing(Outcome::TooLarge),
        }
    }
}

/// The redirect server: how requests are read, and its INVITE transactions.
#[derive(Debug)]
pub struct RedirectServer {
    rules: DipRules,
    keyed: Keyed,
    transactions: Transactions,
}

impl RedirectServer {
    /// A server reading dips by `rules`, hashing under `key` (random bytes), keeping at most
    /// `capacity` INVITE transactions; `reliable` for streams (no retransmissions).
    pub fn new(rules: DipRules, key: [u8; 16], capacity: NonZeroUsize, reliable: bool) -> Self {
        Self {
            rules,
            keyed: Keyed::new(key),
            transactions: Transactions::new(capacity, reliable),
        }
    }

    /// The replies to `request`; `decide` is asked for the answer to a new INVITE's dip.
    pub fn handle(
        &mut self,
        request: &Request<'_, '_>,
        now: Instant,
        decide: impl FnOnce(&Dip) -> Answer,
    ) -> Handled {
        let probe = request.probe;
        let method = match probe.method {
            Some(method) if probe.kind == MessageKind::Request => method,
            _ => return Handled::nothing(Outcome::Ignored),
        };
        if !is_answerable_source(request.source) {
            return Handled::nothing(Outcome::Ignored);
        }
        let key = self.transaction_key(probe, request.source);
        match (method, self.match_transaction(method, key, now)) {
            (_, Matched::Again(bytes)) => {
                return Handled {
                    outcome: Outcome::Retransmission,
                    replies: vec![Outgoing {
                        bytes,
                        status: None,
                    }],
                };
            }
            (_, Matched::Absorbed) => return Handled::nothing(Outcome::Absorbed),
            ("ACK", Matched::None) => return Handled::nothing(Outcome::Ignored),
            _ => {}
        }
        let Some(transaction) = self.transaction(request) else {
            return Handled::nothing(Outcome::Ignored);
        };
        let limit = request.max_reply_bytes;
        if probe.cseq_method() != Some(method) {
            let bad = Response::new(400, "Bad Request");
            return Handled::one(
                Outcome::BadRequest,
                write_response(&transaction, &bad, limit),
                400,
            );
        }
        match method {
            "INVITE" => {
                let answer = decide(&read_dip(probe, &self.rules));
                let response = answer_response(&answer);
                let handled = Handled::one(
                    Outcome::Dip,
                    write_response(&transaction, &response, limit),
                    answer.code,
                );
                if let Some(reply) = handled.replies.first() {
                    let bytes = reply.bytes.clone();
                    self.transactions.completed(key, request.source, bytes, now);
                }
                handled
            }
            "CANCEL" => self.cancel(request, &transaction, key, now),
            "OPTIONS" => {
                let ok = Response::new(200, "OK").with(allow());
                Handled::one(
                    Outcome::KeepAlive,
                    write_response(&transaction, &ok, limit),
                    200,
                )
            }
            _ => {
                let not_allowed = Response::new(405, "Method Not Allowed").with(allow());
                Handled::one(
                    Outcome::NotAllowed,
                    write_response(&transaction, &not_allowed, limit),
                    405,
                )
            }
        }
    }

    /// A stateless refusal (`403` for a source that may not ask, `503` for one over its rate)
    /// to a request that has the headers a reply needs.
    pub fn refuse(&self, request: &Request<'_, '_>, code: u16) -> Option<Vec<u8>> {
        let probe = request.probe;
        if probe.kind != MessageKind::Request || probe.method == Some("ACK") {
            return None;
        }
        let transaction = self.transaction(request)?;
        let response = Response::new(code, reason_phrase(code));
        write_response(&transaction, &response, request.max_reply_bytes)
    }

    /// Fires the transactions' timers due at `now`.
    pub fn due(&mut self, now: Instant) -> Due {
        self.transactions.due(now)
    }

    /// When [`RedirectServer::due`] has something to do next.
    pub fn next_due(&self) -> Option<Instant> {
        self.transactions.next_due()
    }

    /// INVITE transactions held.
    pub fn transactions(&self) -> usize {
        self.transactions.len()
    }

    /// INVITE transactions forgotten at the cap so far.
    pub fn evicted(&self) -> u64 {
        self.transactions.evicted()
    }

    fn match_transaction(&mut self, method: &str, key: u64, now: Instant) -> Matched {
        match method {
            "INVITE" => self.transactions.invite(key),
            "ACK" => self.transactions.ack(key, now),
            _ => Matched::None,
        }
    }

    fn cancel(
        &mut self,
        request: &Request<'_, '_>,
        transaction: &Transaction,
        key: u64,
        now: Instant,
    ) -> Handled {
        let limit = request.max_reply_bytes;
        let Some(ok) = write_response(transaction, &Response::new(200, "OK"), limit) else {
            return Handled::nothing(Outcome::TooLarge);
        };
        let mut handled = Handled::one(Outcome::Cancel { answered: true }, Some(ok), 200);
        if self.transactions.contains(key) {
            return handled;
        }
        handled.outcome = Outcome::Cancel { answered: false };
        let invite = transaction.with_cseq_method("INVITE");
        let terminated = Response::new(487, "Request Terminated");
        if let Some(bytes) = write_response(&invite, &terminated, limit) {
            self.transactions
                .completed(key, request.source, bytes.clone(), now);
            handled.replies.push(Outgoing {
                bytes,
                status: Some(487),
            });
        }
        handled
    }

    /// The transaction headers a reply copies, with our `To` tag.
    fn transaction(&self, request: &Request<'_, '_>) -> Option<Transaction> {
        let keyed = &self.keyed;
        let source = request.source.ip();
        Transaction::from_request(request.probe, request.source, |call_id, tag| {
            keyed.to_tag(call_id, tag, source)
        })
    }

    /// The INVITE transaction a request belongs to (RFC 3261 §17.2.3): its source and top
    /// `Via` branch; for a branch without the magic cookie (RFC 2543), `Call-ID`, `From` tag
    /// and `CSeq` number, which a CANCEL and an ACK share with their INVITE.
    fn transaction_key(&self, probe: &Probe<'_>, source: SocketAddr) -> u64 {
        let source = source_bytes(source);
        let branch = probe
            .via()
            .and_then(|via| {
                let top = via.split(|&byte| byte == b',').next()?;
                let params = top.get(memchr::memchr(b';', top)?..)?;
                find_param(params, b"branch")
            })
            .filter(|branch| branch.starts_with(MAGIC_COOKIE));
        if let Some(branch) = branch {
            return self.keyed.hash(b"agent-branch", &[&source, branch]);
        }
        let from_tag = probe
            .from()
            .and_then(|from| find_param(split_address(from).params, b"tag"))
            .unwrap_or_default();
        let cseq_number = probe
            .cseq()
            .and_then(|cseq| cseq.split(u8::is_ascii_whitespace).find(|p| !p.is_empty()))
            .unwrap_or_default();
        let call_id = probe.call_id().unwrap_or_default();
        self.keyed
            .hash(b"agent-dialog", &[&source, call_id, from_tag, cseq_number])
    }
}

/// A source address as bytes: the IP's 16 octets (IPv4 mapped) and the port.
fn source_bytes(source: SocketAddr) -> [u8; 18] {
    let octets = match source.ip().to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(v6) => v6.octets(),
    };
    let mut bytes = [0; 18];
    bytes[..16].copy_from_slice(&octets);
    bytes[16..].copy_from_slice(&source.port().to_be_bytes());
    bytes
}

/// The reason phrase of a status code the agent sends.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        486 => "Busy Here",
        487 => "Request Terminated",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Unknown",
    }
}

/// `Allow`, part of what a `405` means.
fn allow() -> Option<Field> {
    Field::text("Allow", ALLOW, Keep::Always)
}

/// The response an answer makes: its `Contact` and the verdict header, both part of what it
/// means.
fn answer_response(answer: &Answer) -> Response {
    let contact = answer
        .contact
        .as_deref()
        .and_then(|uri| Field::text("Contact", &format!("<{uri}>"), Keep::Always));
    let verdict = Field::text(VERDICT_HEADER, &answer.verdict, Keep::Always);
    Response::new(answer.code, reason_phrase(answer.code)).with(contact.into_iter().chain(verdict))
}

#[cfg(test)]
mod tests;
