//! Posting, batching, filtering, retries, back-off and the server's waits.

use std::time::Duration;

use super::*;
use crate::event::ORIGINAL_JSON_KEYS;
use crate::sinks::webhook::{loggable_body, redact_url};

#[tokio::test(start_paused = true)]
async fn each_event_is_posted_as_one_json_object_with_the_headers() {
    let mut server = TestServer::start(|_, _| reply(201, r#"{"message":"Thanks"}"#)).await;
    let sink = Sink::start(options(server.url("/api/events")));
    let sent = event(100);
    sink.send(sent.clone()).await;
    let seen = server.next().await;
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/api/events");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(
        seen.header("user-agent"),
        Some(concat!("SentryPeer/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(seen.header("authorization"), None, "no OAuth2, no token");
    assert_eq!(
        seen.body,
        sent.to_json_line().into_bytes(),
        "the JSON log's object"
    );
    let json = seen.json();
    let keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys[..ORIGINAL_JSON_KEYS.len()], ORIGINAL_JSON_KEYS);
    assert_eq!(
        keys[ORIGINAL_JSON_KEYS.len()..],
        ["attack_type"],
        "then what we add"
    );
    assert_eq!(json["attack_type"], "call_attempt");
    let stats = sink.finish().await;
    assert_eq!(stats.delivered.count(), 1);
    assert_eq!(
        (
            stats.failed.count(),
            stats.retries.count(),
            stats.token_requests.count()
        ),
        (0, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn batching_posts_arrays_of_up_to_n_events_already_queued() {
    let mut server = TestServer::start(|_, _| reply(201, "")).await;
    let queued: Vec<BadActor> = (1..=7).map(event).collect();
    let sink = Sink::start_with(
        WebhookOptions {
            batch: 3,
            ..options(server.url("/api/events"))
        },
        &queued,
    );
    let mut batches = Vec::new();
    for _ in 0..3 {
        let seen = server.next().await;
        assert!(seen.json().is_array(), "an array even for one event");
        batches.push(seen.numbers());
    }
    assert_eq!(
        batches,
        [vec!["1", "2", "3"], vec!["4", "5", "6"], vec!["7"]]
    );
    let stats = sink.finish().await;
    assert_eq!(stats.delivered.count(), 7);
    assert!(server.received().is_empty(), "three POSTs in all");
}

#[tokio::test(start_paused = true)]
async fn a_server_failing_the_first_requests_still_gets_every_event_in_order() {
    let mut server = TestServer::start(|_, n| match n {
        0 => reply(500, "boom"),
        1 => reply(502, "bad gateway"),
        2 => reply(503, "unavailable"),
        _ => reply(201, ""),
    })
    .await;
    let sink = Sink::start(options(server.url("/api/events")));
    for n in 1..=5 {
        sink.send(event(n)).await;
    }
    let mut received = Vec::new();
    for _ in 0..8 {
        received.push(server.next().await);
    }
    let numbers: Vec<String> = received.iter().flat_map(Seen::numbers).collect();
    assert_eq!(numbers, ["1", "1", "1", "1", "2", "3", "4", "5"]);
    // Back-off: 0.5–1 s, then 1–2 s, then 2–4 s.
    let waits: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (wait, (low, high)) in waits.iter().zip([(500, 1000), (1000, 2000), (2000, 4000)]) {
        assert!(
            *wait >= Duration::from_millis(low) && *wait <= Duration::from_millis(high + 50),
            "{waits:?}"
        );
    }
    let stats = sink.finish().await;
    assert_eq!(
        (
            stats.delivered.count(),
            stats.failed.count(),
            stats.retries.count()
        ),
        (5, 0, 3)
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_429_is_honoured() {
    let mut server = TestServer::start(|_, n| match n {
        0 => Reply::Now(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "30")],
                r#"{"status": "429 Too Many Requests"}"#,
            )
                .into_response(),
        ),
        _ => reply(201, ""),
    })
    .await;
    let sink = Sink::start(options(server.url("/api/events")));
    sink.send(event(1)).await;
    sink.send(event(2)).await;
    let first = server.next().await;
    let second = server.next().await;
    let third = server.next().await;
    let waited = second.at - first.at;
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "waited {waited:?}"
    );
    assert_eq!(second.numbers(), ["1"]);
    assert_eq!(third.numbers(), ["2"]);
    let stats = sink.finish().await;
    assert_eq!((stats.delivered.count(), stats.retries.count()), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn ratelimit_reset_is_honoured_like_sentrypeer_hq_sends_it() {
    let mut server = TestServer::start(|_, n| match n {
        0 => Reply::Now(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("ratelimit-limit", "7200"),
                    ("ratelimit-remaining", "0"),
                    ("ratelimit-reset", "120"),
                    ("ratelimit-policy", "7200;w=3600"),
                ],
                r#"{"status": "429 Too Many Requests"}"#,
            )
                .into_response(),
        ),
        _ => reply(201, ""),
    })
    .await;
    let sink = Sink::start(options(server.url("/api/events")));
    sink.send(event(1)).await;
    let first = server.next().await;
    let second = server.next().await;
    let waited = second.at - first.at;
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(121),
        "waited {waited:?}"
    );
    assert_eq!(sink.finish().await.delivered.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_zero_retry_after_still_backs_off() {
    let mut server = TestServer::start(|_, n| match n {
        0 => Reply::Now(
            (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")], "").into_response(),
        ),
        _ => reply(201, ""),
    })
    .await;
    let sink = Sink::start(options(server.url("/api/events")));
    sink.send(event(1)).await;
    let first = server.next().await;
    let second = server.next().await;
    assert!(second.at - first.at >= Duration::from_millis(500));
    assert_eq!(sink.finish().await.delivered.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn other_4xx_is_logged_with_the_body_and_dropped_without_retry() {
    let (logs, _guard) = Logs::capture();
    let mut server = TestServer::start(|seen, _| {
        if seen.numbers() == ["1"] {
            reply(422, r#"{"errors":{"sip_message":["can't be blank"]}}"#)
        } else {
            reply(201, "")
        }
    })
    .await;
    let sink = Sink::start(options(server.url("/api/events")));
    sink.send(event(1)).await;
    sink.send(event(2)).await;
    assert_eq!(server.next().await.numbers(), ["1"]);
    assert_eq!(server.next().await.numbers(), ["2"], "no retry of a 422");
    let stats = sink.finish().await;
    assert_eq!(
        (
            stats.delivered.count(),
            stats.failed.count(),
            stats.retries.count()
        ),
        (1, 1, 0)
    );
    let text = logs.text();
    assert!(
        text.contains("webhook rejected the events; dropped"),
        "{text}"
    );
    assert!(text.contains("webhook answered 422"), "{text}");
    assert!(text.contains("can't be blank"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn redirects_are_not_followed() {
    let mut server = TestServer::start(|_, _| {
        Reply::Now((StatusCode::FOUND, [("location", "/elsewhere")], "").into_response())
    })
    .await;
    let sink = Sink::start(options(server.url("/api/events")));
    sink.send(event(1)).await;
    server.next().await;
    let stats = sink.finish().await;
    assert_eq!((stats.delivered.count(), stats.failed.count()), (0, 1));
    assert!(server.received().is_empty(), "nothing sent to /elsewhere");
}

#[tokio::test(start_paused = true)]
async fn a_dead_server_uses_up_the_attempts_then_drops_and_counts() {
    let (logs, _guard) = Logs::capture();
    let sink = Sink::start(WebhookOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        },
        // Longer than the back-offs, so closing the queue below cuts nothing short.
        shutdown_grace: Duration::from_secs(60),
        ..options(dead_url())
    });
    let started = Instant::now();
    sink.send(event(1)).await;
    sink.send(event(2)).await;
    let stats = sink.finish().await;
    assert_eq!(
        (
            stats.delivered.count(),
            stats.failed.count(),
            stats.retries.count()
        ),
        (0, 2, 4)
    );
    // Two events, each waiting 0.5–1 s then 1–2 s between its three attempts.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(3) && elapsed <= Duration::from_secs(7),
        "{elapsed:?}"
    );
    let text = logs.text();
    assert_eq!(
        text.matches("webhook delivery failed; events dropped")
            .count(),
        2,
        "{text}"
    );
    assert!(text.contains("attempts=3"), "{text}");
    assert!(text.contains("webhook request failed"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn empty_field_events_are_sent_unless_skip_empty() {
    let empty = || EventBuilder::new().empty().build();
    let mut server = TestServer::start(|_, _| reply(201, "")).await;
    let sink = Sink::start(options(server.url("/api/events")));
    sink.send(empty()).await;
    assert_eq!(server.next().await.numbers(), [""], "sent by default");
    sink.finish().await;

    let sink = Sink::start(WebhookOptions {
        skip_empty: true,
        ..options(server.url("/api/events"))
    });
    sink.send(empty()).await;
    sink.send(event(5)).await;
    assert_eq!(server.next().await.numbers(), ["5"]);
    let stats = sink.finish().await;
    assert_eq!((stats.delivered.count(), stats.skipped.count()), (1, 1));
}

#[test]
fn urls_in_logs_and_debug_lose_credentials_and_queries() {
    let url = reqwest::Url::parse("https://user:hunter2@hq.example:8443/api/events?key=abc#frag")
        .expect("URL");
    let shown = redact_url(&url);
    assert_eq!(shown, "https://hq.example:8443/api/events?…");
    let debug = format!("{:?}", options(url));
    assert!(
        !debug.contains("hunter2") && !debug.contains("abc"),
        "{debug}"
    );
}

#[test]
fn logged_bodies_are_scrubbed_cut_and_on_one_line() {
    let body = format!(
        "token tok-123 and secret s3cr3t\r\nnext line{}",
        "x".repeat(600)
    );
    let shown = loggable_body(body.as_bytes(), &["s3cr3t", "tok-123", ""]);
    assert!(
        shown.starts_with("token **** and secret ****??next line"),
        "{shown}"
    );
    assert!(!shown.contains('\n'));
    assert_eq!(shown.chars().count(), 513, "512 characters and an ellipsis");
}
