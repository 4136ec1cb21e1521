//! The probe handler every listener calls: parse, plan the replies, build the event, submit it;
//! and fire the timers of earlier plans.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use super::report_per_transport;
use crate::blocklist::Intake;
use crate::event::{self, BadActor, Capture, CollectedMethod, Transport};
use crate::sip::{self, Inbound, Pbx, Personality, ReplyPlan, Screening, Timer};
use crate::telemetry::{Count, Readings, Report};

/// How big a reply may be for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyLimit {
    /// Never reply (oversized or cut messages, leftovers of a closed connection).
    Never,
    /// At most this many bytes (UDP: the request's size, so we never amplify).
    AtMost(usize),
    /// Any size (TCP/TLS: the peer completed a handshake, it cannot be spoofed).
    Unbounded,
}

/// Per-transport reply counters, arrays in [`Transport::ALL`] order.
#[derive(Debug, Default)]
pub struct TransportCounters {
    /// Messages handed to the socket (replies and our own `BYE`s).
    pub(crate) replies_sent: [AtomicU64; 3],
    /// Replies not sent because the source exceeded its reply rate.
    pub(crate) replies_rate_limited: [AtomicU64; 3],
    /// Replies the socket refused (buffer full, peer gone).
    pub(crate) replies_failed: [AtomicU64; 3],
    /// Later sends (final responses, `BYE`s) not scheduled because too many were pending.
    pub(crate) delayed_skipped: [AtomicU64; 3],
    /// Responses sent, by status class: `[1xx, 2xx, 3xx, 4xx, 5xx, 6xx]`.
    pub(crate) replies_by_status_class: [AtomicU64; 6],
    /// Requests of ours sent (`BYE` ending an answered call).
    pub(crate) requests_sent: AtomicU64,
    /// Datagrams not sent because the source has not shown it receives our replies and they
    /// would have made us send it more bytes than it sent.
    pub(crate) replies_withheld: [AtomicU64; 3],
    /// `ACK`s and `BYE`s that matched a dialog with a `To` tag that is not ours (ignored).
    pub(crate) replies_foreign_to_tag: [AtomicU64; 3],
    /// Requests whose credentials did not answer our nonce (answered as unauthenticated).
    pub(crate) replies_foreign_nonce: [AtomicU64; 3],
    /// Events whose `sip_message` was cut at the recorded size after decoding.
    pub(crate) messages_cut: [AtomicU64; 3],
}

/// Labels of [`TransportCounters::replies_by_status_class`].
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];

