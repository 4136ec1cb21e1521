//! `/api/v1/stream` through the router: kinds, filters, resuming with `Last-Event-ID`, the
//! token, the client cap, and a client that never reads.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::{Fixture, event, get};
use crate::api::OAuthClients;
use crate::api::stream::MAX_CLIENTS;
use crate::api::stream::client::STALL_TIMEOUT;
use crate::blocklist::{BlocklistOptions, Observation, VerdictOptions};
use crate::event::BadActor;
use crate::event::test_support::EventBuilder;

/// How long a test waits for a message before failing.
const PATIENCE: Duration = Duration::from_secs(10);

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
struct Message {
    id: Option<u64>,
    event: String,
    data: serde_json::Value,
}

/// An open stream: its status, headers, and what it has sent so far.
struct Stream {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
    text: String,
}

impl Stream {
    async fn open(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Self {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        Self {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.into_body(),
            text: String::new(),
        }
    }

    /// Every whole message so far (comments and `retry` left out).
    fn messages(&self) -> Vec<Message> {
        let whole = &self.text[..self.text.rfind("\n\n").map_or(0, |end| end + 2)];
        whole
            .split("\n\n")
            .filter_map(|block| {
                let mut message = Message {
                    id: None,
                    event: String::new(),
                    data: serde_json::Value::Null,
                };
                for line in block.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        message.id = id.parse().ok();
                    } else if let Some(event) = line.strip_prefix("event: ") {
                        message.event = event.to_owned();
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        message.data = serde_json::from_str(data).expect("JSON data");
                    }
                }
                (!message.event.is_empty()).then_some(message)
            })
            .collect()
    }

    /// Reads until `done` holds for the messages so far; fails after [`PATIENCE`].
    async fn read_until(&mut self, done: impl Fn(&[Message]) -> bool) -> Vec<Message> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let messages = self.messages();
            if done(&messages) {
                return messages;
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .unwrap_or_else(|_| panic!("timed out; so far:\n{}", self.text));
            let frame = frame.expect("stream open").expect("no body error");
            if let Ok(data) = frame.into_data() {
                self.text
                    .push_str(std::str::from_utf8(&data).expect("UTF-8"));
            }
        }
    }

    /// The `open` (or `reset`) message.
    async fn opening(&mut self) -> Message {
        self.read_until(|messages| !messages.is_empty()).await[0].clone()
    }
}

fn kinds(messages: &[Message], kind: &str) -> Vec<Message> {
    messages
        .iter()
        .filter(|message| message.event == kind)
        .cloned()
        .collect()
}

/// What capture does with an event: counted in the blocklist, published to the stream.
fn capture(fixture: &Fixture, event: BadActor) {
    fixture
        .blocklist
        .observe(&Observation::from_event(&event, false));
    fixture.live_events.publish(Arc::new(event));
}

