//! `/api/v1/`: paginated listings, events, stats, health details, metrics, parameter errors, and
//! the OpenAPI document agreeing with the router.

use std::collections::BTreeSet;

use axum::http::StatusCode;

use super::{Fixture, assert_common_headers, event, get};
use crate::api::DOCUMENTED_ROUTES;

pub(super) fn seeded() -> Fixture {
    let fixture = Fixture::empty();
    let events: Vec<_> = (0..25)
        .map(|i| {
            event(
                &format!("192.0.2.{}", i % 10 + 1),
                &format!("00{}", 4600 + i % 7),
                if i % 3 == 0 { "REGISTER" } else { "INVITE" },
                if i % 2 == 0 {
                    "friendly-scanner"
                } else {
                    "sipsak"
                },
                100 - i64::from(i),
            )
        })
        .collect();
    fixture.insert(&events);
    fixture
}

#[tokio::test]
async fn listings_paginate_without_holes_or_duplicates() {
    let fixture = seeded();
    let router = fixture.router();
    for (path, key) in [
        ("/api/v1/ip-addresses", "ip_address"),
        ("/api/v1/numbers", "called_number"),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let uri = match &cursor {
                Some(c) => format!("{path}?limit=3&cursor={c}"),
                None => format!("{path}?limit=3"),
            };
            let page = get(&router, &uri).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let body = page.json();
            let items = body["items"].as_array().expect("items").clone();
            assert!(items.len() <= 3);
            seen.extend(
                items
                    .iter()
                    .map(|item| item[key].as_str().expect("key").to_owned()),
            );
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let unique: BTreeSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "no duplicates in {path}");
        let expected = if key == "ip_address" { 10 } else { 7 };
        assert_eq!(seen.len(), expected, "every {key} listed once");
    }
    let registering = get(&router, "/api/v1/ip-addresses?method=REGISTER&limit=1000")
        .await
        .json();
    assert_eq!(registering["items"].as_array().expect("items").len(), 9);
    let numbers = get(&router, "/api/v1/numbers?method=REGISTER&min_seen_count=2")
        .await
        .json();
    let twice: Vec<&str> = numbers["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["called_number"].as_str())
        .collect();
    assert_eq!(
        twice.len(),
        2,
        "two numbers were REGISTERed twice: {twice:?}"
    );
    let sipsak_tcp = get(
        &router,
        "/api/v1/ip-addresses?user_agent=sipsak&transport=tcp",
    )
    .await
    .json();
    assert!(
        sipsak_tcp["items"].as_array().expect("items").is_empty(),
        "all events are UDP"
    );
    let counted = get(&router, "/api/v1/ip-addresses?min_seen_count=3&limit=1000")
        .await
        .json();
    let items = counted["items"].as_array().expect("items");
    assert_eq!(items.len(), 5, "IPs .1 to .5 were seen 3 times");
    assert!(
        items
            .iter()
            .all(|item| item["seen_count"].as_u64() == Some(3))
    );
}

#[tokio::test]
async fn events_filter_and_paginate_newest_first() {
    let fixture = seeded();
    let router = fixture.router();
    let page = get(&router, "/api/v1/events?limit=5&method=REGISTER")
        .await
        .json();
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e["sip_method"] == "REGISTER"));
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {ids:?}"
    );
    let next = page["next_cursor"].as_str().expect("more pages");
    let rest = get(
        &router,
        &format!("/api/v1/events?limit=5&method=REGISTER&cursor={next}"),
    )
    .await
    .json();
    assert_eq!(
        rest["events"].as_array().expect("events").len(),
        4,
        "9 REGISTERs in all"
    );
    assert!(rest["next_cursor"].is_null());
    let agents = get(
        &router,
        "/api/v1/events?user_agent=sipsak&transport=udp&limit=1000",
    )
    .await
    .json();
    assert_eq!(agents["events"].as_array().expect("events").len(), 12);
    let recent = get(&router, "/api/v1/events?since=80s&limit=1000")
        .await
        .json();
    assert!(recent["events"].as_array().expect("events").len() < 25);
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let fixture = seeded();
    let router = fixture.router();
    for (uri, parameter) in [
        ("/api/v1/events?limit=0", "limit"),
        ("/api/v1/events?limit=5000", "limit"),
        ("/api/v1/events?limit=abc", "limit"),
        ("/api/v1/events?transport=SCTP", "transport"),
        ("/api/v1/events?since=yesterday", "since"),
        ("/api/v1/events?cursor=-4", "cursor"),
        ("/api/v1/events?colour=blue", "colour"),
        ("/api/v1/ip-addresses?cursor=nonsense", "cursor"),
        ("/api/v1/ip-addresses?min_seen_count=-1", "min_seen_count"),
        ("/api/v1/ip-addresses?limit=1&limit=2", "limit"),
        ("/api/v1/stats?top=0", "top"),
        ("/api/v1/feeds/ipset?set=bad%20name", "set"),
        ("/api/v1/ip-addresses/not-an-ip", "ip"),
    ] {
        let answer = get(&router, uri).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(answer.json()["parameter"], parameter, "{uri}");
        assert_common_headers(&answer);
    }
}

