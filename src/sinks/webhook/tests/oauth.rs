//! OAuth2 client credentials: the token request, caching, expiry, refresh on 401, and token
//! servers that are down or answer garbage.

use std::time::Duration;

use super::*;
use crate::config::Secret;
use crate::sinks::webhook::OAuth2Options;

const SECRET: &str = "s3cr3t-client-secret";

fn oauth_options(server: &TestServer) -> WebhookOptions {
    WebhookOptions {
        oauth2: Some(OAuth2Options {
            token_url: server.url("/oauth/token"),
            audience: "https://sentrypeer.com/api".to_owned(),
            client_id: "client-1".to_owned(),
            client_secret: Secret::new(SECRET),
        }),
        ..options(server.url("/api/events"))
    }
}

/// A token response: `tok-<n>` valid for `expires_in` seconds.
fn token(n: usize, expires_in: u64) -> Reply {
    Reply::Now(
        axum::Json(serde_json::json!({
            "access_token": format!("tok-{n}"),
            "token_type": "Bearer",
            "expires_in": expires_in,
        }))
        .into_response(),
    )
}

/// Splits what the server received into token requests and webhook POSTs.
fn split(seen: Vec<Seen>) -> (Vec<Seen>, Vec<Seen>) {
    seen.into_iter()
        .partition(|seen| seen.path == "/oauth/token")
}

