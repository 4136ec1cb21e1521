//! The SIP agent's counters, in `/api/v1/health` (under `sip_agent`) and `/metrics`
//! (`sentrypeer_sip_agent_*`), named once here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::sip::redirect::Outcome;
use crate::telemetry::{Count, Histogram, Readings, Report};

/// How a dip was decided (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictOutcome {
    /// The called number is a verdict.
    BlockedNumber,
    /// The caller's IP is a verdict.
    BlockedIp,
    /// Neither.
    Clean,
}

impl VerdictOutcome {
    /// Every outcome, in label order.
    const ALL: [Self; 3] = [Self::BlockedNumber, Self::BlockedIp, Self::Clean];

    fn label(self) -> &'static str {
        match self {
            Self::BlockedNumber => "blocked_number",
            Self::BlockedIp => "blocked_ip",
            Self::Clean => "clean",
        }
    }
}

/// Transports the agent listens on, in label order.
const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

/// Everything the agent counts. Shared as `Arc<AgentCounters>`.
#[derive(Debug, Default)]
pub struct AgentCounters {
    dips: AtomicU64,
    verdicts: [AtomicU64; 3],
    policy_refusals: AtomicU64,
    invite_retransmissions: AtomicU64,
    response_retransmissions: AtomicU64,
    acks: AtomicU64,
    ack_timeouts: AtomicU64,
    cancels: AtomicU64,
    keepalives: AtomicU64,
    not_allowed: AtomicU64,
    bad_requests: AtomicU64,
    ignored: AtomicU64,
    too_large: AtomicU64,
    refused_sources: [AtomicU64; 2],
    rate_limited: AtomicU64,
    replies_failed: AtomicU64,
    transactions_evicted: AtomicU64,
    transactions: AtomicU64,
    connections: AtomicU64,
    dip_latency: Histogram,
}

