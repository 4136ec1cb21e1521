//! The server's own limits on a loopback socket: a source gets its cap of connections and no
//! more, and a request head over the cap ends its connection, while others are served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::Fixture;
use crate::api::{ServeLimits, ServerStats, serve};

async fn serving(limits: ServeLimits) -> (SocketAddr, Arc<ServerStats>, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    let stats = Arc::new(ServerStats::default());
    let router = Fixture::original().router();
    tokio::spawn(serve(
        listener,
        router,
        limits,
        Arc::clone(&stats),
        shutdown.clone(),
    ));
    (address, stats, shutdown)
}

/// Sends `request` on `stream` and reads until the server closes it; the status line.
async fn exchange(mut stream: TcpStream, request: &[u8]) -> String {
    let talk = async {
        stream.write_all(request).await.expect("send");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        String::from_utf8_lossy(&response)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    tokio::time::timeout(Duration::from_secs(20), talk)
        .await
        .expect("answered in time")
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn one_source_gets_its_cap_of_connections_and_no_more() {
    let limits = ServeLimits {
        max_connections_per_source: 2,
        ..ServeLimits::default()
    };
    let (address, stats, shutdown) = serving(limits).await;
    let first = TcpStream::connect(address).await.expect("first");
    let second = TcpStream::connect(address).await.expect("second");
    let mut third = TcpStream::connect(address)
        .await
        .expect("accepted by the kernel");
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(20), third.read(&mut byte))
        .await
        .expect("closed in time");
    assert!(
        matches!(closed, Ok(0) | Err(_)),
        "the third is closed at once"
    );
    assert_eq!(
        stats
            .connections_over_source_cap
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(exchange(first, GET).await, "HTTP/1.1 200 OK");
    drop(second);
    let again = TcpStream::connect(address)
        .await
        .expect("a place came back");
    assert_eq!(exchange(again, GET).await, "HTTP/1.1 200 OK");
    shutdown.cancel();
}

#[tokio::test]
async fn a_request_head_over_the_cap_ends_its_connection() {
    let (address, _stats, shutdown) = serving(ServeLimits::default()).await;
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let status = exchange(
        TcpStream::connect(address).await.expect("connect"),
        huge.as_bytes(),
    )
    .await;
    assert!(!status.starts_with("HTTP/1.1 200"), "{status}");
    let normal = exchange(TcpStream::connect(address).await.expect("connect"), GET).await;
    assert_eq!(normal, "HTTP/1.1 200 OK");
    shutdown.cancel();
}
