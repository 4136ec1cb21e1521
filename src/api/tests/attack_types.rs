//! Attack types over the API: the `attack_type` filters, the per-IP `attack_types`, the stats
//! counts, the credentials in event items, strict parameters, and the original routes left as
//! they were.

use axum::http::StatusCode;

use super::{Fixture, assert_common_headers, get};
use crate::event::BadActor;
use crate::event::test_support::EventBuilder;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/sip/", $name))
    };
}

/// What a listener records of `message` from `ip`, `seconds_ago` old.
fn captured(ip: &str, message: &[u8], minutes_ago: i64) -> BadActor {
    EventBuilder::new()
        .source_ip(ip)
        .seconds_ago(minutes_ago * 60)
        .capture(message)
}

/// A scanner (OPTIONS then REGISTER), a password cracker, a caller and a garbage sender.
fn seeded() -> Fixture {
    let fixture = Fixture::empty();
    fixture.insert(&[
        captured("192.0.2.1", fixture!("svmap_options.sip"), 50),
        captured("192.0.2.1", fixture!("svwar_register.sip"), 40),
        captured("192.0.2.2", fixture!("svcrack_register_digest.sip"), 30),
        captured("192.0.2.2", fixture!("svcrack_register_digest.sip"), 20),
        captured("192.0.2.3", fixture!("invite_international_number.sip"), 10),
        captured("192.0.2.4", fixture!("garbage.sip"), 5),
    ]);
    fixture
}

fn strings(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|item| item.as_str().expect("string"))
        .collect()
}

