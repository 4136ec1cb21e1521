//! One batch of raw events: the `honey` rows and the event rollups in one transaction, plus,
//! without an aggregate source, the batch's own aggregate rows.

use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tracing::debug;
use uuid::Uuid;

use crate::event::{BadActor, Credentials, Origin, format_timestamp};
use crate::sip::MessageKind;
use crate::store::StoreStats;
use crate::store::aggregate::PendingRows;
use crate::store::outage::Outage;
use crate::store::rollup::{EventTally, RollupValues};
use crate::telemetry::Count;

/// Every column the writer fills; `honey_id` and `created_at` are left to SQLite.
const INSERT_EVENT: &str = "
INSERT INTO honey (
    event_timestamp, event_uuid, collected_method, source_ip, source_port,
    called_number, transport_type, method, user_agent, sip_message,
    created_by_node_id, destination_ip, destination_port, origin, request_uri_user,
    message_kind, p2p_record,
    attack_type, auth_scheme, auth_username, auth_realm, auth_nonce, auth_uri, auth_response,
    auth_algorithm, auth_qop, auth_cnonce, auth_nc, from_user, contact, p_asserted_identity)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
    ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)";

/// Whether an event is already stored (peer records arrive by push and by catch-up, from several
/// peers: each is stored once).
const EVENT_EXISTS: &str = "SELECT EXISTS(SELECT 1 FROM honey WHERE event_uuid = ?1)";

/// What the writer keeps between batches.
#[derive(Debug)]
pub(super) struct BatchWriter {
    /// Values per rollup bucket (for the cap).
    rollups: RollupValues,
    /// Whether each batch also writes its own aggregate rows (no aggregate source).
    tally_aggregates: bool,
}

impl BatchWriter {
    /// A writer whose batches write their own aggregate rows when `tally_aggregates`.
    pub(super) fn new(tally_aggregates: bool) -> Self {
        Self {
            rollups: RollupValues::default(),
            tally_aggregates,
        }
    }

    /// Inserts one batch (retried while the store was healthy), counting the outcome; a
    /// failure is reported and the batch dropped.
    pub(super) fn write(
        &mut self,
        conn: &mut Connection,
        batch: &[Arc<BadActor>],
        stats: &StoreStats,
        outage: &mut Outage,
    ) {
        let started = Instant::now();
        let result = outage.attempt(|| {
            let written = store_events(conn, batch, &mut self.rollups, self.tally_aggregates);
            if written.is_err() {
                self.rollups.forget();
            }
            written
        });
        match result {
            Ok(over_cap) => {
                outage.stored();
                stats.record_batch(batch.len(), started.elapsed());
                stats.record_over_cap(over_cap);
                debug!(
                    events = batch.len(),
                    stored_total = stats.events_stored.count(),
                    "batch stored"
                );
            }
            Err(err) => {
                outage.failed(&err, batch.len());
                stats.record_failed_batch(batch.len());
            }
        }
    }
}

/// Inserts `events` in one transaction, all or none, with their event rollups and their own
/// aggregate rows (in `ip_addresses` and `called_numbers`): what the writer does without an
/// aggregate source. Benchmarks and tests use it to fill a database.
///
/// # Errors
///
/// Any SQLite error; the transaction is then rolled back.
pub fn insert_events(
    conn: &mut Connection,
    events: &[Arc<BadActor>],
) -> Result<(), rusqlite::Error> {
    store_events(conn, events, &mut RollupValues::default(), true).map(drop)
}

/// Inserts `events` with their rollups (and, with `tally_aggregates`, their aggregate rows) in
/// one transaction; the events the rollup cap left out of their value.
fn store_events(
    conn: &mut Connection,
    events: &[Arc<BadActor>],
    rollups: &mut RollupValues,
    tally_aggregates: bool,
) -> Result<u64, rusqlite::Error> {
    // IMMEDIATE takes the write lock up front, so a busy database waits (busy_timeout) at BEGIN
    // rather than failing half-way through the batch.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut tally = EventTally::default();
    let mut aggregates = PendingRows::default();
    for event in insert_rows(&tx, events)? {
        tally.add(event);
        if tally_aggregates {
            aggregates.add_event(event);
        }
    }
    let over_cap = tally.write(&tx, rollups)?;
    if tally_aggregates {
        aggregates.write(&tx)?;
    }
    tx.commit()?;
    Ok(over_cap)
}

/// Inserts the `honey` rows of `events` (a peer's event already stored is skipped) and returns
/// the events inserted.
fn insert_rows<'e>(
    tx: &Transaction<'_>,
    events: &'e [Arc<BadActor>],
) -> Result<Vec<&'e BadActor>, rusqlite::Error> {
    let mut insert = tx.prepare_cached(INSERT_EVENT)?;
    let mut exists = tx.prepare_cached(EVENT_EXISTS)?;
    let mut inserted = Vec::with_capacity(events.len());
    // UUIDs as text on the stack: two allocations fewer per row.
    let (mut uuid_text, mut node_text) = (Uuid::encode_buffer(), Uuid::encode_buffer());
    for event in events {
        let uuid = &*event.event_uuid.hyphenated().encode_lower(&mut uuid_text);
        let shared = match &event.origin {
            Origin::Local => None,
            Origin::Peer(_) | Origin::OpenDht => {
                if exists.query_row([uuid], |row| row.get::<_, bool>(0))? {
                    continue;
                }
                match &event.origin {
                    Origin::Peer(peer) => peer.signed_record.as_deref(),
                    _ => None,
                }
            }
        };
        let empty = event.message_kind == MessageKind::Empty;
        let attack = &event.attack;
        let credential = |field: fn(&Credentials) -> &Option<String>| {
            attack
                .credentials
                .as_ref()
                .and_then(|c| field(c).as_deref())
        };
        insert.execute(params![
            format_timestamp(event.event_timestamp),
            uuid,
            event.collected_method.as_str(),
            event.source.ip().to_string(),
            event.source.port(),
            null_if_empty(empty, &event.called_number),
            event.transport.as_str(),
            null_if_empty(empty, &event.sip_method),
            null_if_empty(empty, &event.sip_user_agent),
            null_if_empty(empty, &event.sip_message),
            &*event
                .created_by_node_id
                .hyphenated()
                .encode_lower(&mut node_text),
            event.destination.ip().to_string(),
            event.destination.port(),
            event.origin.to_column(),
            event.request_uri_user.as_deref(),
            event.message_kind.as_str(),
            shared,
            attack.attack_type.as_str(),
            credential(|c| &c.scheme),
            credential(|c| &c.username),
            credential(|c| &c.realm),
            credential(|c| &c.nonce),
            credential(|c| &c.uri),
            credential(|c| &c.response),
            credential(|c| &c.algorithm),
            credential(|c| &c.qop),
            credential(|c| &c.cnonce),
            credential(|c| &c.nc),
            attack.from_user.as_deref(),
            attack.contact.as_deref(),
            attack.p_asserted_identity.as_deref(),
        ])?;
        inserted.push(&**event);
    }
    Ok(inserted)
}

/// For an empty message, an empty field is stored as NULL, as the original did.
fn null_if_empty(empty_message: bool, value: &str) -> Option<&str> {
    (!(empty_message && value.is_empty())).then_some(value)
}
