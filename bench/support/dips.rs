//! A dipping switch for the benchmarks (`sip_agent`, `loadgen bench --only dips`): paced SIP
//! INVITEs over UDP to the SIP agent, each answer ACKed as a proxy does and timed from its
//! INVITE's send. Which key a dip asks about follows from its sequence number: a third call a
//! number of the listed range (`0046…`), a third a clean one (`0047…`), a third a clean number
//! from an IP of the listed range (`X-Source-IP`), drawn at random over the whole range.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Keys of the listed range (the SIP agent issue's target list).
pub(crate) const LISTED_IPS: u32 = 1_000_000;
pub(crate) const LISTED_NUMBERS: u64 = 5_000_000;
/// Listed IP `i` is `11.0.0.0 + i` (11.0.0.0/8 is no special-purpose block); listed number `j`
/// is `0046` followed by `j` on 9 digits, clean ones `0047…`.
const FIRST_IP: u32 = 0x0B00_0000;

/// The listed range's IP number `index`.
pub(crate) fn listed_ip(index: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(FIRST_IP + index))
}

/// Number `index` under `prefix` (`0046` listed, `0047` clean).
pub(crate) fn number(prefix: &str, index: u64) -> String {
    format!("{prefix}{index:09}")
}

/// One run's latencies (nanoseconds) and the share of dips answered (per mille).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DipRun {
    pub(crate) p50: u64,
    pub(crate) p99: u64,
    pub(crate) max: u64,
    pub(crate) answered_per_mille: u64,
}

/// The INVITE (or its ACK) of dip `sequence`.
fn message(method: &str, sequence: u64, agent: SocketAddr, client: SocketAddr) -> String {
    let mut random = sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    random ^= random >> 29;
    let (called, caller) = match sequence % 3 {
        0 => (number("0046", random % LISTED_NUMBERS), String::new()),
        1 => (number("0047", random % LISTED_NUMBERS), String::new()),
        _ => {
            let index = u32::try_from(random % u64::from(LISTED_IPS)).unwrap_or(0);
            (
                number("0047", random % LISTED_NUMBERS),
                format!("X-Source-IP: {}\r\n", listed_ip(index)),
            )
        }
    };
    format!(
        "{method} sip:{called}@{agent} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {client};branch=z9hG4bK-b{sequence}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bench@{client}>;tag=t{sequence}\r\n\
         To: <sip:{called}@{agent}>\r\n\
         Call-ID: d{sequence}@bench\r\n\
         CSeq: 1 {method}\r\n\
         {caller}Content-Length: 0\r\n\r\n"
    )
}

/// The dip number in an answer's `Call-ID: d<N>@bench`.
fn answered_sequence(reply: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(reply).ok()?;
    let rest = text.split("Call-ID: d").nth(1)?;
    rest.split('@').next()?.parse().ok()
}

/// Sends `rate` dips a second to `agent` for `seconds`, paced each 200 µs, and times their
/// answers.
pub(crate) fn measure(agent: SocketAddr, rate: u64, seconds: u64) -> anyhow::Result<DipRun> {
    let client = UdpSocket::bind("127.0.0.1:0")?;
    let socket = socket2::SockRef::from(&client);
    socket.set_recv_buffer_size(8 << 20)?;
    client.set_read_timeout(Some(Duration::from_millis(500)))?;
    let local = client.local_addr()?;
    let total = rate * seconds;
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let sending = Arc::new(AtomicBool::new(true));
    let start = Instant::now();
    let receiver = {
        let client = client.try_clone()?;
        let sent_at = Arc::clone(&sent_at);
        let sending = Arc::clone(&sending);
        thread::spawn(move || receive(&client, agent, local, start, &sent_at, &sending))
    };
    let mut sent = 0u64;
    while sent < total {
        let due = (u128::from(rate) * start.elapsed().as_micros() / 1_000_000) as u64;
        while sent < due.min(total) {
            let invite = message("INVITE", sent, agent, local);
            let at = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if let Some(slot) = sent_at.get(usize::try_from(sent)?) {
                slot.store(at, Ordering::Relaxed);
            }
            client.send_to(invite.as_bytes(), agent)?;
            sent += 1;
        }
        thread::sleep(Duration::from_micros(200));
    }
    sending.store(false, Ordering::Relaxed);
    let mut latencies = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))?;
    latencies.sort_unstable();
    let at = |share: f64| {
        let index =
            ((latencies.len() as f64 * share) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(index).copied().unwrap_or(0)
    };
    Ok(DipRun {
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or(0),
        answered_per_mille: latencies.len() as u64 * 1000 / total.max(1),
    })
}

/// Receives answers until the sender is done and half a second passes quietly; ACKs each and
/// records its latency (a retransmitted answer counts once).
fn receive(
    client: &UdpSocket,
    agent: SocketAddr,
    local: SocketAddr,
    start: Instant,
    sent_at: &[AtomicU64],
    sending: &AtomicBool,
) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(sent_at.len());
    let mut seen = vec![false; sent_at.len()];
    let mut buffer = [0u8; 4096];
    loop {
        let length = match client.recv(&mut buffer) {
            Ok(length) => length,
            Err(_) if sending.load(Ordering::Relaxed) => continue,
            Err(_) => break,
        };
        let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let Some(sequence) = buffer.get(..length).and_then(answered_sequence) else {
            continue;
        };
        let Ok(index) = usize::try_from(sequence) else {
            continue;
        };
        if seen.get(index).copied().unwrap_or(true) {
            continue;
        }
        seen[index] = true;
        let sent = sent_at[index].load(Ordering::Relaxed);
        latencies.push(now.saturating_sub(sent));
        let ack = message("ACK", sequence, agent, local);
        let _ = client.send_to(ack.as_bytes(), agent);
    }
    latencies
}