#[tokio::test]
async fn a_probe_yields_an_event_and_decisions() {
    let fixture = Fixture::empty();
    let router = fixture.router();
    let mut stream = Stream::open(&router, "/api/v1/stream", &[]).await;
    assert_eq!(stream.status, StatusCode::OK);
    assert_eq!(
        stream.headers["content-type"].to_str().ok(),
        Some("text/event-stream")
    );
    assert_eq!(
        stream.headers["cache-control"].to_str().ok(),
        Some("no-cache")
    );
    let open = stream.opening().await;
    assert_eq!(open.event, "open");
    assert_eq!(open.data["last_event_id"].as_u64(), open.id);

    capture(
        &fixture,
        event("203.0.113.9", "0046812118532", "OPTIONS", "a", 0),
    );
    let messages = stream
        .read_until(|m| kinds(m, "event").len() == 1 && kinds(m, "decision").len() == 2)
        .await;
    let captured = &kinds(&messages, "event")[0];
    assert_eq!(captured.id, None, "events carry no id");
    assert_eq!(captured.data["source_ip"], "203.0.113.9:5070");
    assert_eq!(captured.data["attack_type"], "scan");
    let decisions = kinds(&messages, "decision");
    let keys: Vec<&str> = decisions
        .iter()
        .map(|d| d.data["key"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(keys, ["203.0.113.9", "0046812118532"]);
    for decision in &decisions {
        assert_eq!(decision.data["change"], "new");
        assert_eq!(decision.id, decision.data["seq"].as_u64());
        assert!(decision.id > open.id, "ids grow");
    }
}

#[tokio::test]
async fn filters_keep_only_what_was_asked_for() {
    let fixture = Fixture::empty();
    let router = fixture.router();
    let uri = "/api/v1/stream?kind=event&origin=peer&attack_type=call_attempt";
    let mut stream = Stream::open(&router, uri, &[]).await;
    let open = stream.opening().await;
    assert_eq!(
        (open.id, &open.data["last_event_id"]),
        (None, &serde_json::Value::Null)
    );
    let local_call = event("203.0.113.1", "100", "INVITE", "a", 0);
    let peer_scan = EventBuilder::new()
        .source_ip("203.0.113.2")
        .method("OPTIONS")
        .peer("12D3KooWPeer")
        .build();
    let peer_call = EventBuilder::new()
        .source_ip("203.0.113.3")
        .method("INVITE")
        .number("100")
        .peer("12D3KooWPeer")
        .build();
    assert_eq!(peer_scan.attack.attack_type.as_str(), "scan");
    assert_eq!(peer_call.attack.attack_type.as_str(), "call_attempt");
    for captured in [local_call, peer_scan, peer_call] {
        capture(&fixture, captured);
    }
    let messages = stream.read_until(|m| !kinds(m, "event").is_empty()).await;
    let events = kinds(&messages, "event");
    assert_eq!(events.len(), 1, "{messages:?}");
    assert_eq!(events[0].data["source_ip"], "203.0.113.3:5070");
    assert!(kinds(&messages, "decision").is_empty(), "kind=event");

    for (uri, reason) in [
        ("/api/v1/stream?kind=events", "kind"),
        ("/api/v1/stream?origin=mars", "origin"),
        ("/api/v1/stream?attack_type=nope", "attack_type"),
        ("/api/v1/stream?policy=bgp", "policy"),
        ("/api/v1/stream?last_event_id=-1", "last_event_id"),
        ("/api/v1/stream?colour=red", "colour"),
    ] {
        let answer = get(&router, uri).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(answer.json()["parameter"], reason, "{uri}");
    }
    let bad_header =
        Stream::open(&router, "/api/v1/stream", &[("last-event-id", "yesterday")]).await;
    assert_eq!(bad_header.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn decisions_can_pass_a_consumer_policy() {
    let fixture = Fixture::empty();
    // The default policy: special-purpose addresses are never verdicts.
    let router = fixture.router_with_verdicts(
        None,
        Vec::new(),
        &VerdictOptions::default(),
        OAuthClients::none(),
    );
    let uri = "/api/v1/stream?kind=decision&policy=feeds";
    let mut stream = Stream::open(&router, uri, &[]).await;
    stream.opening().await;
    let mut raw = Stream::open(&router, "/api/v1/stream?kind=decision", &[]).await;
    raw.opening().await;
    for source in ["192.0.2.7", "10.0.0.1", "8.8.4.4"] {
        capture(&fixture, event(source, "NOT_FOUND", "OPTIONS", "a", 0));
    }
    let raw_messages = raw.read_until(|m| kinds(m, "decision").len() == 3).await;
    let messages = stream
        .read_until(|m| !kinds(m, "decision").is_empty())
        .await;
    let listed: Vec<serde_json::Value> = kinds(&messages, "decision")
        .iter()
        .map(|d| d.data["key"].clone())
        .collect();
    assert_eq!(listed, [serde_json::json!("8.8.4.4")]);
    assert_eq!(
        kinds(&raw_messages, "decision").len(),
        3,
        "raw changes: all three"
    );
}

#[tokio::test]
async fn last_event_id_resumes_exactly_the_missed_decisions() {
    let fixture = Fixture::empty();
    let router = fixture.router();
    capture(&fixture, event("203.0.113.1", "100", "OPTIONS", "a", 0));
    let mut first = Stream::open(&router, "/api/v1/stream?kind=decision", &[]).await;
    let position = first.opening().await.id.expect("an id");
    let mut live = Stream::open(&router, "/api/v1/stream?kind=decision", &[]).await;
    live.opening().await;
    drop(first);
    for source in ["203.0.113.2", "203.0.113.3", "203.0.113.1"] {
        capture(&fixture, event(source, "100", "OPTIONS", "a", 0));
    }
    // New IPs 2 and 3; number 100 reaches counts 2 (a threshold) then 3; IP 1 reaches 2.
    let expected = live.read_until(|m| kinds(m, "decision").len() == 4).await;
    let id = position.to_string();
    for (uri, headers) in [
        (
            "/api/v1/stream?kind=decision".to_owned(),
            vec![("last-event-id", id.as_str())],
        ),
        (
            format!("/api/v1/stream?kind=decision&last_event_id={id}"),
            vec![],
        ),
    ] {
        let mut resumed = Stream::open(&router, &uri, &headers).await;
        let messages = resumed
            .read_until(|m| kinds(m, "decision").len() == 4)
            .await;
        assert_eq!(messages[0].event, "open");
        assert_eq!(messages[0].data["replayed"], 4);
        assert_eq!(kinds(&messages, "decision"), kinds(&expected, "decision"));
    }
    // An id from the future, or one that left the window: reset, then live from there.
    let mut unknown = Stream::open(
        &router,
        "/api/v1/stream",
        &[("last-event-id", &(u64::MAX - 1).to_string())],
    )
    .await;
    let reset = unknown.opening().await;
    assert_eq!(
        (reset.event.as_str(), &reset.data["reason"]),
        ("reset", &serde_json::json!("unknown"))
    );
    let newest = kinds(&expected, "decision").last().and_then(|d| d.id);
    assert_eq!(reset.id, newest, "resume from the newest change");
}

#[tokio::test]
async fn an_id_older_than_the_replay_window_gets_a_reset() {
    let fixture = Fixture::with_blocklist(&BlocklistOptions {
        replay_window: 2,
        ..BlocklistOptions::default()
    });
    let router = fixture.router();
    let mut stream = Stream::open(&router, "/api/v1/stream?kind=decision", &[]).await;
    let position = stream.opening().await.id.expect("id").to_string();
    for host in 1..=5 {
        capture(
            &fixture,
            event(&format!("203.0.113.{host}"), "NOT_FOUND", "OPTIONS", "a", 0),
        );
    }
    let mut resumed =
        Stream::open(&router, "/api/v1/stream", &[("last-event-id", &position)]).await;
    let reset = resumed.opening().await;
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.data["reason"], "too_old");
    assert_eq!(reset.data["requested"].to_string(), position);
}

#[tokio::test]
async fn the_token_applies_and_clients_are_capped() {
    let fixture = Fixture::empty();
    let router = fixture.router_with(Some("s3cret"), Vec::new());
    let refused = Stream::open(&router, "/api/v1/stream", &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let wrong = Stream::open(
        &router,
        "/api/v1/stream",
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let auth = [("authorization", "Bearer s3cret")];
    let mut admitted = Stream::open(&router, "/api/v1/stream", &auth).await;
    assert_eq!(admitted.status, StatusCode::OK);
    admitted.opening().await;
    let _others: Vec<_> = (1..MAX_CLIENTS)
        .map(|_| fixture.live_events.admit(MAX_CLIENTS).expect("room"))
        .collect();
    let busy = Stream::open(&router, "/api/v1/stream", &auth).await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers["retry-after"].to_str().ok(), Some("10"));
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_and_counted() {
    let fixture = Fixture::empty();
    let router = fixture.router();
    let stream = Stream::open(&router, "/api/v1/stream?kind=event", &[]).await;
    assert_eq!(stream.status, StatusCode::OK);
    let big = EventBuilder::new().message(&"x".repeat(8000)).build();
    // Its queue fills, then stays full for the stall timeout.
    let deadline = tokio::time::Instant::now() + STALL_TIMEOUT + PATIENCE;
    while fixture.live_events.dropped_clients() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never dropped");
        for _ in 0..16 {
            fixture.live_events.publish(Arc::new(big.clone()));
        }
        // Let the client's task run (the test runtime has one thread).
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fixture.live_events.dropped_clients(), 1);
    drop(stream);
    // Its place is given back once its task has ended.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while fixture.live_events.clients() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "place not given back"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn retention_expiry_is_a_removal_on_the_stream_and_leaves_the_feeds() {
    let fixture = Fixture::with_blocklist(&BlocklistOptions {
        retention: Some(Duration::from_secs(86_400)),
        ..BlocklistOptions::default()
    });
    let router = fixture.router();
    capture(
        &fixture,
        event("203.0.113.1", "NOT_FOUND", "OPTIONS", "a", 86_400 - 60),
    );
    capture(
        &fixture,
        event("203.0.113.2", "NOT_FOUND", "OPTIONS", "a", 0),
    );
    let listed = |body: &str| body.lines().map(str::to_owned).collect::<Vec<_>>();
    let before = get(&router, "/api/v1/feeds/ips.txt").await.body;
    assert_eq!(listed(&before).len(), 2, "{before}");
    let mut raw = Stream::open(&router, "/api/v1/stream?kind=decision", &[]).await;
    raw.opening().await;
    let mut feeds = Stream::open(&router, "/api/v1/stream?kind=decision&policy=feeds", &[]).await;
    feeds.opening().await;

    // Two minutes later, the older key's newest event is out of the one-day window.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(2);
    let expired = fixture.blocklist.expire(later);
    assert_eq!(expired.len(), 1, "{expired:?}");
    for stream in [&mut raw, &mut feeds] {
        let messages = stream
            .read_until(|m| !kinds(m, "decision").is_empty())
            .await;
        let decisions = kinds(&messages, "decision");
        assert_eq!(decisions.len(), 1, "{messages:?}");
        let removal = &decisions[0].data;
        assert_eq!(removal["key"], "203.0.113.1");
        assert_eq!(removal["change"], "expired");
        assert_eq!(removal["removed"], true);
        assert_eq!(decisions[0].id, Some(expired[0].seq));
    }
    assert!(
        fixture
            .blocklist
            .lookup_ip("203.0.113.1".parse().expect("IP"))
            .is_none()
    );
    let after = get(&router, "/api/v1/feeds/ips.txt").await.body;
    assert_eq!(listed(&after), ["203.0.113.2"], "{after}");
}
