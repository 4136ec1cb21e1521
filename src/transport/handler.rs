//! The probe handler every listener calls: parse, decide the reply, build the event, submit it.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::event::{BadActor, Capture, CollectedMethod, Transport};
use crate::pipeline::Pipeline;
use crate::sip::{self, Personality, ReplyContext};

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

/// Per-transport reply counters.
#[derive(Debug, Default)]
pub struct TransportCounters {
    replies_sent: [AtomicU64; 3],
    replies_rate_limited: [AtomicU64; 3],
    replies_failed: [AtomicU64; 3],
}

/// Snapshot of [`TransportCounters`], arrays in [`Transport::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportStats {
    /// Replies handed to the socket.
    pub replies_sent: [u64; 3],
    /// Replies not sent because the source exceeded its reply rate.
    pub replies_rate_limited: [u64; 3],
    /// Replies the socket refused (buffer full, peer gone).
    pub replies_failed: [u64; 3],
}

impl TransportCounters {
    /// Counts a reply written to the socket.
    pub fn reply_sent(&self, transport: Transport) {
        bump(&self.replies_sent, transport);
    }

    /// Counts a reply the socket refused.
    pub fn reply_failed(&self, transport: Transport) {
        bump(&self.replies_failed, transport);
    }

    /// Current values.
    pub fn snapshot(&self) -> TransportStats {
        let load =
            |counters: &[AtomicU64; 3]| counters.each_ref().map(|c| c.load(Ordering::Relaxed));
        TransportStats {
            replies_sent: load(&self.replies_sent),
            replies_rate_limited: load(&self.replies_rate_limited),
            replies_failed: load(&self.replies_failed),
        }
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
    personality: Personality,
    pipeline: Pipeline,
    reply_limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    counters: Arc<TransportCounters>,
}

impl ProbeHandler {
    /// A handler submitting to `pipeline`. `reply_rate_limit` is replies per second per source
    /// IP (burst: twice that); 0 disables the limit.
    pub fn new(
        node_id: Uuid,
        responsive: bool,
        personality: Personality,
        pipeline: Pipeline,
        reply_rate_limit: u32,
    ) -> Self {
        let reply_limiter = NonZeroU32::new(reply_rate_limit).map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            node_id,
            responsive,
            personality,
            pipeline,
            reply_limiter,
            counters: Arc::default(),
        }
    }

    /// Records one received message and returns the reply to send, if any.
    pub fn handle(
        &self,
        message: &[u8],
        transport: Transport,
        source: SocketAddr,
        destination: SocketAddr,
        limit: ReplyLimit,
    ) -> Option<Vec<u8>> {
        let probe = sip::parse(message);
        let reply = match (self.responsive, limit) {
            (false, _) | (_, ReplyLimit::Never) => None,
            (true, ReplyLimit::AtMost(bytes)) => self.reply(&probe, source, Some(bytes)),
            (true, ReplyLimit::Unbounded) => self.reply(&probe, source, None),
        };
        let reply = reply.filter(|_| self.reply_allowed(source.ip(), transport));
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
            replied = reply.is_some(),
            "probe recorded"
        );
        self.pipeline.submit(event);
        reply
    }

    fn reply(
        &self,
        probe: &sip::Probe<'_>,
        source: SocketAddr,
        max_reply_bytes: Option<usize>,
    ) -> Option<Vec<u8>> {
        sip::respond(
            probe,
            &ReplyContext {
                source,
                max_reply_bytes,
                personality: &self.personality,
            },
        )
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