impl TransportCounters {
    /// Counts a message written to the socket: a response with its status, or a request of ours.
    pub fn reply_sent(&self, transport: Transport, status: Option<u16>) {
        bump(&self.replies_sent, transport);
        match status {
            Some(status) => {
                let class = usize::from(status / 100).saturating_sub(1);
                if let Some(counter) = self.replies_by_status_class.get(class) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.requests_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts a later send dropped because the transport had too many pending.
    pub fn delayed_skipped(&self, transport: Transport) {
        bump(&self.delayed_skipped, transport);
    }

    /// Counts a reply the socket refused.
    pub fn reply_failed(&self, transport: Transport) {
        bump(&self.replies_failed, transport);
    }

    /// Counts what the responder held back or refused for one message.
    fn screened(&self, screening: &Screening, transport: Transport) {
        if let Some(withheld) = self.replies_withheld.get(transport.index()) {
            withheld.fetch_add(u64::from(screening.withheld), Ordering::Relaxed);
        }
        if screening.foreign_to_tag {
            bump(&self.replies_foreign_to_tag, transport);
        }
        if screening.foreign_nonce {
            bump(&self.replies_foreign_nonce, transport);
        }
    }
}

impl Report for TransportCounters {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["replies"]]
    }

    fn report(&self, out: &mut Readings) {
        const HELP: &str = "Replies per transport: handed to the socket (with our own BYEs), \
                            not sent over the source's reply rate, refused by the socket, later \
                            sends not scheduled because too many were pending, withheld from a \
                            source not proven to receive them (reflection), requests whose To \
                            tag or nonce was not ours.";
        #[rustfmt::skip]
        report_per_transport(out, "replies", HELP, |_| true, &[
            ("sentrypeer_replies_sent_total", &self.replies_sent),
            ("sentrypeer_replies_rate_limited_total", &self.replies_rate_limited),
            ("sentrypeer_replies_failed_total", &self.replies_failed),
            ("sentrypeer_replies_delayed_skipped_total", &self.delayed_skipped),
            ("sentrypeer_replies_withheld_total", &self.replies_withheld),
            ("sentrypeer_replies_foreign_to_tag_total", &self.replies_foreign_to_tag),
            ("sentrypeer_replies_foreign_nonce_total", &self.replies_foreign_nonce),
        ]);
        let by_class = STATUS_CLASSES
            .into_iter()
            .zip(self.replies_by_status_class.count());
        for (class, sent) in by_class {
            out.counter(
                "sentrypeer_replies_by_status_total",
                "Responses sent, by status class.",
                sent,
            )
            .label("class", class)
            .health(&["replies", "by_status_class", class]);
        }
        for (transport, cut) in Transport::ALL.into_iter().zip(self.messages_cut.count()) {
            let label = transport.as_str();
            out.counter(
                "sentrypeer_events_messages_cut_total",
                "Events whose sip_message was cut at 64 KiB after decoding (invalid bytes \
                 grow to 3 bytes each).",
                cut,
            )
            .label("transport", label)
            .health_in("events", &[label]);
        }
        let requests = self.requests_sent.count();
        out.counter(
            "sentrypeer_requests_sent_total",
            "Requests of ours sent (BYE).",
            requests,
        )
        .health(&["replies", "requests_sent"]);
    }
}

fn bump(counters: &[AtomicU64; 3], transport: Transport) {
    if let Some(counter) = counters.get(transport.index()) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything a listener needs to handle a message; shared by all listeners.
#[derive(Debug)]
pub struct ProbeHandler {
    node_id: Uuid,
    responsive: bool,
    pbx: Mutex<Pbx>,
    intake: Intake,
    reply_limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    counters: Arc<TransportCounters>,
}

impl ProbeHandler {
    /// A handler counting each message in the blocklist and submitting it to the pipeline
    /// (`intake`), answering as `personality` when `responsive`. `key`
    /// keys the responder's tags and nonces (random bytes). `reply_rate_limit` is replied-to
    /// requests per second per source IP (burst: twice that); 0 disables the limit.
    pub fn new(
        node_id: Uuid,
        responsive: bool,
        personality: Personality,
        key: [u8; 16],
        intake: Intake,
        reply_rate_limit: u32,
    ) -> Self {
        let reply_limiter = NonZeroU32::new(reply_rate_limit).map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            node_id,
            responsive,
            pbx: Mutex::new(Pbx::new(personality, key, Instant::now())),
            intake,
            reply_limiter,
            counters: Arc::default(),
        }
    }

    /// Records one received message and returns what to send back, now and later, with whether
    /// its source has shown it receives our replies ([`ReplyPlan::source_proven`]).
    pub fn handle(
        &self,
        message: &[u8],
        transport: Transport,
        source: SocketAddr,
        destination: SocketAddr,
        limit: ReplyLimit,
    ) -> ReplyPlan {
        let probe = sip::parse(message);
        let max_reply_bytes = match limit {
            ReplyLimit::Never => None,
            ReplyLimit::AtMost(bytes) => Some(bytes),
            ReplyLimit::Unbounded => None,
        };
        let plan = if self.responsive && limit != ReplyLimit::Never {
            let inbound = Inbound {
                probe: &probe,
                source,
                local: destination,
                transport: transport.as_str(),
                max_reply_bytes,
            };
            self.lock_pbx().handle(&inbound, Instant::now())
        } else {
            // Not answering: only a stream's handshake shows the source receives our packets.
            ReplyPlan {
                source_proven: transport != Transport::Udp,
                ..ReplyPlan::default()
            }
        };
        let plan = if plan.is_empty() || self.reply_allowed(source.ip(), transport) {
            plan
        } else {
            ReplyPlan {
                source_proven: plan.source_proven,
                screening: plan.screening,
                ..ReplyPlan::default()
            }
        };
        self.counters.screened(&plan.screening, transport);
        // Whether the source can be a spoofed address: what decides how far its events may be
        // trusted (a blocklist must not block an address a UDP attacker merely wrote).
        let source_proven = plan.source_proven;
        let collected_method = if self.responsive {
            CollectedMethod::Responsive
        } else {
            CollectedMethod::Passive
        };
        let capture = Capture {
            node_id: self.node_id,
            collected_method,
            transport,
            source,
            destination,
        };
        let event = BadActor::from_probe(&probe, &capture);
        let message_cut = event::message_is_cut(message);
        if message_cut {
            bump(&self.counters.messages_cut, transport);
        }
        // Attacker text as Debug fields: quoted, CR/LF/ESC escaped, one line.
        tracing::debug!(
            transport = transport.as_str(),
            %source,
            kind = ?event.message_kind,
            method = ?event.sip_method,
            called_number = ?event.called_number,
            bytes = message.len(),
            replies = plan.immediate.len(),
            later = plan.timers.len(),
            source_proven,
            message_cut,
            "probe recorded"
        );
        self.intake.captured(event, source_proven);
        plan
    }

    /// What a due timer of an earlier plan sends now (and the timers it sets), on `transport`.
    pub fn fire(&self, timer: &Timer, transport: Transport) -> ReplyPlan {
        let plan = self.lock_pbx().fire(timer, Instant::now());
        self.counters.screened(&plan.screening, transport);
        plan
    }

    /// The responder; a panic while it was held leaves it usable (its state is always valid).
    fn lock_pbx(&self) -> MutexGuard<'_, Pbx> {
        self.pbx.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reply_allowed(&self, source: IpAddr, transport: Transport) -> bool {
        let Some(limiter) = &self.reply_limiter else {
            return true;
        };
        let allowed = limiter.check_key(&source.to_canonical()).is_ok();
        if !allowed {
            bump(&self.counters.replies_rate_limited, transport);
        }
        allowed
    }

    /// Forgets rate-limit state of sources that have been quiet, bounding its memory.
    pub fn forget_quiet_sources(&self) {
        if let Some(limiter) = &self.reply_limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Reply counters.
    pub fn counters(&self) -> &TransportCounters {
        &self.counters
    }

    /// The reply counters, shared (holding them does not keep the pipeline open).
    pub fn shared_counters(&self) -> Arc<TransportCounters> {
        Arc::clone(&self.counters)
    }
}
