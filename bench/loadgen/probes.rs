//! The probe mix of the load generator: SIP requests shaped like what scanners send (SIPVicious
//! `svmap` OPTIONS sweeps, `svwar` REGISTER enumeration of extensions, INVITEs to many phone
//! numbers), written into a reusable buffer so building one costs well under a microsecond.
//! Shared with the accounting smoke test (`tests/integration/throughput.rs` includes this file).

use std::io::Write;
use std::net::SocketAddr;

/// One kind of probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeKind {
    /// `svmap`: OPTIONS to extension 100, `User-Agent: friendly-scanner`.
    Options,
    /// `svwar`: REGISTER with `To` walking extensions 100..=9999.
    Register,
    /// A call attempt to an international number, with an SDP offer.
    Invite,
    /// An OPTIONS padded with a header up to the largest UDP payload (memory floods).
    Huge,
}

/// The largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP).
pub(crate) const MAX_UDP_PAYLOAD: usize = 65_507;

/// Distinct phone numbers INVITEs call (`00` + 4,600,000,000 + n, as `bench/seed.rs` writes them).
pub(crate) const DEFAULT_NUMBERS: u64 = 250_000;

/// How often each kind comes up: weights, picked in a fixed interleaved order (no randomness,
/// so two runs send the same messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mix {
    slots: Vec<ProbeKind>,
}

impl Mix {
    /// Parses `options=4,register=3,invite=3` (any subset; names `options`, `register`, `invite`,
    /// `huge`), or a preset: `scan` (4/3/3, the default), `huge` (maximal datagrams only).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = match text {
            "scan" => "options=4,register=3,invite=3",
            "huge" => "huge=1",
            other => other,
        };
        let mut weights = Vec::new();
        for part in text.split(',').filter(|part| !part.is_empty()) {
            let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
            let kind = match name {
                "options" => ProbeKind::Options,
                "register" => ProbeKind::Register,
                "invite" => ProbeKind::Invite,
                "huge" => ProbeKind::Huge,
                _ => return Err(format!("unknown probe kind {name:?}")),
            };
            let weight: usize = weight
                .parse()
                .map_err(|_| format!("bad weight in {part:?}"))?;
            weights.push((kind, weight));
        }
        // Interleave: kind i gets `weight` of the slots, spread over the cycle.
        let total: usize = weights.iter().map(|(_, weight)| weight).sum();
        if total == 0 {
            return Err("the mix is empty".to_owned());
        }
        let mut slots = Vec::with_capacity(total);
        let mut given = vec![0usize; weights.len()];
        for slot in 0..total {
            // The kind furthest behind its share at this point of the cycle goes next.
            let (pick, _) = weights
                .iter()
                .enumerate()
                .map(|(index, (_, weight))| {
                    let due = weight * (slot + 1);
                    let had = given[index] * total;
                    (
                        index,
                        i128::try_from(due).unwrap_or(0) - i128::try_from(had).unwrap_or(0),
                    )
                })
                .max_by_key(|&(index, behind)| (behind, usize::MAX - index))
                .unwrap_or((0, 0));
            given[pick] += 1;
            slots.push(weights[pick].0);
        }
        Ok(Self { slots })
    }

    /// The kind of probe number `sequence`.
    pub(crate) fn kind(&self, sequence: u64) -> ProbeKind {
        let length = self.slots.len() as u64;
        self.slots[usize::try_from(sequence % length).unwrap_or(0)]
    }
}

impl Default for Mix {
    fn default() -> Self {
        Self::parse("scan").unwrap_or(Self {
            slots: vec![ProbeKind::Options],
        })
    }
}

/// Writes probes for one target.
#[derive(Debug, Clone)]
pub(crate) struct ProbeWriter {
    mix: Mix,
    target: SocketAddr,
    numbers: u64,
}

impl ProbeWriter {
    /// Probes of `mix` aimed at `target`, INVITEs calling `numbers` distinct numbers.
    pub(crate) fn new(mix: Mix, target: SocketAddr, numbers: u64) -> Self {
        Self {
            mix,
            target,
            numbers: numbers.max(1),
        }
    }

