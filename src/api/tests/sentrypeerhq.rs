//! `POST /oauth/token` (JSON, form, HTTP Basic; wrong secrets, grants and methods) and its
//! tokens: accepted on every protected route like `--api-token`, refused once expired or from
//! another key; SentryPeerHQ's lookups and their `401` bodies.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use jiff::{SignedDuration, Timestamp};

use super::{Answer, Fixture, get, send};
use crate::api::oauth::TokenCheck;
use crate::api::{ApiClient, OAuthClients};

fn clients() -> OAuthClients {
    let client: ApiClient = "cgrates:s3cret".parse().expect("client");
    OAuthClients::new(vec![client], Duration::from_secs(3600)).expect("randomness")
}

fn router() -> Router {
    Fixture::original().router_with_clients(None, Vec::new(), clients())
}

async fn post_token(router: &Router, content_type: &str, body: &str) -> Answer {
    let request = Request::post("/oauth/token")
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .expect("request");
    send(router, request).await
}

async fn get_with(router: &Router, uri: &str, token: &str) -> Answer {
    let request = Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    send(router, request).await
}

const JSON_BODY: &str = r#"{"client_id":"cgrates","client_secret":"s3cret","audience":"https://sentrypeer.com/api","grant_type":"client_credentials"}"#;

#[tokio::test]
async fn json_and_form_requests_get_a_bearer_token_usable_everywhere() {
    let router = router();
    let answer = post_token(&router, "application/json", JSON_BODY).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), "no-store");
    let json = answer.json();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    let token = json["access_token"].as_str().expect("token").to_owned();
    for uri in ["/api/v1/health", "/numbers/100", "/api/phone-numbers/100"] {
        assert_ne!(
            get_with(&router, uri, &token).await.status,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
        assert_eq!(
            get(&router, uri).await.status,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
    let form = "grant_type=client_credentials&client_id=cgrates&client_secret=s3cret";
    let answer = post_token(&router, "application/x-www-form-urlencoded", form).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let basic = Request::post("/oauth/token")
        .header("authorization", "Basic Y2dyYXRlczpzM2NyZXQ=")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("grant_type=client_credentials"))
        .expect("request");
    assert_eq!(send(&router, basic).await.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_secrets_grants_bodies_and_methods_are_refused() {
    let router = router();
    let wrong = JSON_BODY.replace("s3cret", "guess");
    let answer = post_token(&router, "application/json", &wrong).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "invalid_client");
    let grant = JSON_BODY.replace("client_credentials", "password");
    let answer = post_token(&router, "application/json", &grant).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "unsupported_grant_type");
    let answer = post_token(&router, "application/json", "{not json").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = get(&router, "/oauth/token").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.header("allow"), "POST");
    let none = Fixture::original().router_with_clients(None, Vec::new(), OAuthClients::none());
    let answer = post_token(&none, "application/json", JSON_BODY).await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "no clients configured"
    );
}

#[tokio::test]
async fn lookups_answer_with_sentrypeerhqs_bodies_and_401s() {
    let router = router();
    let answer = get(&router, "/api/ip-addresses/192.0.2.1").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body, r#"{"error":"missing_token"}"#);
    let answer = get_with(&router, "/api/ip-addresses/192.0.2.1", "forged").await;
    assert_eq!(answer.body, r#"{"error":"invalid_token"}"#);
    let open = Fixture::original().router();
    for (uri, body) in [
        (
            "/api/ip-addresses/192.0.2.1",
            r#"{"message":"IP Address not found."}"#,
        ),
        (
            "/api/ip-addresses/not-an-ip",
            r#"{"message":"IP Address not found."}"#,
        ),
        (
            "/api/phone-numbers/5550000",
            r#"{"message":"Phone Number not found."}"#,
        ),
    ] {
        let answer = get(&open, uri).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::NOT_FOUND, body)
        );
        assert_eq!(
            answer.header("content-type"),
            "application/json; charset=utf-8"
        );
    }
}

#[test]
fn tokens_expire_and_only_this_key_signs_them() {
    let clients = clients();
    let now = Timestamp::now();
    let (token, _) = clients.issue(0, now).expect("token");
    assert_eq!(clients.check(&token, now), TokenCheck::Valid);
    let later = now + SignedDuration::from_secs(3600);
    assert_eq!(clients.check(&token, later), TokenCheck::Expired);
    assert_eq!(OAuthClients::none().check(&token, now), TokenCheck::Invalid);
    assert_eq!(
        self::clients().check(&token, now),
        TokenCheck::Invalid,
        "another key"
    );
    let flipped = if token.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{flipped}{}", &token[1..]);
    assert_eq!(clients.check(&tampered, now), TokenCheck::Invalid);
}
