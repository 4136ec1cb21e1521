//! The original's value: written in its order and formats, read back, bogus values refused.

use super::*;
use crate::event::test_support::EventBuilder;

const NOW: &str = "2026-12-04T20:00:00Z";

fn window() -> ImportWindow {
    ImportWindow {
        retention: Some(SignedDuration::from_hours(24 * 7)),
        now: NOW.parse().expect("timestamp"),
    }
}

/// A value as the original's C build puts it (6-digit fraction, bare IPs).
fn original(source_ip: &str, timestamp: &str) -> String {
    serde_json::json!({
        "app_name": "sentrypeer",
        "app_version": "v4.0.4",
        "event_timestamp": timestamp,
        "event_uuid": "2ceba0a8-1b3c-4d5e-8f90-123456789abc",
        "created_by_node_id": "7d1f1a0e-2b3c-4d5e-8f90-abcdefabcdef",
        "collected_method": "passive",
        "transport_type": "UDP",
        "source_ip": source_ip,
        "destination_ip": "192.0.2.1",
        "called_number": "+441234567890",
        "sip_method": "INVITE",
        "sip_user_agent": "friendly-scanner",
        "sip_message": "INVITE sip:100@192.0.2.1 SIP/2.0\r\nTo: <sip:+441234567890@192.0.2.1>\r\n\r\n",
    })
    .to_string()
}

#[test]
fn our_events_are_put_with_the_original_keys_in_order_and_bare_ips() {
    let event = EventBuilder::new()
        .source_ip("203.0.113.9")
        .capture(b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\n\r\n");
    let bytes = OriginalValue::of(&event).to_bytes();
    let value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).expect("JSON object");
    let keys: Vec<&str> = value.keys().map(String::as_str).collect();
    assert_eq!(keys, ORIGINAL_JSON_KEYS);
    assert_eq!(value["source_ip"], "203.0.113.9");
    assert!(value.values().all(serde_json::Value::is_string));
    // And it reads back as the same event.
    let window = ImportWindow {
        retention: None,
        now: event.event_timestamp,
    };
    let back = import(&bytes, window).expect("valid");
    assert_eq!(back.event_uuid, event.event_uuid);
    assert_eq!(back.source.ip(), event.source.ip());
    assert_eq!(back.origin, Origin::OpenDht);
}

#[test]
fn the_original_values_are_imported_with_bare_or_port_source_ips() {
    for source in ["198.51.100.7", "198.51.100.7:5060"] {
        let event = import(
            original(source, "2026-12-04 19:59:00.123456").as_bytes(),
            window(),
        )
        .expect("valid");
        assert_eq!(event.source.ip().to_string(), "198.51.100.7");
        assert_eq!(event.called_number, "+441234567890");
        assert_eq!(event.sip_method, "INVITE");
        assert_eq!(event.origin, Origin::OpenDht);
    }
}

#[test]
fn bogus_values_are_refused_with_their_reason() {
    let good = original("198.51.100.7", "2026-12-04 19:59:00.123456");
    let mut extra: serde_json::Value = serde_json::from_str(&good).expect("json");
    extra["origin"] = "local".into();
    let mut missing = extra.clone();
    missing.as_object_mut().expect("object").remove("origin");
    missing
        .as_object_mut()
        .expect("object")
        .remove("sip_message");
    let mut number: serde_json::Value = serde_json::from_str(&good).expect("json");
    number["sip_method"] = 5.into();
    let cases: Vec<(Vec<u8>, Refusal)> = vec![
        (vec![b' '; MAX_VALUE_BYTES + 1], Refusal::TooLarge),
        (b"garbage".to_vec(), Refusal::Malformed),
        (b"[1,2]".to_vec(), Refusal::Malformed),
        (extra.to_string().into_bytes(), Refusal::WrongKeys),
        (missing.to_string().into_bytes(), Refusal::WrongKeys),
        (
            number.to_string().into_bytes(),
            Refusal::InvalidField("sip_method"),
        ),
        (
            original("not-an-ip", "2026-12-04 19:59:00.123456").into_bytes(),
            Refusal::InvalidField("source_ip"),
        ),
        (
            original("198.51.100.7", "2027-12-04 19:59:00.123456").into_bytes(),
            Refusal::OutOfWindow,
        ),
        (
            original("198.51.100.7", "2020-12-04 19:59:00.123456").into_bytes(),
            Refusal::OutOfWindow,
        ),
        (
            original("198.51.100.7", "yesterday").into_bytes(),
            Refusal::InvalidField("event_timestamp"),
        ),
    ];
    for (value, refusal) in cases {
        assert_eq!(import(&value, window()).err(), Some(refusal));
    }
}
