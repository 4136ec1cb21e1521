//! The CrowdSec decision stream: key check, startup snapshot, deltas per bouncer.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use super::{Answer, Fixture, event, send};

async fn poll(router: &axum::Router, key: &str, startup: bool) -> Answer {
    let request = Request::get(format!(
        "/v1/decisions/stream?startup={startup}&scopes=ip,range"
    ))
    .header("x-api-key", key)
    .header("user-agent", "crowdsec-firewall-bouncer/v0.0.25")
    .body(Body::empty())
    .expect("request");
    send(router, request).await
}

fn values(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .map(|decisions| {
            decisions
                .iter()
                .map(|d| d["value"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn bouncers_get_a_snapshot_then_deltas() {
    let fixture = Fixture::empty();
    fixture.insert(&[
        event("192.0.2.7", "100", "INVITE", "a", 60),
        event("2001:db8::7", "100", "INVITE", "a", 120),
        event("198.51.100.1", "100", "INVITE", "a", 2 * 86_400),
    ]);
    let router = fixture.router_with(None, vec!["key-one", "key-two"]);

    let refused = poll(&router, "wrong", true).await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (StatusCode::FORBIDDEN, r#"{"message":"access forbidden"}"#)
    );

    let first = poll(&router, "key-one", true).await;
    assert_eq!(first.status, StatusCode::OK);
    let body = first.json();
    let mut new = values(&body["new"]);
    new.sort();
    assert_eq!(
        new,
        ["192.0.2.7", "2001:db8::7"],
        "expired decisions are not sent"
    );
    let decision = &body["new"][0];
    assert_eq!(
        (
            decision["scope"].as_str(),
            decision["type"].as_str(),
            decision["origin"].as_str()
        ),
        (Some("Ip"), Some("ban"), Some("sentrypeer"))
    );
    assert!(decision["id"].as_i64().is_some_and(|id| id > 0));
    assert!(
        decision["duration"]
            .as_str()
            .is_some_and(|d| d.starts_with("23h5")),
        "{decision}"
    );

    let quiet = poll(&router, "key-one", false).await.json();
    assert!(
        values(&quiet["new"]).is_empty() && values(&quiet["deleted"]).is_empty(),
        "{quiet}"
    );

    // Captured (stamped) 10 s before this poll but committed only now: still delivered.
    fixture.insert(&[event("203.0.113.5", "100", "INVITE", "a", 10)]);
    let delta = poll(&router, "key-one", false).await.json();
    assert_eq!(values(&delta["new"]), ["203.0.113.5"]);

    // Another bouncer has its own position: its first poll without startup gets everything.
    let other = poll(&router, "key-two", false).await.json();
    assert_eq!(values(&other["new"]).len(), 3);

    let bad = poll(&router, "key-one", true).await;
    assert_eq!(bad.status, StatusCode::OK);
    let invalid = send(
        &router,
        Request::get("/v1/decisions/stream?startup=maybe")
            .header("x-api-key", "key-one")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn single_ip_decisions_and_disabled_routes() {
    let fixture = Fixture::empty();
    fixture.insert(&[event("192.0.2.7", "100", "INVITE", "a", 60)]);
    let router = fixture.router_with(None, vec!["k"]);
    let request = |ip: &str| {
        Request::get(format!("/v1/decisions?ip={ip}"))
            .header("x-api-key", "k")
            .body(Body::empty())
            .expect("request")
    };
    let found = send(&router, request("192.0.2.7")).await.json();
    assert_eq!(found[0]["value"], "192.0.2.7");
    let mapped = send(&router, request("::ffff:192.0.2.7")).await.json();
    assert_eq!(
        mapped, found,
        "IPv4-mapped IPv6 is the same IP, the same decision"
    );
    let missing = send(&router, request("192.0.2.8")).await;
    assert_eq!(missing.body, "null");
    let fixture = Fixture::empty();
    let without_keys = fixture.router();
    let disabled = send(
        &without_keys,
        Request::get("/v1/decisions/stream")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(disabled.status, StatusCode::NOT_FOUND);
}
