//! Whether a source has shown that it receives our replies, so that over UDP it cannot be a
//! spoofed victim we would be reflecting traffic at: it came over a stream (TCP/TLS: a completed
//! handshake), its request echoes the digest nonce of our challenge, or its request echoes our
//! `To` tag. Both values are keyed hashes of the source IP (and the `Call-ID` and `From` tag for
//! the tag), so only a host that received them from us can send them back. A proven source is
//! remembered for [`PROVEN_SOURCE_EXPIRY`] after its last proof, in a bounded LRU map.
//!
//! Until a UDP source is proven, the bytes we send it for a transaction never exceed the bytes it
//! sent us (see `pbx/budget.rs`); the transport also hands the answer to whoever tracks sources
//! (`ReplyPlan::source_proven`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::{Inbound, NONCE_WINDOW, Pbx};
use crate::sip::digest::parse_authorization;
use crate::sip::parse::Probe;
use crate::sip::respond::is_answerable_source;
use crate::sip::uri::{find_param, split_address};

/// Proven sources remembered.
pub const MAX_PROVEN_SOURCES: usize = 65_536;
/// A proven source not proven again this long is forgotten.
pub const PROVEN_SOURCE_EXPIRY: Duration = Duration::from_secs(3600);

/// What a request's credentials (`Authorization`, `Proxy-Authorization`) are worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Credentials {
    /// None, or only empty headers.
    Absent,
    /// Present, but none answers a nonce we gave this source: answered as if absent.
    Foreign,
    /// One answers our challenge to this source (the password is never checked).
    Ours,
}

impl Credentials {
    /// Whether the request counts as authenticated.
    pub(super) fn are_ours(self) -> bool {
        self == Self::Ours
    }
}

impl Inbound<'_, '_> {
    /// Whether the message came over a stream (TCP/TLS, no size limit), whose handshake shows
    /// the source receives our replies.
    pub fn is_stream(&self) -> bool {
        self.max_reply_bytes.is_none()
    }
}

impl Pbx {
    /// Whether `inbound`'s source has shown it receives our replies, now or within
    /// [`PROVEN_SOURCE_EXPIRY`]; a new proof is remembered.
    pub(super) fn prove(&mut self, inbound: &Inbound<'_, '_>, now: Instant) -> bool {
        let source = inbound.source.ip().to_canonical();
        let shown = inbound.is_stream()
            || self.credentials(inbound.probe, source, now).are_ours()
            || self.has_our_to_tag(inbound.probe, source);
        if shown {
            if is_answerable_source(inbound.source) {
                self.proven.put(source, now);
            }
            return true;
        }
        self.proven
            .get(&source)
            .is_some_and(|at| now.saturating_duration_since(*at) < PROVEN_SOURCE_EXPIRY)
    }

    /// What the request's credentials are worth: ours only when a digest `nonce` is the one we
    /// hand `source` now or handed it in the previous window.
    pub(super) fn credentials(
        &self,
        probe: &Probe<'_>,
        source: IpAddr,
        now: Instant,
    ) -> Credentials {
        let mut values = probe
            .headers_named("Authorization")
            .chain(probe.headers_named("Proxy-Authorization"))
            .filter(|value| !value.is_empty())
            .peekable();
        if values.peek().is_none() {
            return Credentials::Absent;
        }
        let window = self.nonce_window(now);
        let ours = [Some(window), window.checked_sub(1)]
            .into_iter()
            .flatten()
            .map(|window| self.nonce_in_window(source, window))
            .collect::<Vec<_>>();
        let answers_ours = values.any(|value| {
            parse_authorization(value)
                .and_then(|credentials| credentials.nonce)
                .is_some_and(|nonce| {
                    let nonce = nonce.unescaped();
                    ours.iter().any(|our| our.as_bytes() == nonce.as_ref())
                })
        });
        if answers_ours {
            Credentials::Ours
        } else {
            Credentials::Foreign
        }
    }

    /// Whether the request's `To` tag is the one we give this dialog (its `Call-ID` and `From`
    /// tag) when the request comes from `source`.
    pub(super) fn has_our_to_tag(&self, probe: &Probe<'_>, source: IpAddr) -> bool {
        let (Some(to), Some(call_id)) = (probe.to(), probe.call_id()) else {
            return false;
        };
        let Some(tag) = find_param(split_address(to).params, b"tag") else {
            return false;
        };
        let from_tag = probe
            .from()
            .and_then(|from| find_param(split_address(from).params, b"tag"));
        self.keyed.to_tag(call_id, from_tag, source).as_bytes() == tag
    }

    /// A nonce unpredictable without our key, one per source IP and five-minute window.
    pub(super) fn nonce(&self, source: IpAddr, now: Instant) -> String {
        self.nonce_in_window(source, self.nonce_window(now))
    }

    fn nonce_window(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.started).as_secs() / NONCE_WINDOW.as_secs()
    }

    fn nonce_in_window(&self, source: IpAddr, window: u64) -> String {
        format!(
            "{:016x}",
            self.keyed
                .hash(b"nonce", &[&ip_octets(source), &window.to_le_bytes()])
        )
    }

    /// Forgets proven sources not proven again within [`PROVEN_SOURCE_EXPIRY`].
    pub(super) fn expire_proofs(&mut self, now: Instant) {
        while let Some((_, at)) = self.proven.peek_lru() {
            if now.saturating_duration_since(*at) < PROVEN_SOURCE_EXPIRY {
                break;
            }
            self.proven.pop_lru();
        }
    }

    /// Number of proven sources remembered.
    pub fn proven_sources(&self) -> usize {
        self.proven.len()
    }
}

/// The address's bytes, as hashed into nonces and tags.
pub(super) fn ip_octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// The canonical IP of a source (IPv4-mapped IPv6 as IPv4), as nonces and tags are keyed.
pub(super) fn source_ip(source: SocketAddr) -> IpAddr {
    source.ip().to_canonical()
}