    /// The number INVITE `sequence` calls (without its `00`): in a scrambled order, every one
    /// of `numbers` reached in `numbers` consecutive probes (7,919 is prime).
    fn invite_number(&self, sequence: u64) -> u64 {
        4_600_000_000 + (sequence.wrapping_mul(7_919) % self.numbers)
    }

    /// The called number (the `To` user) of probe number `sequence`.
    pub(crate) fn called_number(&self, sequence: u64) -> String {
        match self.mix.kind(sequence) {
            ProbeKind::Options | ProbeKind::Huge => "100".to_owned(),
            ProbeKind::Register => (100 + sequence % 9_900).to_string(),
            ProbeKind::Invite => format!("00{}", self.invite_number(sequence)),
        }
    }

    /// Replaces `buffer` with probe number `sequence`, sent from `source` over `transport`
    /// (`UDP` or `TCP`, as written in `Via`); returns its kind.
    pub(crate) fn write(
        &self,
        sequence: u64,
        source: SocketAddr,
        transport: &str,
        buffer: &mut Vec<u8>,
    ) -> ProbeKind {
        buffer.clear();
        let kind = self.mix.kind(sequence);
        let target = self.target;
        // Writing into a Vec cannot fail.
        let _ = match kind {
            ProbeKind::Options | ProbeKind::Huge => write!(
                buffer,
                "OPTIONS sip:100@{target} SIP/2.0\r\n\
                 Via: SIP/2.0/{transport} {source};branch=z9hG4bK-{sequence:x};rport\r\n\
                 Max-Forwards: 70\r\n\
                 From: \"sipvicious\"<sip:100@1.1.1.1>;tag=6136{sequence:08x}\r\n\
                 To: \"sipvicious\"<sip:100@1.1.1.1>\r\n\
                 Call-ID: {sequence}{sequence:x}\r\n\
                 CSeq: 1 OPTIONS\r\n\
                 Contact: <sip:100@{source}>\r\n\
                 Accept: application/sdp\r\n\
                 User-Agent: friendly-scanner\r\n"
            ),
            ProbeKind::Register => {
                let extension = 100 + sequence % 9_900;
                write!(
                    buffer,
                    "REGISTER sip:{target} SIP/2.0\r\n\
                     Via: SIP/2.0/{transport} {source};branch=z9hG4bK-{sequence:x};rport\r\n\
                     Max-Forwards: 70\r\n\
                     From: \"{extension}\"<sip:{extension}@{target}>;tag=3234{sequence:08x}\r\n\
                     To: \"{extension}\"<sip:{extension}@{target}>\r\n\
                     Call-ID: {sequence:x}-reg\r\n\
                     CSeq: 1 REGISTER\r\n\
                     Contact: <sip:{extension}@{source}>\r\n\
                     Expires: 3600\r\n\
                     User-Agent: friendly-scanner\r\n"
                )
            }
            ProbeKind::Invite => {
                let number = self.invite_number(sequence);
                let body = format!(
                    "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
                     m=audio 10000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
                     a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
                    ip = source.ip()
                );
                write!(
                    buffer,
                    "INVITE sip:00{number}@{target} SIP/2.0\r\n\
                     Via: SIP/2.0/{transport} {source};branch=z9hG4bK-{sequence:x};rport\r\n\
                     Max-Forwards: 70\r\n\
                     From: \"100\"<sip:100@{target}>;tag=7c3{sequence:08x}\r\n\
                     To: <sip:00{number}@{target}>\r\n\
                     Call-ID: {sequence:x}-call\r\n\
                     CSeq: 1 INVITE\r\n\
                     Contact: <sip:100@{source}>\r\n\
                     Content-Type: application/sdp\r\n\
                     User-Agent: sipcli/v1.8\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            }
        };
        if kind != ProbeKind::Invite {
            if kind == ProbeKind::Huge {
                // Pad with one long header so the datagram is as large as UDP allows.
                let fixed = buffer.len() + "X-Padding: \r\nContent-Length: 0\r\n\r\n".len();
                let padding = MAX_UDP_PAYLOAD.saturating_sub(fixed);
                buffer.extend_from_slice(b"X-Padding: ");
                buffer.resize(buffer.len() + padding, b'a');
                buffer.extend_from_slice(b"\r\n");
            }
            buffer.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        }
        kind
    }
}
