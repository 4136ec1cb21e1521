//! Fills a database with synthetic events before a daemon starts on it, through the store's own
//! writer path (aggregates included), so a test gets a large database in seconds instead of
//! sending every probe.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use sentrypeer::event::{Attack, BadActor, CollectedMethod, Origin, Transport};
use sentrypeer::sip::MessageKind;
use uuid::Uuid;

/// Events per transaction.
const BATCH: usize = 10_000;

/// Adds `events` INVITEs from `ips` source IPs (198.18.0.0/15) calling `numbers` numbers (each
/// called at least once when `events >= numbers`), spread over the last day, to the database at
/// `path` (created and migrated if missing).
pub(crate) fn seed_database(path: &Path, events: usize, ips: usize, numbers: usize) {
    let mut conn = sentrypeer::store::open(path).expect("open the database to seed");
    let node = Uuid::new_v4();
    let now = Timestamp::now();
    let mut batch: Vec<Arc<BadActor>> = Vec::with_capacity(BATCH);
    for index in 0..events {
        let number = index % numbers.max(1);
        let ip = index.wrapping_mul(2_654_435_761) % ips.max(1);
        let age = SignedDuration::from_secs(i64::try_from((events - index) % 86_000).unwrap_or(0));
        batch.push(Arc::new(invite(node, now - age, ip, number)));
        if batch.len() == BATCH {
            sentrypeer::store::writer::insert_events(&mut conn, &batch).expect("insert a batch");
            batch.clear();
        }
    }
    sentrypeer::store::writer::insert_events(&mut conn, &batch).expect("insert the last batch");
}

fn invite(node: Uuid, at: Timestamp, ip: usize, number: usize) -> BadActor {
    let octets = u32::try_from(ip).unwrap_or(0).to_be_bytes();
    let source = IpAddr::V4(Ipv4Addr::new(
        198,
        18 + (octets[1] & 1),
        octets[2],
        octets[3],
    ));
    let number = format!("00{}", 4_600_000_000_u64 + number as u64);
    let message = format!(
        "INVITE sip:{number}@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP {source}:5070;branch=z9hG4bK-{ip}\r\n\
         From: <sip:100@192.0.2.10>;tag={ip}\r\nTo: <sip:{number}@192.0.2.10>\r\n\
         Call-ID: seed-{ip}-{number}\r\nCSeq: 1 INVITE\r\nUser-Agent: friendly-scanner\r\n\
         Content-Length: 0\r\n\r\n"
    );
    BadActor {
        event_timestamp: at,
        event_uuid: Uuid::now_v7(),
        created_by_node_id: node,
        collected_method: CollectedMethod::Passive,
        transport: Transport::Udp,
        source: SocketAddr::new(source, 5070),
        destination: SocketAddr::from(([192, 0, 2, 10], 5060)),
        called_number: number.clone(),
        request_uri_user: Some(number),
        sip_method: "INVITE".to_owned(),
        sip_user_agent: "friendly-scanner".to_owned(),
        attack: Attack::from_message(message.as_bytes()),
        sip_message: message,
        message_kind: MessageKind::Request,
        origin: Origin::Local,
    }
}
