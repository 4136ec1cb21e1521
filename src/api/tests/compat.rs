//! The original's routes: status codes, exact bodies, headers, and its defects fixed.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use super::{Fixture, assert_common_headers, event, get, send, stored_timestamp};

#[tokio::test]
async fn health_check_is_json_or_html_by_content_type() {
    let fixture = Fixture::empty();
    let router = fixture.router();
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
    ] {
        let request = Request::get("/health-check")
            .header("content-type", content_type)
            .body(Body::empty())
            .expect("request");
        let answer = send(&router, request).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("content-type"), "application/json");
        assert_eq!(
            answer.body,
            format!(
                "{{\n  \"status\": \"OK\",\n  \"message\": \"Hello from SentryPeer!\",\n  \"version\": \"{}\"\n}}",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_common_headers(&answer);
    }
    let html = get(&router, "/health-check").await;
    assert_eq!(html.status, StatusCode::OK);
    assert_eq!(html.header("content-type"), "text/html");
    assert_eq!(
        html.body,
        "<html><body><h1>Hello from SentryPeer!</h1><h2>All is well!</h2></body></html>"
    );
    assert_common_headers(&html);
    let root = get(&router, "/").await;
    assert_eq!(
        (root.status, root.body.as_str()),
        (StatusCode::OK, r#"{"status": "OK"}"#)
    );
}

/// The original's own `test_http_api_get` cases, in its order.
#[tokio::test]
async fn the_original_http_api_test_cases_pass() {
    let fixture = Fixture::original();
    let router = fixture.router();
    let cases = [
        ("/health-check", StatusCode::OK),
        ("/blah", StatusCode::NOT_FOUND),
        ("/ip-addresses/8.8.8.8", StatusCode::NOT_FOUND),
        ("/ip-addresses/104.149.141.214", StatusCode::OK),
        ("/ip-addresses", StatusCode::OK),
        ("/ip-addresses/104.14da3afcsasd", StatusCode::BAD_REQUEST),
        ("/numbers", StatusCode::OK),
        ("/numbers/123456789", StatusCode::NOT_FOUND),
        ("/numbers/100", StatusCode::OK),
    ];
    for (uri, status) in cases {
        let answer = get(&router, uri).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.body);
        assert_common_headers(&answer);
    }
}

#[tokio::test]
async fn bodies_are_byte_for_byte_the_originals() {
    let fixture = Fixture::empty();
    let older = event("192.0.2.1", "0046812118532", "INVITE", "a", 120);
    let newer = event("2001:db8::1", "+441234567890", "OPTIONS", "b", 60);
    let unnumbered = event("192.0.2.1", "NOT_FOUND", "OPTIONS", "c", 90);
    fixture.insert(&[older.clone(), newer.clone(), unnumbered.clone()]);
    let router = fixture.router();

    let found = get(&router, "/ip-addresses/192.0.2.1").await;
    assert_eq!(found.body, "{\n  \"bad_actor_found\": \"192.0.2.1\"\n}");
    let found_v6 = get(&router, "/ip-addresses/2001:db8::1").await;
    assert_eq!(
        found_v6.body,
        "{\n  \"bad_actor_found\": \"2001:db8::1\"\n}"
    );
    let not_found = get(&router, "/ip-addresses/8.8.8.8").await;
    assert_eq!(not_found.body, r#"{"message": "No bad actor found"}"#);
    let invalid = get(&router, "/ip-addresses/192.0.2.1:5060").await;
    assert_eq!(
        (invalid.status, invalid.body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"error": "The request data was invalid"}"#
        )
    );

    let list = get(&router, "/ip-addresses").await;
    assert_eq!(list.header("content-type"), "application/json");
    assert_eq!(
        list.body,
        format!(
            "{{\n  \"ip_addresses_total\": 2,\n  \"ip_addresses\": [\n    {{\n      \"ip_address\": \"2001:db8::1\",\n      \"seen_last\": \"{}\",\n      \"seen_count\": \"1\"\n    }},\n    {{\n      \"ip_address\": \"192.0.2.1\",\n      \"seen_last\": \"{}\",\n      \"seen_count\": \"2\"\n    }}\n  ]\n}}",
            stored_timestamp(&newer),
            stored_timestamp(&unnumbered),
        )
    );

    let numbers = get(&router, "/numbers").await;
    assert_eq!(
        numbers.body,
        format!(
            "{{\n  \"called_numbers_total\": 2,\n  \"called_numbers\": [\n    {{\n      \"called_number\": \"+441234567890\",\n      \"seen_last\": \"{}\",\n      \"seen_count\": \"1\"\n    }},\n    {{\n      \"called_number\": \"0046812118532\",\n      \"seen_last\": \"{}\",\n      \"seen_count\": \"1\"\n    }}\n  ]\n}}",
            stored_timestamp(&newer),
            stored_timestamp(&older),
        ),
        "leading zeros included, NOT_FOUND excluded"
    );
    let number = get(&router, "/numbers/+441234567890").await;
    assert_eq!(
        number.body,
        "{\n  \"phone_number_found\": \"+441234567890\"\n}"
    );
    let missing = get(&router, "/numbers/999").await;
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (
            StatusCode::NOT_FOUND,
            r#"{"message": "No phone number found"}"#
        )
    );
    let not_a_number = get(&router, "/numbers/12ab").await;
    assert_eq!(
        not_a_number.body,
        r#"{"error": "The requested resource could not be found."}"#
    );
}

