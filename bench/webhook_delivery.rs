//! Micro-benchmark: webhook throughput to a fast local receiver (axum on loopback answering 201),
//! batching off and on (not a test). Each batch size is measured `RUNS` times (default 3) with
//! 20,000 events queued before the webhook starts; prints the median and every run.
//!
//! ```text
//! cargo run --release --example webhook_delivery
//! ```

#[path = "support/events.rs"]
mod events;
#[allow(dead_code, reason = "only the median is used here")]
#[path = "loadgen/report.rs"]
mod report;
#[path = "support/settings.rs"]
mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::http::StatusCode;
use jiff::Timestamp;
use sentrypeer::sinks::webhook::{RetryPolicy, WebhookOptions, WebhookStats, start};
use tokio_util::sync::CancellationToken;

const EVENTS: usize = 20_000;
const BATCHES: [usize; 3] = [1, 10, 100];

/// Starts the receiver on 127.0.0.1:0: every POST is read whole and answered 201. Returns its
/// URL.
async fn start_receiver() -> anyhow::Result<reqwest::Url> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/api/events", listener.local_addr()?);
    let received = Arc::new(AtomicU64::new(0));
    let router = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let received = Arc::clone(&received);
        async move {
            received.fetch_add(body.len() as u64, Ordering::Relaxed);
            StatusCode::CREATED
        }
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    reqwest::Url::parse(&url).context("receiver URL")
}

/// Events per second delivering `EVENTS` pre-queued events in POSTs of `batch`.
async fn run_once(url: &reqwest::Url, batch: usize) -> anyhow::Result<f64> {
    let (events, receiver) = tokio::sync::mpsc::channel(EVENTS);
    for n in 0..EVENTS {
        let number = n.to_string();
        let message = format!("INVITE sip:{number}@192.0.2.10 SIP/2.0\r\n\r\n");
        let event = events::invite(
            Timestamp::now(),
            "203.0.113.7:5071".parse()?,
            &number,
            message,
        );
        events.try_send(Arc::new(event)).context("room")?;
    }
    drop(events);
    let stats = Arc::new(WebhookStats::default());
    let options = WebhookOptions {
        url: url.clone(),
        oauth2: None,
        batch,
        skip_empty: false,
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy::default(),
        shutdown_grace: Duration::from_secs(5),
    };
    let started = Instant::now();
    start(
        options,
        receiver.into(),
        Arc::clone(&stats),
        CancellationToken::new(),
    )?
    .await;
    let took = started.elapsed();
    let delivered = stats.delivered.load(Ordering::Relaxed);
    anyhow::ensure!(
        delivered == EVENTS as u64,
        "delivered {delivered} of {EVENTS}"
    );
    Ok(EVENTS as f64 / took.as_secs_f64())
}

fn main() -> anyhow::Result<()> {
    let runs = settings::runs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let url = start_receiver().await?;
        for batch in BATCHES {
            let mut rates = Vec::new();
            for _ in 0..runs {
                rates.push(run_once(&url, batch).await?);
            }
            let each: Vec<String> = rates.iter().map(|rate| format!("{rate:.0}")).collect();
            println!(
                "batch {batch:>3}: median {:>8.0} events/s (runs: {})",
                report::median(rates),
                each.join(", ")
            );
        }
        Ok(())
    })
}