#[tokio::test(start_paused = true)]
async fn one_token_request_serves_many_events() {
    let mut server = TestServer::start(|seen, n| match seen.path.as_str() {
        "/oauth/token" => token(n + 1, 86_400),
        _ => reply(201, r#"{"message": "Thanks for using SentryPeer!"}"#),
    })
    .await;
    let sink = Sink::start(oauth_options(&server));
    for n in 1..=5 {
        sink.send(event(n)).await;
    }
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(server.next().await);
    }
    let (tokens, posts) = split(seen);
    assert_eq!(tokens.len(), 1, "one token request for five events");
    let request = &tokens[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        std::str::from_utf8(&request.body).expect("UTF-8"),
        format!(
            r#"{{"audience":"https://sentrypeer.com/api","client_id":"client-1","client_secret":"{SECRET}","grant_type":"client_credentials"}}"#
        ),
        "the original's JSON body, keys in its order"
    );
    for post in &posts {
        assert_eq!(post.header("authorization"), Some("Bearer tok-1"));
    }
    let numbers: Vec<String> = posts.iter().flat_map(Seen::numbers).collect();
    assert_eq!(numbers, ["1", "2", "3", "4", "5"]);
    let stats = sink.finish().await;
    assert_eq!(
        (stats.delivered.count(), stats.token_requests.count()),
        (5, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn the_token_is_renewed_shortly_before_it_expires() {
    let mut server = TestServer::start(|seen, n| match seen.path.as_str() {
        "/oauth/token" => token(n + 1, 120),
        _ => reply(201, ""),
    })
    .await;
    let sink = Sink::start(oauth_options(&server));
    let bearer_after = async |sink: &Sink, server: &mut TestServer, n| {
        sink.send(event(n)).await;
        loop {
            let seen = server.next().await;
            if seen.path == "/api/events" {
                return seen.header("authorization").map(str::to_owned);
            }
        }
    };
    assert_eq!(
        bearer_after(&sink, &mut server, 1).await.as_deref(),
        Some("Bearer tok-1")
    );
    // 120 s tokens are renewed 12 s early (a tenth of their lifetime, at most 60 s).
    tokio::time::advance(Duration::from_secs(100)).await;
    assert_eq!(
        bearer_after(&sink, &mut server, 2).await.as_deref(),
        Some("Bearer tok-1")
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        bearer_after(&sink, &mut server, 3).await.as_deref(),
        Some("Bearer tok-2"),
        "renewed at 110 s of 120"
    );
    let stats = sink.finish().await;
    assert_eq!(
        (stats.delivered.count(), stats.token_requests.count()),
        (3, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn a_401_fetches_one_new_token_then_succeeds() {
    let mut server = TestServer::start(|seen, n| match seen.path.as_str() {
        "/oauth/token" => token(n + 1, 86_400),
        _ if seen.header("authorization") == Some("Bearer tok-1") => {
            reply(401, r#"{"error": "invalid token"}"#)
        }
        _ => reply(201, ""),
    })
    .await;
    let sink = Sink::start(oauth_options(&server));
    sink.send(event(1)).await;
    sink.send(event(2)).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(server.next().await);
    }
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/oauth/token",
            "/api/events",
            "/oauth/token",
            "/api/events",
            "/api/events"
        ]
    );
    assert_eq!(seen[3].header("authorization"), Some("Bearer tok-2"));
    assert_eq!(seen[4].header("authorization"), Some("Bearer tok-2"));
    assert_eq!(
        seen[1].at, seen[3].at,
        "the refresh is immediate, no back-off"
    );
    let stats = sink.finish().await;
    assert_eq!(
        (
            stats.delivered.count(),
            stats.failed.count(),
            stats.retries.count(),
            stats.token_requests.count()
        ),
        (2, 0, 1, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_still_refused_after_the_refresh_is_retried_with_back_off_then_dropped() {
    let mut server = TestServer::start(|seen, n| match seen.path.as_str() {
        "/oauth/token" => token(n + 1, 86_400),
        _ => reply(403, r#"{"error": "insufficient scope"}"#),
    })
    .await;
    let sink = Sink::start(WebhookOptions {
        retry: RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
        ..oauth_options(&server)
    });
    sink.send(event(1)).await;
    let stats = sink.finish().await;
    let (tokens, posts) = split(server.received());
    assert_eq!(tokens.len(), 2, "one refresh only");
    assert_eq!(
        posts.len(),
        3,
        "tok-1, tok-2, then tok-2 again after back-off"
    );
    assert!(posts[2].at - posts[1].at >= Duration::from_millis(500));
    assert_eq!((stats.delivered.count(), stats.failed.count()), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_token_server_answering_garbage_is_a_clear_error_and_delivery_resumes() {
    let (logs, _guard) = Logs::capture();
    let mut server = TestServer::start(|seen, n| match (seen.path.as_str(), n) {
        ("/oauth/token", 0) => reply(200, "<html>not a token</html>"),
        ("/oauth/token", 1) => reply(200, r#"{"token_type": "Bearer"}"#),
        ("/oauth/token", 2) => reply(500, "token service down"),
        ("/oauth/token", _) => token(n + 1, 86_400),
        _ => reply(201, ""),
    })
    .await;
    let sink = Sink::start(oauth_options(&server));
    sink.send(event(1)).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(server.next().await);
    }
    let (tokens, posts) = split(seen);
    assert_eq!((tokens.len(), posts.len()), (4, 1));
    assert_eq!(posts[0].header("authorization"), Some("Bearer tok-4"));
    let stats = sink.finish().await;
    assert_eq!((stats.delivered.count(), stats.retries.count()), (1, 3));
    let text = logs.text();
    assert!(
        text.contains(r#"OAuth2 token response is not JSON with a string "access_token" (Syntax error at line 1 column 1; 24 bytes)"#),
        "{text}"
    );
    assert!(text.contains("(Data error"), "{text}");
    assert!(
        text.contains(r#"OAuth2 token server answered 500: "token service down""#),
        "{text}"
    );
    assert_eq!(
        text.matches("ERROR").count(),
        3,
        "one error line per failed token request: {text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_server_that_is_down_costs_the_events_not_the_daemon() {
    let (logs, _guard) = Logs::capture();
    let mut server = TestServer::start(|_, _| reply(201, "")).await;
    let mut options = oauth_options(&server);
    if let Some(oauth2) = &mut options.oauth2 {
        oauth2.token_url = dead_url();
    }
    options.retry.max_attempts = 2;
    let sink = Sink::start(options);
    sink.send(event(1)).await;
    let stats = sink.finish().await;
    assert_eq!(
        (
            stats.delivered.count(),
            stats.failed.count(),
            stats.token_requests.count()
        ),
        (0, 1, 2)
    );
    assert!(server.received().is_empty(), "no POST without a token");
    let text = logs.text();
    assert!(text.contains("OAuth2 token request failed"), "{text}");
    assert!(
        text.contains("webhook delivery failed; events dropped"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn secrets_never_reach_logs_or_debug_output() {
    let (logs, _guard) = Logs::capture();
    let mut server = TestServer::start(|seen, n| {
        let echo = String::from_utf8_lossy(&seen.body).into_owned();
        match (seen.path.as_str(), n) {
            // A token server that echoes the request, secret included.
            ("/oauth/token", 0) => Reply::Now((StatusCode::BAD_REQUEST, echo).into_response()),
            ("/oauth/token", _) => token(n + 1, 86_400),
            // A webhook that echoes the Authorization header.
            (_, 0) => Reply::Now(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    seen.header("authorization").unwrap_or_default().to_owned(),
                )
                    .into_response(),
            ),
            _ => reply(201, ""),
        }
    })
    .await;
    let options = oauth_options(&server);
    let debug = format!("{options:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    let sink = Sink::start(options);
    sink.send(event(1)).await;
    for _ in 0..4 {
        server.next().await;
    }
    let stats = sink.finish().await;
    assert_eq!(stats.delivered.count(), 1);
    let text = logs.text();
    assert!(text.contains("OAuth2 token server answered 400"), "{text}");
    assert!(text.contains("webhook answered 500"), "{text}");
    assert!(!text.contains(SECRET), "client secret in the logs: {text}");
    assert!(!text.contains("tok-2"), "access token in the logs: {text}");
    assert!(text.contains("****"), "{text}");
}
