//! Synthetic events for the micro-benchmarks (`store_insert`, `webhook_delivery`): a scanner's
//! INVITE as the listeners record it.

use std::net::SocketAddr;

use jiff::Timestamp;
use sentrypeer::event::{Attack, BadActor, CollectedMethod, Origin, Transport};
use sentrypeer::sip::MessageKind;
use uuid::Uuid;

/// A local, passive UDP INVITE from `source` calling `number` at `at`, recorded as `sip_message`.
pub(crate) fn invite(
    at: Timestamp,
    source: SocketAddr,
    number: &str,
    sip_message: String,
) -> BadActor {
    BadActor {
        event_timestamp: at,
        event_uuid: Uuid::now_v7(),
        created_by_node_id: Uuid::from_u128(0x1234),
        collected_method: CollectedMethod::Passive,
        transport: Transport::Udp,
        source,
        destination: SocketAddr::from(([192, 0, 2, 10], 5060)),
        called_number: number.to_owned(),
        request_uri_user: Some(number.to_owned()),
        sip_method: "INVITE".to_owned(),
        sip_user_agent: "friendly-scanner".to_owned(),
        attack: Attack::from_message(sip_message.as_bytes()),
        sip_message,
        message_kind: MessageKind::Request,
        origin: Origin::Local,
    }
}
