//! Router tests: every page driven with `oneshot` against a temp-file database seeded through
//! the store's own writer; attacker text is escaped, the token guards every page, the headers
//! hold the policy.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tempfile::TempDir;
use tower::ServiceExt;
use uuid::Uuid;

use super::{Countries, GuiState, SESSION_COOKIE, router};
use crate::blocklist::{Blocklist, BlocklistOptions};
use crate::config::Secret;
use crate::event::BadActor;
use crate::event::test_support::EventBuilder;
use crate::p2p::P2pStats;
use crate::store::{self, StoreStats};
use crate::telemetry::Registry;

const XSS_AGENT: &str =
    r#"<img src=x onerror=alert(1)></script><script>alert(2)</script>javascript:alert(3)"#;

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn with(events: &[BadActor]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = store::open(&dir.path().join("sentrypeer.db")).expect("create database");
        let events: Vec<Arc<BadActor>> = events.iter().cloned().map(Arc::new).collect();
        store::writer::insert_events(&mut conn, &events).expect("insert");
        Self { dir }
    }

    fn router(&self, token: Option<&str>) -> Router {
        let telemetry = Registry::default()
            .with(Some(Arc::new(StoreStats::default())))
            .off::<P2pStats>();
        self.router_with_telemetry(token, telemetry)
    }

    fn router_with_telemetry(&self, token: Option<&str>, telemetry: Registry) -> Router {
        let state = GuiState {
            pool: store::ReadPool::new(self.dir.path().join("sentrypeer.db")),
            telemetry,
            blocklist: Arc::new(Blocklist::new(&BlocklistOptions::default())),
            token: token.map(Secret::new),
            countries: Arc::new(Countries::BuiltIn),
            node_id: Uuid::from_u128(42),
            started: Instant::now(),
            configuration: serde_json::json!({ "api_token": "********", "web_gui": true }),
            sharing_rule: super::SharingRule::default(),
            #[cfg(feature = "p2p")]
            community: None,
            #[cfg(feature = "p2p")]
            connected_peers: None,
        };
        router(Arc::new(state))
    }
}

fn attacker() -> BadActor {
    EventBuilder::new()
        .source_ip("8.8.8.8")
        .number("+441234567890")
        .method("OPTIONS")
        .user_agent(XSS_AGENT)
        .message("OPTIONS sip:100@203.0.113.1 SIP/2.0\r\nUser-Agent: <b>bold</b>\r\n\r\n")
        .seconds_ago(30)
        .build()
}