#[tokio::test]
async fn events_filter_by_attack_type_and_show_credentials() {
    let fixture = seeded();
    let router = fixture.router();
    let page = get(&router, "/api/v1/events?attack_type=password_cracking")
        .await
        .json();
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    for event in events {
        assert_eq!(event["attack_type"], "password_cracking");
        assert_eq!(event["auth_scheme"], "Digest");
        assert_eq!(event["auth_username"], "100");
        assert_eq!(event["auth_realm"], "asterisk");
        assert_eq!(event["auth_nonce"], "00000001");
        assert_eq!(event["auth_uri"], "sip:127.0.0.1");
        assert_eq!(event["auth_response"], "321dcfbd02c4763dba804cf7dbfef882");
        assert_eq!(event["auth_algorithm"], "MD5");
        assert_eq!(event["auth_qop"], "auth");
        assert!(event["auth_cnonce"].is_null() && event["auth_nc"].is_null());
        assert_eq!(event["from_user"], "100");
    }
    let calls = get(&router, "/api/v1/events?attack_type=call_attempt")
        .await
        .json();
    let call = &calls["events"][0];
    assert_eq!(call["sip_method"], "INVITE");
    assert_eq!(call["from_user"], "100");
    assert_eq!(call["contact"], "<sip:100@192.0.2.55:5060>");
    assert!(call["auth_username"].is_null() && call["p_asserted_identity"].is_null());
    let all = get(&router, "/api/v1/events").await.json();
    let types: Vec<&str> = all["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["attack_type"].as_str().expect("attack_type"))
        .collect();
    assert_eq!(
        types,
        [
            "malformed",
            "call_attempt",
            "password_cracking",
            "password_cracking",
            "extension_enumeration",
            "scan"
        ]
    );
    let none = get(&router, "/api/v1/events?attack_type=other")
        .await
        .json();
    assert_eq!(none["events"], serde_json::json!([]));
}

#[tokio::test]
async fn ip_items_list_their_attack_types_and_the_listing_filters_by_one() {
    let fixture = seeded();
    let router = fixture.router();
    let all = get(&router, "/api/v1/ip-addresses").await.json();
    let scanner = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["ip_address"] == "192.0.2.1")
        .expect("the scanner");
    assert_eq!(
        strings(&scanner["attack_types"]),
        ["scan", "extension_enumeration"]
    );
    let enumerators = get(
        &router,
        "/api/v1/ip-addresses?attack_type=extension_enumeration",
    )
    .await
    .json();
    let items = enumerators["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["ip_address"], "192.0.2.1");
    assert_eq!(items[0]["seen_count"], 2, "the IP's whole count");
    let crackers = get(
        &router,
        "/api/v1/ip-addresses?attack_type=password_cracking&origin=local",
    )
    .await
    .json();
    assert_eq!(crackers["items"][0]["ip_address"], "192.0.2.2");
    assert_eq!(crackers["items"].as_array().expect("items").len(), 1);
    // With an event attribute, only the matching events of that type are counted.
    let scans = get(
        &router,
        "/api/v1/ip-addresses?attack_type=scan&user_agent=friendly-scanner",
    )
    .await
    .json();
    assert_eq!(scans["items"][0]["ip_address"], "192.0.2.1");
    assert_eq!(scans["items"][0]["seen_count"], 1);
    assert_eq!(
        strings(&scans["items"][0]["attack_types"]),
        ["scan", "extension_enumeration"]
    );
    let one = get(&router, "/api/v1/ip-addresses/192.0.2.3").await.json();
    assert_eq!(strings(&one["attack_types"]), ["call_attempt"]);
    let number = get(&router, "/api/v1/numbers/+441234567890").await.json();
    assert!(number.get("attack_types").is_none(), "numbers have none");
}

#[tokio::test]
async fn stats_count_events_and_ips_per_attack_type() {
    let fixture = seeded();
    let router = fixture.router();
    let stats = get(&router, "/api/v1/stats").await.json();
    assert_eq!(
        stats["by_attack_type"],
        serde_json::json!([
            { "value": "password_cracking", "count": 2 },
            { "value": "call_attempt", "count": 1 },
            { "value": "extension_enumeration", "count": 1 },
            { "value": "malformed", "count": 1 },
            { "value": "scan", "count": 1 },
        ])
    );
    assert_eq!(
        stats["ip_addresses_by_attack_type"],
        serde_json::json!([
            { "value": "call_attempt", "count": 1 },
            { "value": "extension_enumeration", "count": 1 },
            { "value": "malformed", "count": 1 },
            { "value": "password_cracking", "count": 1 },
            { "value": "scan", "count": 1 },
        ])
    );
    let top = &stats["top_ip_addresses"][0];
    assert_eq!(top["value"], "192.0.2.1");
    assert_eq!(
        strings(&top["attack_types"]),
        ["scan", "extension_enumeration"]
    );
    // `since` counts from the start of its minute.
    let recent = get(&router, "/api/v1/stats?since=15m").await.json();
    assert_eq!(
        recent["by_attack_type"],
        serde_json::json!([
            { "value": "call_attempt", "count": 1 },
            { "value": "malformed", "count": 1 },
        ])
    );
}

#[tokio::test]
async fn unknown_attack_types_and_attack_type_on_numbers_are_400() {
    let fixture = seeded();
    let router = fixture.router();
    for (uri, parameter) in [
        ("/api/v1/events?attack_type=SCAN", "attack_type"),
        ("/api/v1/events?attack_type=", "attack_type"),
        ("/api/v1/ip-addresses?attack_type=toll_fraud", "attack_type"),
        ("/api/v1/numbers?attack_type=call_attempt", "attack_type"),
        (
            "/api/v1/ip-addresses/192.0.2.1?attack_type=scan",
            "attack_type",
        ),
        ("/api/v1/feeds/ips.txt?attack_type=scan", "attack_type"),
    ] {
        let answer = get(&router, uri).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        let body = answer.json();
        assert_eq!(body["parameter"], parameter, "{uri}");
        assert!(body["error"].is_string(), "{uri}");
        assert_common_headers(&answer);
    }
}

#[tokio::test]
async fn original_routes_keep_their_bodies() {
    let fixture = seeded();
    let router = fixture.router();
    let ips = get(&router, "/ip-addresses").await;
    assert_eq!(ips.status, StatusCode::OK);
    assert!(!ips.body.contains("attack"), "{}", ips.body);
    let body = ips.json();
    let keys: Vec<&str> = body["ip_addresses"][0]
        .as_object()
        .expect("item")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["ip_address", "seen_last", "seen_count"]);
    let one = get(&router, "/ip-addresses/192.0.2.2").await;
    assert_eq!(one.body, "{\n  \"bad_actor_found\": \"192.0.2.2\"\n}");
}
