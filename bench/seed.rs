//! Benchmark helper: fills a SentryPeer database with synthetic events through the store's own
//! writer path (aggregates included), fast, deterministic.
//!
//! ```text
//! cargo run --release --example seed -- DB_FILE EVENTS IPS NUMBERS [AUTHORS]
//! ```
//!
//! IP `i` is `198.18.(i / 256 % 256).(i % 256)` spread over 198.18.0.0/15 (the benchmarking
//! range), number `j` is `00` followed by `4600000000 + j`; `bench/lookups.lua` asks for the same
//! keys. Events are spread over the last 6 days (inside the default 7-day retention).
//!
//! With `SEED_SOURCES=world` in the environment, the events are instead the mix of
//! [`world`]: public source IPs with countries, a few heavy senders, several tools, methods and
//! attack types (the dashboard's screenshot, `SOURCES=world bench/gui.sh`).
//!
//! With `AUTHORS` (`bench/p2p.sh late-joiner`), the events are records received from that many
//! peers in turn, each signed by its author's key for the `sentrypeer` network and stored with
//! its signed record, as catch-up serves them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use libp2p::identity::Keypair;
use sentrypeer::event::{Attack, BadActor, CollectedMethod, Origin, PeerOrigin, Transport};
use sentrypeer::p2p::record::SignedRecord;
use sentrypeer::sip::MessageKind;
use uuid::Uuid;

#[path = "seed/world.rs"]
mod world;

/// Events per transaction.
const BATCH: usize = 10_000;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (db, events, ips, numbers, authors) = match args.as_slice() {
        [db, events, ips, numbers] => (db, events, ips, numbers, "0"),
        [db, events, ips, numbers, authors] => (db, events, ips, numbers, authors.as_str()),
        _ => bail!("usage: seed DB_FILE EVENTS IPS NUMBERS [AUTHORS]"),
    };
    let authors: Vec<Keypair> = (0..authors.parse::<usize>().context("AUTHORS")?)
        .map(|_| Keypair::generate_ed25519())
        .collect();
    let events: u64 = events.parse().context("EVENTS")?;
    let ips: u64 = ips.parse().context("IPS")?;
    let numbers: u64 = numbers.parse().context("NUMBERS")?;
    if ips == 0 || numbers == 0 || ips > 131_072 {
        bail!("IPS must be 1..=131072 and NUMBERS at least 1");
    }
    let world = match std::env::var("SEED_SOURCES").as_deref() {
        Ok("world") => Some(world::World::new(ips)),
        Ok(other) => bail!("SEED_SOURCES={other}: the only mix is `world`"),
        Err(_) => None,
    };
    let mut conn = sentrypeer::store::open(db.as_ref()).context("open database")?;
    let node = Uuid::new_v4();
    let now = Timestamp::now();
    let span_ns = SignedDuration::from_hours(6 * 24).as_nanos();
    let started = Instant::now();
    let mut batch: Vec<Arc<BadActor>> = Vec::with_capacity(BATCH);
    let mut random = 0x9E37_79B9_7F4A_7C15_u64;
    for index in 0..events {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        // The first NUMBERS events call each number once, so every number exists.
        let number = if index < numbers {
            index
        } else {
            random % numbers
        };
        let ip = (random >> 20) % ips;
        let age = SignedDuration::from_nanos(
            i64::try_from(
                u128::from(events - index) * span_ns.unsigned_abs() / u128::from(events.max(1)),
            )
            .unwrap_or(0),
        );
        let mut event = match &world {
            Some(world) => world.event(node, now - age, now, random, index, numbers),
            None => event(node, now - age, ip, number),
        };
        if let Some(author) = authors.get(index as usize % authors.len().max(1)) {
            received_from(&mut event, author)?;
        }
        batch.push(Arc::new(event));
        if batch.len() == BATCH {
            sentrypeer::store::writer::insert_events(&mut conn, &batch).context("insert")?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        sentrypeer::store::writer::insert_events(&mut conn, &batch).context("insert")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seeded {events} events ({ips} IPs, {numbers} numbers) in {seconds:.1} s: {:.0} events/s",
        events as f64 / seconds
    );
    Ok(())
}

/// Makes `event` a record received from `author`, as catch-up stores and serves it.
fn received_from(event: &mut BadActor, author: &Keypair) -> anyhow::Result<()> {
    let record = SignedRecord::sign(event, "sentrypeer", author).context("sign")?;
    event.origin = Origin::Peer(PeerOrigin {
        peer_id: author.public().to_peer_id().to_base58(),
        signed_record: Some(Arc::from(record.to_json())),
    });
    Ok(())
}

fn event(node: Uuid, at: Timestamp, ip: u64, number: u64) -> BadActor {
    let ip = Ipv4Addr::new(
        198,
        18 + u8::try_from(ip / 65_536).unwrap_or(0),
        ((ip / 256) % 256) as u8,
        (ip % 256) as u8,
    );
    let number = format!("00{}", 4_600_000_000 + number);
    let sip_message = format!(
        "INVITE sip:{number}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:5060;branch=z9hG4bK-1\r\n\
         From: <sip:100@{ip}>;tag=1\r\nTo: <sip:{number}@127.0.0.1>\r\nCall-ID: bench\r\n\
         CSeq: 1 INVITE\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
    );
    let attack = Attack::from_message(sip_message.as_bytes());
    BadActor {
        event_timestamp: at,
        event_uuid: Uuid::now_v7(),
        created_by_node_id: node,
        collected_method: CollectedMethod::Responsive,
        transport: Transport::Udp,
        source: SocketAddr::new(IpAddr::V4(ip), 5060),
        destination: SocketAddr::from(([127, 0, 0, 1], 5060)),
        sip_message,
        called_number: number.clone(),
        request_uri_user: Some(number),
        sip_method: "INVITE".to_owned(),
        sip_user_agent: "friendly-scanner".to_owned(),
        message_kind: MessageKind::Request,
        origin: Origin::Local,
        attack,
    }
}
