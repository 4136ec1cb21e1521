//! HTTPS: rustls (ring) with certificate verification; a receiver whose certificate the
//! system does not trust gets a TLS handshake and no event.

use std::time::Duration;

use tokio_rustls::TlsAcceptor;

use super::*;
use crate::transport::certs;

#[tokio::test]
async fn an_untrusted_https_receiver_is_refused_after_a_real_tls_handshake() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, _) = certs::load_or_generate(&dir.path().join("c.pem"), &dir.path().join("k.pem"))
        .expect("self-signed certificate");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (handshakes, mut handshake) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let acceptor = TlsAcceptor::from(config);
        while let Ok((stream, _)) = listener.accept().await {
            let outcome = acceptor.accept(stream).await.map(|_| ());
            let _ = handshakes.send(outcome.map_err(|error| error.to_string()));
        }
    });
    let url = reqwest::Url::parse(&format!("https://{addr}/api/events")).expect("URL");
    let sink = Sink::start(WebhookOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        request_timeout: Duration::from_secs(20),
        ..options(url)
    });
    sink.send(event(1)).await;
    let outcome = tokio::time::timeout(Duration::from_secs(20), handshake.recv())
        .await
        .expect("a handshake in time")
        .expect("server running");
    assert!(
        outcome.is_err(),
        "the client must not accept the certificate"
    );
    let stats = sink.finish().await;
    assert_eq!((stats.delivered.count(), stats.failed.count()), (0, 1));
    let text = logs.text();
    assert!(text.contains("invalid peer certificate"), "{text}");
}