#[tokio::test]
async fn stats_and_health_details_count_what_was_stored() {
    let fixture = seeded();
    let router = fixture.router();
    let stats = get(&router, "/api/v1/stats?top=3").await.json();
    assert_eq!(stats["totals"]["events"], 25);
    assert_eq!(stats["totals"]["ip_addresses"], 10);
    assert_eq!(stats["totals"]["called_numbers"], 7);
    let methods = stats["by_method"].as_array().expect("by_method");
    assert!(
        methods
            .iter()
            .any(|m| m["value"] == "INVITE" && m["count"] == 16)
    );
    assert!(
        methods
            .iter()
            .any(|m| m["value"] == "REGISTER" && m["count"] == 9)
    );
    assert_eq!(stats["by_transport"][0]["value"], "UDP");
    assert_eq!(stats["top_ip_addresses"].as_array().expect("top").len(), 3);
    assert_eq!(stats["top_ip_addresses"][0]["seen_count"], 3);
    assert!(stats["pipeline"].is_object());
    let health = get(&router, "/api/v1/health").await.json();
    assert_eq!(health["node_id"], "00000000-0000-0000-0000-00000000002a");
    assert!(health["latest_event"].is_string());
}

#[tokio::test]
async fn health_details_show_null_for_every_part_that_is_off() {
    // The fixture runs no pipeline, listener, P2P node or webhook: only the store counts.
    let fixture = Fixture::empty();
    let router = fixture.router();
    let mut health = get(&router, "/api/v1/health").await.json();
    for key in ["version", "node_id", "uptime_seconds"] {
        assert!(health[key].is_string() || health[key].is_u64(), "{key}");
        health[key] = serde_json::Value::Null;
    }
    assert_eq!(
        health,
        serde_json::json!({
            "status": "OK",
            "version": null,
            "node_id": null,
            "uptime_seconds": null,
            "latest_event": null,
            "events": {
                "received": null,
                "stored": 0,
                "store_failed": 0,
                "dropped": null,
                "kernel_dropped": null,
                "dropped_by_consumer": null,
            },
            "p2p": null,
            "store": { "wal_bytes": 0 },
            "webhook": null,
            "replies": null,
            "connections": null,
        })
    );
}

#[tokio::test]
async fn one_ip_and_one_number_in_v1_form() {
    let fixture = seeded();
    let router = fixture.router();
    let ip = get(&router, "/api/v1/ip-addresses/192.0.2.1").await.json();
    assert_eq!(
        (ip["ip_address"].as_str(), ip["seen_count"].as_u64()),
        (Some("192.0.2.1"), Some(3))
    );
    let number = get(&router, "/api/v1/numbers/004600").await.json();
    assert_eq!(number["called_number"], "004600");
    assert_eq!(
        get(&router, "/api/v1/numbers/004699").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let fixture = seeded();
    let router = fixture.router();
    let _ = get(&router, "/ip-addresses").await;
    let metrics = get(&router, "/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.header("content-type").starts_with("text/plain"));
    for name in [
        "sentrypeer_events_stored_total",
        "sentrypeer_api_requests_total",
        "sentrypeer_api_request_duration_seconds_bucket",
    ] {
        assert!(
            metrics.body.contains(name),
            "{name} missing:\n{}",
            metrics.body
        );
    }
}

#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .expect("openapi.json at the repository root");
    let document: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    let documented: BTreeSet<&str> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let routed: BTreeSet<&str> = DOCUMENTED_ROUTES.iter().copied().collect();
    assert_eq!(
        documented, routed,
        "openapi.json and the router list the same routes"
    );
    for path in documented {
        assert!(
            document["paths"][path]["get"]["responses"].is_object(),
            "{path} documents GET responses"
        );
    }
    // Every documented route is served (not the catch-all 404).
    let fixture = seeded();
    let router = fixture.router_with(None, vec!["bouncer-key"]);
    for route in DOCUMENTED_ROUTES {
        let uri = route
            .replace("{ip}", "192.0.2.1")
            .replace("{number}", "004600");
        let answer = get(&router, &uri).await;
        assert_ne!(
            answer.body, r#"{"error": "The requested resource could not be found."}"#,
            "{uri} is routed"
        );
    }
}
