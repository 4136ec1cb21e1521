//! Throughput to a fast local receiver, batching off and on (not run by default):
//!
//! ```sh
//! cargo test --release --lib sinks::webhook::tests::bench -- --ignored --nocapture
//! ```

use super::*;

const EVENTS: usize = 20_000;
const RUNS: usize = 3;

/// Events per second delivering `EVENTS` pre-queued events with `batch`.
async fn run_once(server: &TestServer, batch: usize) -> f64 {
    let queued: Vec<BadActor> = (0..EVENTS).map(event).collect();
    let (events, receiver) = mpsc::channel(EVENTS);
    for event in queued {
        events.try_send(Arc::new(event)).expect("room");
    }
    drop(events);
    let stats = Arc::new(WebhookStats::default());
    let started = std::time::Instant::now();
    let task = spawn(
        WebhookOptions {
            batch,
            ..options(server.url("/api/events"))
        },
        receiver.into(),
        Arc::clone(&stats),
        CancellationToken::new(),
    )
    .expect("spawn");
    task.await.expect("task");
    let took = started.elapsed();
    assert_eq!(stats.snapshot().delivered, EVENTS as u64);
    EVENTS as f64 / took.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by hand"]
async fn events_per_second_to_a_fast_local_receiver() {
    let mut server = TestServer::start(|_, _| reply(201, "")).await;
    for batch in [1, 10, 100] {
        let mut rates = Vec::new();
        for _ in 0..RUNS {
            rates.push(run_once(&server, batch).await);
            // The recorded requests are not needed; keep the channel small.
            server.received();
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "batch {batch:>3}: median {:>8.0} events/s (runs: {})",
            rates[RUNS / 2],
            rates
                .iter()
                .map(|rate| format!("{rate:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
