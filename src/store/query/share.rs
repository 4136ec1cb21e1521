//! What peer-to-peer sharing reads: pages of the events of the retention window for catch-up
//! (local events rebuilt for signing, peer events as the signed records they came in), and how
//! many records each peer contributed.

use std::net::{IpAddr, SocketAddr};

use rusqlite::{Connection, Row, params};
use uuid::Uuid;

use super::{as_i64, as_u64, text};
use crate::event::{
    Attack, BadActor, CollectedMethod, Credentials, Origin, Transport, parse_timestamp,
};
use crate::sip::{AttackType, MessageKind};
use crate::store::StoreError;

/// One shareable event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shareable {
    /// Captured here: the node signs it when sending.
    Local(Box<BadActor>),
    /// Received from a peer: the signed record as it came.
    Peer(String),
}

/// A page of the window: the events and the position after the last one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SharePage {
    /// The events, oldest first.
    pub events: Vec<Shareable>,
    /// `(event_timestamp, event_uuid)` of the last row read, to ask for the next page.
    pub last: Option<(String, String)>,
    /// Rows read, including those that could not be rebuilt into an event: the page is full
    /// (there may be more) when this is the limit asked for.
    pub rows: usize,
}

/// Events at or after `since`, oldest first by `(event_timestamp, event_uuid)`, strictly after
/// `after`, from any origin but `?5` (the node asking: its own records are not sent back), at
/// most `limit`.
const SHAREABLE: &str = "
SELECT event_timestamp, event_uuid, created_by_node_id, collected_method, transport_type,
       source_ip, source_port, destination_ip, destination_port, called_number, method,
       user_agent, sip_message, request_uri_user, message_kind, origin, p2p_record,
       attack_type, auth_scheme, auth_username, auth_realm, auth_nonce, auth_uri,
       auth_response, auth_algorithm, auth_qop, auth_cnonce, auth_nc, from_user, contact,
       p_asserted_identity
FROM honey
WHERE event_timestamp >= ?1
  AND (?2 IS NULL OR event_timestamp > ?2 OR (event_timestamp = ?2 AND event_uuid > ?3))
  AND (origin = 'local' OR p2p_record IS NOT NULL)
  AND (?5 IS NULL OR origin != ?5)
ORDER BY event_timestamp, event_uuid
LIMIT ?4";

/// Records per peer author within the window.
const CONTRIBUTIONS: &str = "
SELECT substr(origin, 6), COUNT(*) FROM honey
WHERE origin LIKE 'peer:%' AND event_timestamp >= ?1
GROUP BY origin";

/// One page of shareable events (see [`SharePage`]), leaving out the records of `requester`
/// (a PeerId) when given. Rows that cannot be rebuilt into an event (written by the original
/// with missing fields) are skipped, but counted in [`SharePage::rows`].
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn shareable_events(
    conn: &Connection,
    since: &str,
    after: Option<(&str, &str)>,
    limit: usize,
    requester: Option<&str>,
) -> Result<SharePage, StoreError> {
    let mut statement = conn.prepare_cached(SHAREABLE)?;
    let (after_time, after_uuid) = after.unzip();
    let requester = requester.map(|peer_id| format!("peer:{peer_id}"));
    let mut rows = statement.query(params![
        since,
        after_time,
        after_uuid,
        as_i64(limit),
        requester
    ])?;
    let mut page = SharePage::default();
    while let Some(row) = rows.next()? {
        page.rows += 1;
        let timestamp = text(row, 0)?.unwrap_or_default();
        let uuid = text(row, 1)?.unwrap_or_default();
        let origin = text(row, 15)?.unwrap_or_default();
        let shareable = if origin == "local" {
            rebuild(row)?.map(|event| Shareable::Local(Box::new(event)))
        } else {
            text(row, 16)?.map(Shareable::Peer)
        };
        page.events.extend(shareable);
        page.last = Some((timestamp, uuid));
    }
    Ok(page)
}

/// How many records each peer (by PeerId) contributed at or after `since`.
///
/// # Errors
///
/// [`StoreError::Sqlite`] when the query fails.
pub fn contributions_since(
    conn: &Connection,
    since: &str,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut statement = conn.prepare_cached(CONTRIBUTIONS)?;
    let rows = statement.query_map([since], |row| {
        Ok((text(row, 0)?.unwrap_or_default(), as_u64(row.get(1)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A local row as the event it was captured as.
fn rebuild(row: &Row<'_>) -> Result<Option<BadActor>, rusqlite::Error> {
    let field = |index| text(row, index).map(Option::unwrap_or_default);
    let address = |ip_index, port_index| -> Result<Option<SocketAddr>, rusqlite::Error> {
        let ip = text(row, ip_index)?.and_then(|ip| ip.parse::<IpAddr>().ok());
        let port: Option<i64> = row.get(port_index)?;
        Ok(ip.map(|ip| SocketAddr::new(ip, port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0))))
    };
    let (
        Some(event_timestamp),
        Ok(event_uuid),
        Ok(created_by_node_id),
        Some(source),
        Some(destination),
    ) = (
        parse_timestamp(&field(0)?),
        Uuid::try_parse(&field(1)?),
        Uuid::try_parse(&field(2)?),
        address(5, 6)?,
        address(7, 8)?,
    )
    else {
        return Ok(None);
    };
    let Some(transport) = Transport::from_name(&field(4)?) else {
        return Ok(None);
    };
    let message_kind = MessageKind::from_name(&field(14)?).unwrap_or(MessageKind::Malformed);
    let sip_message = field(12)?;
    let attack = match text(row, 17)?.as_deref().and_then(AttackType::from_name) {
        Some(attack_type) => stored_attack(row, attack_type)?,
        None => Attack::from_message(sip_message.as_bytes()),
    };
    Ok(Some(BadActor {
        event_timestamp,
        event_uuid,
        created_by_node_id,
        collected_method: CollectedMethod::from_name(&field(3)?)
            .unwrap_or(CollectedMethod::Passive),
        transport,
        source,
        destination,
        called_number: field(9)?,
        request_uri_user: text(row, 13)?,
        sip_method: field(10)?,
        sip_user_agent: field(11)?,
        sip_message,
        message_kind,
        origin: Origin::Local,
        attack,
    }))
}

/// The attack columns of a [`SHAREABLE`] row (from index 17 on).
fn stored_attack(row: &Row<'_>, attack_type: AttackType) -> Result<Attack, rusqlite::Error> {
    let credentials = Credentials {
        scheme: text(row, 18)?,
        username: text(row, 19)?,
        realm: text(row, 20)?,
        nonce: text(row, 21)?,
        uri: text(row, 22)?,
        response: text(row, 23)?,
        algorithm: text(row, 24)?,
        qop: text(row, 25)?,
        cnonce: text(row, 26)?,
        nc: text(row, 27)?,
    };
    Ok(Attack {
        attack_type,
        credentials: (credentials != Credentials::default()).then_some(credentials),
        from_user: text(row, 28)?,
        contact: text(row, 29)?,
        p_asserted_identity: text(row, 30)?,
    })
}