#[tokio::test]
async fn an_empty_database_answers_with_the_not_found_bodies() {
    let fixture = Fixture::empty();
    let router = fixture.router();
    for (uri, body) in [
        ("/ip-addresses", r#"{"message": "No bad actors found"}"#),
        (
            "/ip-addresses/192.0.2.1",
            r#"{"message": "No bad actor found"}"#,
        ),
        ("/ip-addresses/::1", r#"{"message": "No bad actor found"}"#),
        ("/numbers", r#"{"message": "No phone numbers found"}"#),
        ("/numbers/100", r#"{"message": "No phone number found"}"#),
    ] {
        let answer = get(&router, uri).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::NOT_FOUND, body),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_other_methods_and_bodies_get_json_errors() {
    let fixture = Fixture::empty();
    let router = fixture.router();
    let unknown = get(&router, "/health-check/").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.body,
        r#"{"error": "The requested resource could not be found."}"#
    );
    assert_common_headers(&unknown);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let request = Request::builder()
            .method(method)
            .uri("/ip-addresses")
            .body(Body::empty())
            .expect("request");
        let answer = send(&router, request).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert!(answer.json()["error"].is_string());
        assert_eq!(answer.header("allow"), "GET, HEAD");
        assert_common_headers(&answer);
    }
    let with_body = Request::get("/ip-addresses")
        .header("content-length", "5")
        .body(Body::from("hello"))
        .expect("request");
    let answer = send(&router, with_body).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_common_headers(&answer);
}

#[tokio::test]
async fn a_token_protects_everything_but_the_health_check() {
    let fixture = Fixture::original();
    let router = fixture.router_with(Some("s3cret"), Vec::new());
    assert_eq!(get(&router, "/health-check").await.status, StatusCode::OK);
    for uri in [
        "/",
        "/ip-addresses",
        "/numbers/100",
        "/api/v1/stats",
        "/metrics",
    ] {
        let refused = get(&router, uri).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(refused.header("www-authenticate"), "Bearer");
        assert_common_headers(&refused);
        let wrong = Request::get(uri)
            .header("authorization", "Bearer nope")
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            send(&router, wrong).await.status,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
        let right = Request::get(uri)
            .header("authorization", "Bearer s3cret")
            .body(Body::empty())
            .expect("request");
        assert_eq!(send(&router, right).await.status, StatusCode::OK, "{uri}");
        // The dashboard's session check stands in for the header when it says yes.
        for (cookie, status) in [
            ("dashboard_session=s3cre", StatusCode::UNAUTHORIZED),
            ("other=s3cret", StatusCode::UNAUTHORIZED),
            ("dashboard_session=s3cret", StatusCode::OK),
        ] {
            let with_cookie = Request::get(uri)
                .header("cookie", cookie)
                .body(Body::empty())
                .expect("request");
            assert_eq!(
                send(&router, with_cookie).await.status,
                status,
                "{uri} {cookie}"
            );
        }
    }
}

#[tokio::test]
async fn origin_restricts_to_local_or_peer_data() {
    let fixture = Fixture::empty();
    let mut from_peer = event("198.51.100.9", "555", "INVITE", "x", 30);
    from_peer.origin = crate::event::Origin::Peer("12D3KooWPeer".into());
    fixture.insert(&[event("192.0.2.1", "100", "INVITE", "x", 30), from_peer]);
    let router = fixture.router();
    assert_eq!(
        get(&router, "/ip-addresses/198.51.100.9").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&router, "/ip-addresses/198.51.100.9?origin=local")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&router, "/ip-addresses/198.51.100.9?origin=peer")
            .await
            .status,
        StatusCode::OK
    );
    let local = get(&router, "/ip-addresses?origin=local").await.json();
    assert_eq!(local["ip_addresses_total"], 1);
    assert_eq!(
        get(&router, "/numbers/555?origin=local").await.status,
        StatusCode::NOT_FOUND
    );
    let bad = get(&router, "/ip-addresses?origin=mars").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["parameter"], "origin");
}
