//! Shutdown: what is queued is delivered within the grace; then the rest is counted as failed.

use std::time::Duration;

use super::*;

#[tokio::test(start_paused = true)]
async fn queued_events_are_delivered_after_the_pipeline_closes() {
    let mut server = TestServer::start(|_, n| match n {
        0 => reply(503, ""),
        _ => reply(201, ""),
    })
    .await;
    let queued: Vec<BadActor> = (1..=4).map(event).collect();
    let sink = Sink::start_with(options(server.url("/api/events")), &queued);
    let stats = sink.finish().await;
    assert_eq!((stats.delivered.count(), stats.failed.count()), (4, 0));
    let numbers: Vec<String> = server.received().iter().flat_map(Seen::numbers).collect();
    assert_eq!(numbers, ["1", "1", "2", "3", "4"]);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_receiver_cannot_hold_shutdown_past_the_grace() {
    let (logs, _guard) = Logs::capture();
    let mut server = TestServer::start(|_, _| Reply::Hang).await;
    let sink = Sink::start(WebhookOptions {
        request_timeout: Duration::from_secs(600),
        ..options(server.url("/api/events"))
    });
    for n in 1..=3 {
        sink.send(event(n)).await;
    }
    server.next().await;
    let closing = Instant::now();
    let stats = sink.finish().await;
    let took = closing.elapsed();
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(
        (stats.delivered.count(), stats.failed.count()),
        (0, 3),
        "all three counted"
    );
    let text = logs.text();
    assert!(
        text.contains("webhook shutdown deadline passed; events not delivered events=3"),
        "{text}"
    );
    assert!(text.contains("webhook stopped"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn an_idle_sink_stops_as_soon_as_the_pipeline_closes() {
    let server = TestServer::start(|_, _| reply(201, "")).await;
    let sink = Sink::start(options(server.url("/api/events")));
    let closing = Instant::now();
    let stats = sink.finish().await;
    assert_eq!(closing.elapsed(), Duration::ZERO);
    let reported = crate::telemetry::Readings::of(&*stats).health_details();
    let counters = reported["webhook"].as_object().expect("webhook counters");
    assert!(counters.values().all(|count| count == 0), "{counters:?}");
}
