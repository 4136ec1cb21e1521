//! SIP over TLS: a self-signed certificate is generated at the configured paths, a real TLS
//! client's probe is recorded and answered; unwritable certificate paths never stop capture.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::support::daemon::{Daemon, WAIT};
use crate::support::sip::{options, udp_client, udp_exchange};

async fn tls_exchange(
    address: std::net::SocketAddr,
    cert_pem: &std::path::Path,
    message: &str,
) -> String {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert_pem).expect("read cert") {
        roots.add(cert.expect("cert")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    // The generated certificate is for localhost: verification proves it is the one on disk.
    let server_name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector
        .connect(server_name, tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(message.as_bytes()).await.expect("write");
    let mut reply = vec![0u8; 4096];
    let read = tokio::time::timeout(WAIT, tls.read(&mut reply))
        .await
        .expect("reply in time")
        .expect("read");
    String::from_utf8_lossy(&reply[..read]).into_owned()
}

#[tokio::test]
async fn tls_probe_is_recorded_with_a_generated_certificate() {
    let daemon = Daemon::builder().args(["-r"]).start();
    let tls = daemon.tls.expect("TLS listening");
    let cert = daemon.path("cert.pem");
    assert!(
        cert.exists() && daemon.path("key.pem").exists(),
        "generated at the configured paths"
    );
    let reply = tls_exchange(tls, &cert, &options("3000", "TLS", "tls-agent", "tls-1")).await;
    assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");
    daemon.wait_for_probes(1);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let (transport, number, destination_port): (String, String, i64) = stopped
        .db()
        .query_row(
            "SELECT transport_type, called_number, destination_port FROM honey",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("row");
    assert_eq!((transport.as_str(), number.as_str()), ("TLS", "3000"));
    assert_eq!(destination_port, i64::from(tls.port()));
}

#[tokio::test]
async fn unwritable_certificate_location_keeps_every_listener_running() {
    let builder = Daemon::builder();
    let read_only = builder.dir().join("read-only");
    std::fs::create_dir(&read_only).expect("dir");
    let mut permissions = std::fs::metadata(&read_only).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o555);
    std::fs::set_permissions(&read_only, permissions).expect("chmod");
    // root ignores directory permissions: use a path under a file, which nobody can create.
    let blocked = builder.dir().join("not-a-dir");
    std::fs::write(&blocked, "x").expect("file");
    let daemon = builder
        .args(["-r", "-t"])
        .args([
            blocked.join("cert.pem").display().to_string(),
            "-k".to_owned(),
        ])
        .args([blocked.join("key.pem").display().to_string()])
        .start();
    assert!(
        daemon.logged("cannot save the generated TLS certificate"),
        "clear error line"
    );
    let udp = daemon.udp.expect("UDP still listening");
    assert!(daemon.tls.is_some(), "TLS runs on an in-memory certificate");
    let reply = udp_exchange(
        &udp_client(),
        udp,
        options("1", "UDP", "x", "ro").as_bytes(),
    );
    assert!(reply.starts_with(b"SIP/2.0 200 OK"));
    daemon.stop().assert_clean_exit();
}