/// The transport a counter is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentTransport {
    /// Datagrams.
    Udp,
    /// Connections.
    Tcp,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl AgentCounters {
    /// Counts what a request was.
    pub fn handled(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Dip => &self.dips,
            Outcome::Retransmission => &self.invite_retransmissions,
            Outcome::Absorbed => &self.acks,
            Outcome::KeepAlive => &self.keepalives,
            Outcome::Cancel { .. } => &self.cancels,
            Outcome::NotAllowed => &self.not_allowed,
            Outcome::BadRequest => &self.bad_requests,
            Outcome::Ignored => &self.ignored,
            Outcome::TooLarge => &self.too_large,
        };
        bump(counter);
    }

    /// Counts a decided dip's outcome, and whether the policy refused a key the list holds.
    pub fn verdict(&self, outcome: VerdictOutcome, policy_refused: bool) {
        if let Some(counter) = VerdictOutcome::ALL
            .iter()
            .position(|each| *each == outcome)
            .and_then(|index| self.verdicts.get(index))
        {
            bump(counter);
        }
        if policy_refused {
            bump(&self.policy_refusals);
        }
    }

    /// Counts a request from a source not on the allow-list.
    pub fn refused(&self, transport: AgentTransport) {
        let index = match transport {
            AgentTransport::Udp => 0,
            AgentTransport::Tcp => 1,
        };
        if let Some(counter) = self.refused_sources.get(index) {
            bump(counter);
        }
    }

    /// Counts a request over its source's rate.
    pub fn rate_limited(&self) {
        bump(&self.rate_limited);
    }

    /// Counts a reply the socket refused.
    pub fn reply_failed(&self) {
        bump(&self.replies_failed);
    }

    /// Counts Timer G retransmissions sent and transactions that gave up on their `ACK`.
    pub fn timers_fired(&self, retransmissions: u64, timed_out: u64) {
        self.response_retransmissions
            .fetch_add(retransmissions, Ordering::Relaxed);
        self.ack_timeouts.fetch_add(timed_out, Ordering::Relaxed);
    }

    /// The UDP transactions held now, and evicted so far.
    pub fn transactions(&self, held: usize, evicted: u64) {
        let held = u64::try_from(held).unwrap_or(u64::MAX);
        self.transactions.store(held, Ordering::Relaxed);
        self.transactions_evicted.store(evicted, Ordering::Relaxed);
    }

    /// A TCP connection opened (`true`) or closed.
    pub fn connection(&self, opened: bool) {
        if opened {
            bump(&self.connections);
        } else {
            self.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts how long a dip took from its datagram's arrival to its reply's send.
    pub fn dip_took(&self, took: Duration) {
        self.dip_latency.observe(took);
    }
}

impl Report for AgentCounters {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["sip_agent"]]
    }

    fn report(&self, out: &mut Readings) {
        const SECTION: &str = "sip_agent";
        for (outcome, count) in VerdictOutcome::ALL.iter().zip(self.verdicts.count()) {
            out.counter(
                "sentrypeer_sip_agent_verdicts_total",
                "SIP agent: dips answered, by outcome.",
                count,
            )
            .label("outcome", outcome.label())
            .health_in(SECTION, &[outcome.label()]);
        }
        for (transport, count) in TRANSPORTS.iter().zip(self.refused_sources.count()) {
            out.counter(
                "sentrypeer_sip_agent_refused_sources_total",
                "SIP agent: requests from sources not allowed to ask (403 over TCP, nothing over UDP).",
                count,
            )
            .label("transport", *transport)
            .health_in(SECTION, &[transport]);
        }
        #[rustfmt::skip]
        let counters = [
            ("sentrypeer_sip_agent_dips_total", "SIP agent: new INVITEs decided.", &self.dips),
            ("sentrypeer_sip_agent_policy_refusals_total", "SIP agent: dips whose number or IP the list holds but the policy does not block (never-list, count, age, origin).", &self.policy_refusals),
            ("sentrypeer_sip_agent_invite_retransmissions_total", "SIP agent: retransmitted INVITEs answered again from their transaction.", &self.invite_retransmissions),
            ("sentrypeer_sip_agent_response_retransmissions_total", "SIP agent: final responses sent again on Timer G (UDP).", &self.response_retransmissions),
            ("sentrypeer_sip_agent_acks_total", "SIP agent: ACKs absorbed.", &self.acks),
            ("sentrypeer_sip_agent_ack_timeouts_total", "SIP agent: final responses never acknowledged (Timer H).", &self.ack_timeouts),
            ("sentrypeer_sip_agent_cancels_total", "SIP agent: CANCELs answered.", &self.cancels),
            ("sentrypeer_sip_agent_keepalives_total", "SIP agent: OPTIONS answered 200.", &self.keepalives),
            ("sentrypeer_sip_agent_not_allowed_total", "SIP agent: other methods answered 405.", &self.not_allowed),
            ("sentrypeer_sip_agent_bad_requests_total", "SIP agent: requests answered 400.", &self.bad_requests),
            ("sentrypeer_sip_agent_ignored_total", "SIP agent: messages not answered (responses, malformed, unknown ACKs).", &self.ignored),
            ("sentrypeer_sip_agent_too_large_total", "SIP agent: replies not sent because they would be larger than the request.", &self.too_large),
            ("sentrypeer_sip_agent_rate_limited_total", "SIP agent: requests over their source's rate (nothing over UDP, 503 over TCP).", &self.rate_limited),
            ("sentrypeer_sip_agent_replies_failed_total", "SIP agent: replies the socket refused.", &self.replies_failed),
            ("sentrypeer_sip_agent_transactions_evicted_total", "SIP agent: INVITE transactions forgotten at the cap (UDP).", &self.transactions_evicted),
        ];
        for (name, help, counter) in counters {
            out.counter(name, help, counter.count())
                .health_in(SECTION, &[]);
        }
        #[rustfmt::skip]
        let gauges = [
            ("sentrypeer_sip_agent_transactions", "SIP agent: INVITE transactions held (UDP).", &self.transactions),
            ("sentrypeer_sip_agent_connections", "SIP agent: TCP connections open.", &self.connections),
        ];
        for (name, help, gauge) in gauges {
            out.gauge(name, help, gauge.count()).health_in(SECTION, &[]);
        }
        out.histogram(
            "sentrypeer_sip_agent_dip_seconds",
            "SIP agent: time from a new INVITE's arrival to its answer's send.",
            &self.dip_latency,
        )
        .health_in(SECTION, &[]);
    }
}
