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
use crate::event::{BadActor, Capture, CollectedMethod, Transport};
use crate::sip::{self, Inbound, Pbx, Personality, ReplyPlan, Timer};
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
}

impl Report for TransportCounters {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["replies"]]
    }

    fn report(&self, out: &mut Readings) {
        const HELP: &str = "Replies per transport: handed to the socket (with our own BYEs), \
                            not sent over the source's reply rate, refused by the socket, later \
                            sends not scheduled because too many were pending.";
        #[rustfmt::skip]
        report_per_transport(out, "replies", HELP, |_| true, &[
            ("sentrypeer_replies_sent_total", &self.replies_sent),
            ("sentrypeer_replies_rate_limited_total", &self.replies_rate_limited),
            ("sentrypeer_replies_failed_total", &self.replies_failed),
            ("sentrypeer_replies_delayed_skipped_total", &self.delayed_skipped),
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

    /// Records one received message and returns what to send back, now and later.
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
            ReplyPlan::default()
        };
        let plan = if plan.is_empty() || self.reply_allowed(source.ip(), transport) {
            plan
        } else {
            ReplyPlan::default()
        };
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
        tracing::debug!(
            transport = transport.as_str(),
            %source,
            kind = ?event.message_kind,
            method = %event.sip_method,
            called_number = %event.called_number,
            bytes = message.len(),
            replies = plan.immediate.len(),
            later = plan.timers.len(),
            "probe recorded"
        );
        // TCP and TLS prove their source by themselves; a UDP source's proof (an echo of our
        // nonce or To-tag) is not tracked yet.
        self.intake.captured(event, false);
        plan
    }

    /// What a due timer of an earlier plan sends now (and the timers it sets).
    pub fn fire(&self, timer: &Timer) -> ReplyPlan {
        self.lock_pbx().fire(timer, Instant::now())
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
