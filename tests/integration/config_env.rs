//! Environment-only configuration: every `SENTRYPEER_*` variable works without flags, and a set
//! boolean variable enables its feature whatever its value (even `0`).

use std::os::unix::net::UnixDatagram;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::sip::{options, udp_client, udp_exchange};

#[test]
fn string_and_boolean_variables_configure_the_daemon_without_flags() {
    let builder = Daemon::builder().without_defaults();
    let dir = builder.dir().to_owned();
    let syslog_path = dir.join("syslog.sock");
    let syslog = UnixDatagram::bind(&syslog_path).expect("bind syslog");
    syslog.set_read_timeout(Some(WAIT)).expect("timeout");
    let path = |name: &str| dir.join(name).display().to_string();
    let daemon = builder
        .env("SENTRYPEER_SIP_LISTEN_ADDRESS", "127.0.0.1:0")
        .env("SENTRYPEER_TLS_LISTEN_ADDRESS", "127.0.0.1:0")
        .env("SENTRYPEER_DB_FILE", &path("env.db"))
        .env("SENTRYPEER_CERT", &path("env-cert.pem"))
        .env("SENTRYPEER_KEY", &path("env-key.pem"))
        .env("SENTRYPEER_JSON_LOG_FILE", &path("env.json"))
        .env("SENTRYPEER_JSON_LOG", "0")
        .env("SENTRYPEER_SIP_RESPONSIVE", "0")
        .env("SENTRYPEER_SYSLOG", "false")
        .env("SENTRYPEER_SYSLOG_ADDRESS", &path("syslog.sock"))
        .env("SENTRYPEER_API", "0")
        .env("SENTRYPEER_API_LISTEN_ADDRESS", "127.0.0.1:0")
        .env("SENTRYPEER_PEER_TO_PEER", "0")
        .env("SENTRYPEER_P2P_LISTEN_ADDRESS", "127.0.0.1:0")
        .env("SENTRYPEER_RETENTION_DAYS", "0")
        .start();
    assert!(daemon.tls.is_some(), "TLS on from env");
    assert!(
        dir.join("env-cert.pem").exists(),
        "certificate at SENTRYPEER_CERT"
    );
    let udp = daemon.udp.expect("UDP from env");
    let reply = udp_exchange(
        &udp_client(),
        udp,
        options("55", "UDP", "env", "env").as_bytes(),
    );
    assert!(
        reply.starts_with(b"SIP/2.0 200 OK"),
        "SENTRYPEER_SIP_RESPONSIVE=0 still enables"
    );
    let mut buffer = [0u8; 1024];
    let length = syslog
        .recv(&mut buffer)
        .expect("syslog line from SENTRYPEER_SYSLOG=false");
    assert!(String::from_utf8_lossy(&buffer[..length]).contains("Method: OPTIONS"));
    assert!(
        daemon.api.is_some(),
        "SENTRYPEER_API=0 still enables the API"
    );
    assert!(
        !daemon.p2p_address().is_empty(),
        "SENTRYPEER_PEER_TO_PEER=0 still enables sharing"
    );
    daemon.wait_for_probes(1);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    assert!(dir.join("env.db").exists());
    let log = std::fs::read_to_string(dir.join("env.json")).expect("JSON log from env");
    assert_eq!(log.lines().count(), 1);
}

#[test]
fn disable_variables_turn_listeners_off() {
    let tls_off = Daemon::builder().env("SENTRYPEER_TLS_DISABLE", "0").start();
    assert!(tls_off.udp.is_some() && tls_off.tls.is_none());
    tls_off.stop().assert_clean_exit();

    // -R with no listeners at all must still shut down cleanly (the original crashed).
    let sip_off = Daemon::builder().env("SENTRYPEER_SIP_DISABLE", "").start();
    assert!(sip_off.udp.is_none() && sip_off.tcp.is_none() && sip_off.tls.is_none());
    assert!(sip_off.logged("SIP listeners disabled"));
    sip_off.stop().assert_clean_exit();
}

#[test]
fn verbose_and_debug_variables_raise_the_log_level() {
    for variable in ["SENTRYPEER_VERBOSE", "SENTRYPEER_DEBUG"] {
        let daemon = Daemon::builder()
            .args(["-N"])
            .env("RUST_LOG", "")
            .env(variable, "no")
            .start();
        let udp = daemon.udp.expect("udp");
        udp_client()
            .send_to(options("1", "UDP", "v", "v").as_bytes(), udp)
            .expect("send");
        daemon.wait_for_probes(1);
        daemon.stop().assert_clean_exit();
    }
    let quiet = Daemon::builder().args(["-N"]).env("RUST_LOG", "").start();
    let udp = quiet.udp.expect("udp");
    udp_client()
        .send_to(options("1", "UDP", "q", "q").as_bytes(), udp)
        .expect("send");
    let stopped = quiet.stop();
    stopped.assert_clean_exit();
    let stored: i64 = stopped
        .db()
        .query_row("SELECT count(*) FROM honey", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 1, "a datagram queued at SIGTERM is still recorded");
    assert!(
        !stopped.log.iter().any(|l| l.contains("probe recorded")),
        "no per-probe lines by default"
    );
}