async fn get(
    router: &Router,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn overview_shows_totals_and_top_lists() {
    let fixture = Fixture::with(&[attacker(), attacker()]);
    let (status, headers, body) = get(&fixture.router(None), "/ui/", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .contains("script-src 'self'")
    );
    assert!(body.contains(r#"id="events-all" data-count="2""#), "{body}");
    assert!(
        body.contains(r#"id="events-hour" data-count="2""#),
        "{body}"
    );
    assert!(body.contains(r#"href="/ui/ip/8.8.8.8""#), "{body}");
    assert!(body.contains(">US<"), "built-in country of 8.8.8.8: {body}");
    assert!(
        body.contains(r#"data-country="US" data-count="2""#),
        "the map's tile for the US: {body}"
    );
    let destinations = &body[body.find(r#"id="top-destinations""#).expect("destinations")..];
    assert!(
        destinations
            .contains(r#"<td class="value">192.0.2.10:5060</td><td class="count" data-count="2">"#),
        "{body}"
    );
}

#[tokio::test]
async fn attacker_text_is_escaped_everywhere() {
    let fixture = Fixture::with(&[attacker()]);
    let router = fixture.router(None);
    for uri in [
        "/ui/",
        "/ui/ip/8.8.8.8",
        "/ui/number/+441234567890",
        "/ui/live",
    ] {
        let (status, _, body) = get(&router, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert!(!body.contains("<img src=x"), "{uri}: {body}");
        assert!(!body.contains("<script>alert"), "{uri}: {body}");
        assert!(!body.contains("<b>bold"), "{uri}: {body}");
        assert!(
            !body.contains("<script>"),
            "{uri}: only the external script tag: {body}"
        );
    }
    let (_, _, body) = get(&router, "/ui/ip/8.8.8.8", None).await;
    assert!(
        body.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{body}"
    );
    assert!(
        body.contains("OPTIONS sip:100@203.0.113.1 SIP/2.0"),
        "{body}"
    );
}

#[tokio::test]
async fn live_page_follows_the_api_stream_and_has_no_stream_of_its_own() {
    let fixture = Fixture::with(&[attacker()]);
    let router = fixture.router(None);
    let (status, _, body) = get(&router, "/ui/live", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#"data-stream="/api/v1/stream""#), "{body}");
    assert!(body.contains(r#"data-rows="50""#), "{body}");
    assert_eq!(
        get(&router, "/ui/live/changes", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn search_redirects_to_detail_pages() {
    let fixture = Fixture::with(&[attacker()]);
    let router = fixture.router(None);
    let (status, headers, _) = get(&router, "/ui/search?q=8.8.8.8", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/ui/ip/8.8.8.8");
    let (status, _, body) = get(&router, "/ui/ip/192.0.2.200", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, body) = get(&router, "/ui/search?q=%3Cscript%3E", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("&lt;script&gt;"), "{body}");
}

#[tokio::test]
async fn token_guards_every_page_but_sign_in_and_assets() {
    let fixture = Fixture::with(&[attacker()]);
    let router = fixture.router(Some("s3cret"));
    for uri in [
        "/ui/",
        "/ui/ip/8.8.8.8",
        "/ui/live",
        "/ui/peers",
        "/ui/health",
        "/ui/search",
    ] {
        let (status, _, body) = get(&router, uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert!(body.contains(r#"action="/ui/sign-in""#), "{uri}: {body}");
        assert!(!body.contains("8.8.8.8"), "{uri} leaks data: {body}");
        let wrong = format!("{SESSION_COOKIE}={}", hex::encode("wrong"));
        assert_eq!(
            get(&router, uri, Some(&wrong)).await.0,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
    let right = format!("other=1; {SESSION_COOKIE}={}", hex::encode("s3cret"));
    assert_eq!(get(&router, "/ui/", Some(&right)).await.0, StatusCode::OK);
    assert_eq!(
        get(&router, "/ui/assets/app.css", None).await.0,
        StatusCode::OK
    );
    assert_eq!(get(&router, "/ui/sign-in", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_only_for_the_right_token() {
    let fixture = Fixture::with(&[]);
    let router = fixture.router(Some("s3cret"));
    let post = |token: &str| {
        Request::post("/ui/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .expect("request")
    };
    let response = router
        .clone()
        .oneshot(post("nope"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!response.headers().contains_key(header::SET_COOKIE));
    let response = router
        .clone()
        .oneshot(post("s3cret"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie");
    assert!(
        cookie.starts_with(&format!("{SESSION_COOKIE}={}", hex::encode("s3cret"))),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test]
async fn health_shows_counters_and_masked_configuration() {
    let fixture = Fixture::with(&[]);
    let (status, _, body) = get(&fixture.router(None), "/ui/health", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("00000000-0000-0000-0000-00000000002a"),
        "{body}"
    );
    assert!(body.contains("********"), "{body}");
    assert!(body.contains("/api/v1/feeds/ips.txt"), "{body}");
}

#[tokio::test]
async fn peers_page_says_when_sharing_is_off() {
    let fixture = Fixture::with(&[]);
    let (status, _, body) = get(&fixture.router(None), "/ui/peers", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#"id="p2p-off""#), "{body}");
}

#[tokio::test]
async fn peers_page_shows_the_p2p_counters_when_sharing_is_on() {
    let from_giver = EventBuilder::new()
        .peer("12D3KooWGiver")
        .seconds_ago(60)
        .build();
    let fixture = Fixture::with(&[from_giver]);
    let stats = Arc::new(P2pStats::default());
    stats
        .connected_peers
        .store(3, std::sync::atomic::Ordering::Relaxed);
    stats
        .rejected_signature
        .store(7, std::sync::atomic::Ordering::Relaxed);
    let _ = stats.peer_id.set("12D3KooWThisNode".to_owned());
    let cheat = libp2p::PeerId::random();
    for _ in 0..5 {
        stats
            .dropped_by_peer
            .count(&cheat, crate::p2p::DropReason::Signature);
    }
    let router = fixture.router_with_telemetry(None, Registry::default().with(Some(stats)));
    let (status, _, body) = get(&router, "/ui/peers", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("12D3KooWThisNode"), "{body}");
    assert!(body.contains(r#"id="connected-peers">3<"#), "{body}");
    assert!(body.contains(r#"data-count="7""#), "{body}");
    assert!(
        body.contains(r#"<tr class="shares-back" data-peer="12D3KooWGiver"><td class="value">12D3KooWGiver</td>"#),
        "the contributor shares back: {body}"
    );
    assert!(
        body.contains(&format!(
            r#"<tr class="shares-nothing" data-peer="{cheat}">"#
        )) && body.contains(r#"class="count refused" data-count="5""#),
        "the refused peer shares nothing: {body}"
    );
}

#[test]
fn assets_are_small() {
    assert!(super::assets::total_bytes() < 300 * 1024);
}

/// Every reason a peer's records are refused for has its label on the Peers page (the names are
/// `p2p::DropReason`'s; an unlabelled one would show as its bare counter name).
#[test]
fn every_refusal_reason_has_a_label() {
    let labelled: Vec<&str> = super::connected::REFUSALS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    for reason in crate::p2p::DropReason::ALL {
        assert!(labelled.contains(&reason.name()), "{}", reason.name());
    }
}
