//! Properties of the event's JSON forms for any field values: one line of valid JSON, the
//! original's 13 keys first and in order, every value a string that reads back as its field.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use jiff::Timestamp;
use proptest::prelude::*;
use uuid::Uuid;

use super::test_support::EventBuilder;
use super::*;
use crate::sip::AttackType;

fn address() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        any::<u32>().prop_map(|ip| IpAddr::V4(Ipv4Addr::from(ip))),
        any::<u128>().prop_map(|ip| IpAddr::V6(Ipv6Addr::from(ip))),
    ]
    .prop_flat_map(|ip| any::<u16>().prop_map(move |port| SocketAddr::new(ip, port)))
}

/// Any text, control characters and non-ASCII included, or invalid UTF-8 made lossy as the
/// event does with raw bytes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\\x7f\"\\\\\u{2028}\u{fffd}a-z]{0,40}",
        proptest::collection::vec(any::<u8>(), 0..80)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
}

prop_compose! {
    fn event()(
        seconds in 0i64..4_000_000_000,
        nanos in 0i32..1_000_000_000,
        uuid in any::<u128>(),
        node in any::<u128>(),
        responsive in any::<bool>(),
        transport in 0usize..3,
        source in address(),
        destination in address(),
        called_number in text(),
        sip_method in text(),
        sip_user_agent in text(),
        sip_message in text(),
        peer in proptest::option::of("[1-9A-HJ-NP-Za-km-z]{10,52}"),
        attack_type in 0usize..AttackType::ALL.len(),
        from_user in proptest::option::of(text()),
        username in proptest::option::of(proptest::option::of(text())),
    ) -> BadActor {
        BadActor {
            event_timestamp: Timestamp::new(seconds, nanos).expect("in range"),
            event_uuid: Uuid::from_u128(uuid),
            created_by_node_id: Uuid::from_u128(node),
            collected_method: if responsive { CollectedMethod::Responsive } else { CollectedMethod::Passive },
            transport: Transport::ALL[transport],
            source,
            destination,
            called_number,
            request_uri_user: None,
            sip_method,
            sip_user_agent,
            sip_message,
            message_kind: MessageKind::Request,
            origin: match peer {
                None => Origin::Local,
                Some(peer_id) => Origin::Peer(PeerOrigin {
                    peer_id,
                    signed_record: Some(Arc::from("{}")),
                }),
            },
            attack: Attack {
                attack_type: AttackType::ALL[attack_type],
                credentials: username.map(|username| Credentials {
                    username,
                    ..Credentials::default()
                }),
                from_user,
                ..Attack::default()
            },
        }
    }
}

proptest! {
    #[test]
    fn the_json_line_is_one_valid_object_with_the_original_keys_in_order(event in event()) {
        let line = event.to_json_line();
        prop_assert!(!line.contains('\n') && !line.contains('\r'));
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let object = value.as_object().expect("an object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        prop_assert_eq!(&keys[..ORIGINAL_JSON_KEYS.len()], &ORIGINAL_JSON_KEYS[..]);
        // Then `origin` (peer events only), `attack_type`, and each field the event has.
        let present = |field: &Option<String>| usize::from(field.is_some());
        let username = event.attack.credentials.as_ref().map_or(0, |c| present(&c.username));
        let expected_keys = 13
            + usize::from(!event.origin.is_local())
            + 1
            + username
            + present(&event.attack.from_user);
        prop_assert_eq!(keys.len(), expected_keys);
        prop_assert!(object.values().all(serde_json::Value::is_string));
        let field = |key: &str| object[key].as_str().expect("string").to_owned();
        prop_assert_eq!(field("attack_type"), event.attack.attack_type.as_str());
        if let Some(from_user) = &event.attack.from_user {
            prop_assert_eq!(&field("from_user"), from_user);
        }
        prop_assert_eq!(field("called_number"), event.called_number.clone());
        prop_assert_eq!(field("sip_method"), event.sip_method.clone());
        prop_assert_eq!(field("sip_user_agent"), event.sip_user_agent.clone());
        prop_assert_eq!(field("sip_message"), event.sip_message.clone());
        prop_assert_eq!(field("source_ip").parse::<SocketAddr>().ok(), Some(event.source));
        prop_assert_eq!(field("destination_ip").parse::<SocketAddr>().ok(), Some(event.destination));
        prop_assert_eq!(parse_timestamp(&field("event_timestamp")), Some(event.event_timestamp));
        prop_assert_eq!(Uuid::try_parse(&field("event_uuid")).ok(), Some(event.event_uuid));
        prop_assert_eq!(Uuid::try_parse(&field("created_by_node_id")).ok(), Some(event.created_by_node_id));
        prop_assert_eq!(Transport::from_name(&field("transport_type")), Some(event.transport));
        prop_assert_eq!(CollectedMethod::from_name(&field("collected_method")), Some(event.collected_method));
        if let Origin::Peer(peer) = &event.origin {
            prop_assert_eq!(field("origin"), format!("peer:{}", peer.peer_id));
        }
        // The webhook serialises the same struct: the same bytes.
        prop_assert_eq!(serde_json::to_string(&event.to_json()).expect("serialises"), line);
    }

    #[test]
    fn raw_bytes_are_recorded_lossily_and_survive_the_json_line(
        raw in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let event = EventBuilder::new().capture(&raw);
        prop_assert_eq!(&event.sip_message, &String::from_utf8_lossy(&raw));
        let value: serde_json::Value = serde_json::from_str(&event.to_json_line()).expect("valid JSON");
        prop_assert_eq!(value["sip_message"].as_str(), Some(event.sip_message.as_str()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_json_line_never_exceeds_its_cap_and_says_when_it_cut_the_message(
        filler in prop::sample::select(vec!['\u{1}', '"', 'a', '\u{fffd}', '\n']),
        length in 0usize..=MAX_RECORDED_MESSAGE_BYTES,
    ) {
        let mut event = EventBuilder::new().build();
        let message: String = std::iter::repeat_n(filler, length).collect();
        event.sip_message = message
            .get(..message.floor_char_boundary(MAX_RECORDED_MESSAGE_BYTES))
            .unwrap_or_default()
            .to_owned();
        let line = event.to_json_line();
        prop_assert!(line.len() <= MAX_JSON_LINE_BYTES, "{} bytes", line.len());
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let logged = value["sip_message"].as_str().expect("a string");
        prop_assert!(event.sip_message.starts_with(logged));
        let cut = value.get("sip_message_cut").and_then(serde_json::Value::as_str);
        prop_assert_eq!(cut == Some("true"), logged.len() < event.sip_message.len());
    }
}
