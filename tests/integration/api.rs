//! The REST API end to end: the real binary captures SIPVicious probes, then `curl` checks every
//! route's status, headers and body; the bearer token; the API alone with `-R`.

use crate::support::daemon::Daemon;
use crate::support::http::curl;
use crate::support::sip::{options, send_from};
use crate::support::sip_tools::svmap;

#[test]
fn every_route_answers_over_http_after_a_sipvicious_scan() {
    // Loopback addresses are special-purpose: let them be verdicts, as a lab would. The node's
    // own address (127.0.0.1, where svmap sends from) never is, whatever the flag says.
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["--crowdsec-api-key", "bouncer-key"])
        .args(["--verdict-include-special-addresses"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let api = daemon.api.expect("API listening");
    let scan = svmap(udp, daemon.dir());
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    // And a call attempt to a number with leading zeros, from another loopback address.
    let invite =
        options("0046812118532", "UDP", "friendly-scanner", "inv").replace("OPTIONS", "INVITE");
    // Recorded whatever the reply: this tiny INVITE is too small for the 407 to fit over UDP.
    send_from("127.0.0.2", udp, invite.as_bytes());
    daemon.wait_for_probes(2);
    // The writer commits in batches and logs a running total after each.
    daemon.wait_for_stored(2);

    let checks: Vec<(&str, u16, &str)> = vec![
        ("/health-check", 200, "<h1>Hello from SentryPeer!</h1>"),
        ("/", 200, r#"{"status": "OK"}"#),
        ("/ip-addresses", 200, "\"ip_address\": \"127.0.0.1\""),
        (
            "/ip-addresses/127.0.0.1",
            200,
            "\"bad_actor_found\": \"127.0.0.1\"",
        ),
        (
            "/ip-addresses/::1",
            404,
            r#"{"message": "No bad actor found"}"#,
        ),
        (
            "/ip-addresses/127.0.0.1:5060",
            400,
            r#"{"error": "The request data was invalid"}"#,
        ),
        ("/numbers", 200, "\"called_number\": \"0046812118532\""),
        (
            "/numbers/0046812118532",
            200,
            "\"phone_number_found\": \"0046812118532\"",
        ),
        (
            "/numbers/999",
            404,
            r#"{"message": "No phone number found"}"#,
        ),
        (
            "/nope",
            404,
            r#"{"error": "The requested resource could not be found."}"#,
        ),
        ("/api/v1/health", 200, "\"node_id\""),
        ("/api/v1/events?limit=1", 200, "\"next_cursor\""),
        ("/api/v1/stats", 200, "\"friendly-scanner\""),
        ("/api/v1/ip-addresses", 200, "\"ip_address\": \"127.0.0.2\""),
        ("/api/v1/numbers?since=1h", 200, "0046812118532"),
        ("/api/v1/events?limit=0", 400, "\"parameter\": \"limit\""),
        ("/api/v1/feeds/ips.txt", 200, "127.0.0.2\n"),
        ("/api/v1/feeds/numbers.txt", 200, "0046812118532\n"),
        (
            "/api/v1/feeds/ipset",
            200,
            "add sentrypeer-v4-new 127.0.0.2 -exist",
        ),
        (
            "/ip-addresses/ipset",
            200,
            "add sentrypeer-v4-new 127.0.0.2 -exist",
        ),
        (
            "/api/v1/feeds/nftables",
            200,
            "add element inet sentrypeer sentrypeer_v4 { 127.0.0.2 }",
        ),
        (
            "/metrics",
            200,
            "sentrypeer_events_received_total{transport=\"UDP\"} 2",
        ),
        ("/v1/decisions/stream?startup=true", 403, "access forbidden"),
    ];
    for (path, status, needle) in checks {
        let answer = curl(api, path, &[]);
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert!(
            answer.body.contains(needle),
            "{path} lacks {needle:?}:\n{}",
            answer.body
        );
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(answer.header("x-powered-by"), Some("SentryPeer"), "{path}");
        assert_eq!(
            answer.header("x-sentrypeer-version"),
            Some(env!("CARGO_PKG_VERSION")),
            "{path}"
        );
    }
    let json_health = curl(
        api,
        "/health-check",
        &["-H", "Content-Type: application/json"],
    );
    assert!(
        json_health
            .body
            .starts_with("{\n  \"status\": \"OK\",\n  \"message\": \"Hello from SentryPeer!\"")
    );
    let decisions = curl(
        api,
        "/v1/decisions/stream?startup=true",
        &["-H", "X-Api-Key: bouncer-key"],
    );
    assert_eq!(decisions.status, 200);
    assert!(
        decisions.body.contains("\"value\": \"127.0.0.2\""),
        "{}",
        decisions.body
    );
    // The node's own address is recorded (above) but never a verdict.
    assert!(
        !decisions.body.contains("\"127.0.0.1\""),
        "{}",
        decisions.body
    );
    assert!(
        !curl(api, "/api/v1/feeds/ips.txt", &[])
            .body
            .contains("127.0.0.1")
    );
    let post = curl(api, "/ip-addresses", &["-X", "POST"]);
    assert_eq!(post.status, 405);
    assert!(post.body.contains("\"error\""));
    daemon.stop().assert_clean_exit();
}

#[test]
fn the_token_guards_the_api_and_a_sharing_only_node_still_serves_it() {
    let daemon = Daemon::builder()
        .args([
            "-R",
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
            "--api-token",
            "t0ken",
        ])
        .start();
    assert!(daemon.udp.is_none(), "-R: no SIP listeners");
    let api = daemon.api.expect("API listening");
    assert_eq!(curl(api, "/health-check", &[]).status, 200);
    assert_eq!(curl(api, "/ip-addresses", &[]).status, 401);
    let authorised = curl(api, "/ip-addresses", &["-H", "Authorization: Bearer t0ken"]);
    assert_eq!(
        (authorised.status, authorised.body.as_str()),
        (404, r#"{"message": "No bad actors found"}"#)
    );
    daemon.stop().assert_clean_exit();
}
