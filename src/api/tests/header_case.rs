//! Header names on the wire, read as raw bytes from [`serve`] over a loopback socket: the
//! original's exact spellings (`X-SentryPeer-Version`), title case for the rest.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::Fixture;
use crate::api::{ServeLimits, serve};

/// Serves `router` on a loopback port until the returned token is cancelled.
async fn serving(router: Router) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    tokio::spawn(serve(
        listener,
        router,
        ServeLimits::default(),
        std::sync::Arc::default(),
        shutdown.clone(),
    ));
    (address, shutdown)
}

/// Sends `request_line` with `Connection: close` and returns the response head's lines.
async fn head_lines(address: SocketAddr, request_line: &str) -> Vec<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let request = format!("{request_line}\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        response
    };
    let response = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("a whole response in time");
    let text = String::from_utf8(response).expect("UTF-8 response");
    let (head, _body) = text.split_once("\r\n\r\n").expect("a response head");
    head.split("\r\n").map(str::to_owned).collect()
}

/// Asserts every `expected` line is in the head, and that every header name starts upper case.
fn assert_head(lines: &[String], expected: &[&str]) {
    for line in expected {
        assert!(lines.iter().any(|l| l == line), "{line:?} in {lines:#?}");
    }
    for line in &lines[1..] {
        assert!(
            line.starts_with(|c: char| c.is_ascii_uppercase()),
            "header name not in title or original case: {line:?}"
        );
    }
}

#[tokio::test]
async fn header_names_go_out_in_the_originals_case() {
    let fixture = Fixture::original();
    let (address, shutdown) = serving(fixture.router()).await;
    let version = format!("X-SentryPeer-Version: {}", env!("CARGO_PKG_VERSION"));
    let original = [
        "Access-Control-Allow-Origin: *",
        "X-Powered-By: SentryPeer",
        version.as_str(),
    ];

    let health = head_lines(address, "GET /health-check HTTP/1.1").await;
    assert_eq!(health[0], "HTTP/1.1 200 OK");
    assert_head(&health, &original);
    assert_head(&health, &["Content-Type: text/html", "Content-Length: 78"]);
    assert!(health.iter().any(|line| line.starts_with("Date: ")));

    let streamed = head_lines(address, "GET /numbers HTTP/1.1").await;
    assert_head(&streamed, &original);
    assert_head(
        &streamed,
        &[
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
    );

    let refused = head_lines(address, "DELETE /numbers/100 HTTP/1.1").await;
    assert_eq!(refused[0], "HTTP/1.1 405 Method Not Allowed");
    assert_head(&refused, &original);
    assert_head(&refused, &["Allow: GET, HEAD"]);
    shutdown.cancel();

    let (guarded, shutdown) = serving(fixture.router_with(Some("s3cret"), Vec::new())).await;
    let unauthorized = head_lines(guarded, "GET /numbers HTTP/1.1").await;
    assert_eq!(unauthorized[0], "HTTP/1.1 401 Unauthorized");
    assert_head(&unauthorized, &original);
    assert_head(&unauthorized, &["WWW-Authenticate: Bearer"]);
    shutdown.cancel();
}
