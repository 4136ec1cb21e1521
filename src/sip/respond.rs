//! The responder's policy: which probe gets which reply. The one place reply policy lives.

use std::net::SocketAddr;

use super::parse::Probe;

/// What the honeypot pretends to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personality {
    /// `Server` header value.
    pub server: String,
}

impl Default for Personality {
    fn default() -> Self {
        Self { server: "FPBX-16.0.33(18.13.0)".to_owned() }
    }
}

/// Facts about where a probe came from, needed to build a reply.
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext<'p> {
    /// Who sent the probe.
    pub source: SocketAddr,
    /// Largest reply allowed (the request's size over UDP), `None` for streams.
    pub max_reply_bytes: Option<usize>,
    /// Headers to present.
    pub personality: &'p Personality,
}

/// Builds the reply for a probe, or `None` when nothing must be sent.
pub fn respond(probe: &Probe<'_>, ctx: &ReplyContext<'_>) -> Option<Vec<u8>> {
    let _ = (probe, ctx);
    None
}
