//! The webhook end to end: the real binary posts real probes to an HTTP receiver the test runs on
//! loopback port 0, with and without OAuth2; a dead receiver or a broken token server never stops
//! capture; queued events are delivered at shutdown.

use sentrypeer::event::ORIGINAL_JSON_KEYS;

use crate::support::daemon::Daemon;
use crate::support::http::{curl, health};
use crate::support::process::signal;
use crate::support::sip::{options, udp_client};
use crate::support::sip_tools::{free_udp_port, run, tool};
use crate::support::webhook_receiver::{Answer, Receiver, Seen, answer, dead_url};

/// Sends an OPTIONS probe to `number` over UDP (passive mode: no reply).
fn probe(daemon: &Daemon, number: &str) {
    let client = udp_client();
    let message = options(number, "UDP", "webhook-test", &format!("wh-{number}"));
    client
        .send_to(message.as_bytes(), daemon.udp.expect("UDP"))
        .expect("send probe");
}

#[test]
fn real_probes_are_posted_to_the_webhook_without_oauth2() {
    let receiver = Receiver::start(|_, _| answer(201, r#"{"message": "Thanks"}"#));
    let daemon = Daemon::builder()
        .args(["-N", "-j", "-w", &receiver.url("/api/events")])
        .start();
    assert!(daemon.logged("webhook on"));
    assert!(
        !daemon.logged("not available"),
        "the webhook is no longer reported missing"
    );
    let udp = daemon.udp.expect("UDP listening");
    let mut svmap = tool("svmap");
    svmap.args(["127.0.0.1", "-p", &udp.port().to_string()]);
    svmap.args(["-P", &free_udp_port().to_string(), "-t", "0.1"]);
    run(svmap, daemon.dir());
    daemon.wait_for_probes(1);
    probe(&daemon, "0046812118532");
    let mut posts = Vec::new();
    while posts
        .last()
        .is_none_or(|post: &Seen| post.json()["called_number"] != "0046812118532")
    {
        posts.push(receiver.next());
    }
    assert!(posts.len() >= 2, "svmap's probe and ours");
    for post in &posts {
        assert_eq!(post.path, "/api/events");
        assert_eq!(post.header("content-type"), Some("application/json"));
        assert_eq!(
            post.header("user-agent"),
            Some(concat!("SentryPeer/", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(post.header("authorization"), None);
        let json = post.json();
        let keys: Vec<&str> = json
            .as_object()
            .expect("one object per POST")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys[..ORIGINAL_JSON_KEYS.len()], ORIGINAL_JSON_KEYS);
        assert_eq!(keys[ORIGINAL_JSON_KEYS.len()], "attack_type");
    }
    assert_eq!(
        posts[0].json()["sip_user_agent"],
        "friendly-scanner",
        "svmap's probe first"
    );
    let ours = posts[posts.len() - 1].json();
    assert_eq!(ours["called_number"], "0046812118532");
    assert_eq!(ours["sip_user_agent"], "webhook-test");
    assert_eq!(ours["transport_type"], "UDP");
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let logged: Vec<serde_json::Value> = stopped.json_log();
    let posted: Vec<serde_json::Value> = posts.iter().map(Seen::json).collect();
    assert_eq!(posted, logged, "the webhook gets the JSON log's objects");
    assert!(receiver.received().is_empty(), "one POST per event");
}

#[test]
fn oauth2_from_the_environment_fetches_one_token_for_every_post() {
    const SECRET: &str = "client-secret-from-env";
    const TOKEN: &str = "eyJ-access-token-value";
    let receiver = Receiver::start(|seen, _| match seen.path.as_str() {
        "/oauth/token" => answer(
            200,
            &format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":86400}}"#),
        ),
        _ => answer(201, ""),
    });
    let daemon = Daemon::builder()
        .args(["-N"])
        .env("SENTRYPEER_WEBHOOK_URL", &receiver.url("/api/events"))
        .env("SENTRYPEER_OAUTH2_CLIENT_ID", "client-1")
        .env("SENTRYPEER_OAUTH2_CLIENT_SECRET", SECRET)
        .env("SENTRYPEER_OAUTH2_TOKEN_URL", &receiver.url("/oauth/token"))
        .env("SENTRYPEER_OAUTH2_AUDIENCE", "https://sentrypeer.com/api")
        .start();
    for number in ["100", "101", "102"] {
        probe(&daemon, number);
    }
    let seen: Vec<Seen> = (0..4).map(|_| receiver.next()).collect();
    assert_eq!(seen[0].path, "/oauth/token");
    assert_eq!(
        String::from_utf8_lossy(&seen[0].body),
        format!(
            r#"{{"audience":"https://sentrypeer.com/api","client_id":"client-1","client_secret":"{SECRET}","grant_type":"client_credentials"}}"#
        )
    );
    let numbers: Vec<String> = seen[1..]
        .iter()
        .map(|post| {
            assert_eq!(post.path, "/api/events");
            assert_eq!(
                post.header("authorization"),
                Some(format!("Bearer {TOKEN}").as_str())
            );
            post.json()["called_number"]
                .as_str()
                .expect("number")
                .to_owned()
        })
        .collect();
    assert_eq!(numbers, ["100", "101", "102"], "in order");
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    assert!(
        stopped
            .log
            .iter()
            .any(|line| line.contains("webhook stopped") && line.contains("delivered=3"))
    );
    for line in &stopped.log {
        assert!(!line.contains(SECRET) && !line.contains(TOKEN), "{line}");
    }
}

#[test]
fn a_dead_webhook_never_stops_capture_and_every_loss_is_counted() {
    let daemon = Daemon::builder()
        .config_file("event_queue_capacity = 2\n")
        .args(["-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["-w", &dead_url()])
        // Enough attempts (backoff 1, 2, 4, ... s, capped at 60) that the first event is still
        // being retried at shutdown however slow the machine is: with the default 6 it could be
        // given up after 15.5 s, and the queue would move on.
        .args(["--webhook-max-attempts", "20"])
        .start();
    // The first event is retried; two more fit in the queue; the others are dropped by the
    // pipeline. Capture and storage go on regardless.
    for (sent, number) in (1..=5).zip(["200", "201", "202", "203", "204"]) {
        probe(&daemon, number);
        daemon.wait_for_stored(sent);
    }
    assert!(daemon.wait_for(|lines| {
        lines
            .iter()
            .any(|line| line.contains("webhook delivery failed; retrying"))
    }));
    let api = daemon.api.expect("API");
    let health = health(api);
    let dropped = health["events"]["dropped_by_consumer"]["webhook"]
        .as_u64()
        .expect("webhook consumer counted");
    assert!((2..=3).contains(&dropped), "{health}");
    assert_eq!(health["events"]["dropped_by_consumer"]["store"], 0);
    assert_eq!(health["webhook"]["delivered"], 0, "{health}");
    assert!(health["webhook"]["retries"].as_u64() >= Some(1), "{health}");
    let metrics = curl(api, "/metrics", &[]).body;
    assert!(
        metrics.contains(&format!(
            "sentrypeer_events_dropped_total{{consumer=\"webhook\"}} {dropped}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("sentrypeer_webhook_delivered_total 0"),
        "{metrics}"
    );
    probe(&daemon, "205");
    daemon.wait_for_stored(6);

    // Shutdown gives the queue 5 s, then counts what is left: the event in flight and the two
    // queued ones; every other event was dropped by the pipeline, so all six are accounted for.
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    assert!(
        stopped.log.iter().any(|line| line
            .contains("webhook shutdown deadline passed; events not delivered")
            && line.contains("events=3")),
        "{}",
        stopped.log.join("\n")
    );
    assert!(
        stopped
            .log
            .iter()
            .any(|line| line.contains("sentrypeer::app: stopped")
                && line.contains("stored=6")
                && line.contains("dropped=3")),
        "{}",
        stopped.log.join("\n")
    );
}

#[test]
fn a_token_server_answering_garbage_is_one_clear_error_and_capture_goes_on() {
    let receiver = Receiver::start(|seen, _| match seen.path.as_str() {
        "/oauth/token" => answer(200, "<html>maintenance</html>"),
        _ => answer(201, ""),
    });
    let daemon = Daemon::builder()
        .args(["-N", "-w", &receiver.url("/api/events")])
        .args(["-i", "client-1", "-c", "garbage-test-secret"])
        .args(["--oauth2-token-url", &receiver.url("/oauth/token")])
        .args(["--webhook-max-attempts", "1"])
        .start();
    probe(&daemon, "300");
    assert!(daemon.wait_for(|lines| {
        lines
            .iter()
            .any(|line| line.contains("webhook delivery failed; events dropped"))
    }));
    probe(&daemon, "301");
    daemon.wait_for_stored(2);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let errors: Vec<&String> = stopped
        .log
        .iter()
        .filter(|line| line.contains("OAuth2 token response is not JSON"))
        .collect();
    assert!(!errors.is_empty(), "{}", stopped.log.join("\n"));
    assert!(errors.iter().all(|line| line.contains("ERROR")));
    assert!(
        stopped
            .log
            .iter()
            .all(|line| !line.contains("garbage-test-secret"))
    );
    let seen = receiver.received();
    assert!(
        seen.iter().all(|seen| seen.path == "/oauth/token"),
        "no POST without a token"
    );
    assert_eq!(
        seen.len(),
        2,
        "one token request per event (one attempt each)"
    );
}

#[test]
fn events_queued_at_shutdown_are_still_delivered() {
    let receiver = Receiver::start(|_, n| Answer {
        hold: n == 0,
        ..answer(201, "")
    });
    let daemon = Daemon::builder()
        .args(["-N", "-w", &receiver.url("/api/events")])
        .start();
    for (sent, number) in (1..=3).zip(["400", "401", "402"]) {
        probe(&daemon, number);
        daemon.wait_for_stored(sent);
    }
    let first = receiver.next();
    assert_eq!(first.json()["called_number"], "400");
    // SIGTERM while the first POST is held and two events wait in the queue.
    signal(daemon.pid(), "TERM");
    assert!(daemon.wait_for(|lines| lines.iter().any(|line| line.contains("shutting down"))));
    receiver.release();
    let rest: Vec<serde_json::Value> = (0..2).map(|_| receiver.next().json()).collect();
    assert_eq!(rest[0]["called_number"], "401");
    assert_eq!(rest[1]["called_number"], "402");
    let stopped = daemon.wait_exit();
    stopped.assert_clean_exit();
    assert!(
        stopped
            .log
            .iter()
            .any(|line| line.contains("webhook stopped") && line.contains("delivered=3")),
        "{}",
        stopped.log.join("\n")
    );
}

#[test]
fn oauth2_credentials_without_a_webhook_url_are_reported_not_used() {
    let daemon = Daemon::builder()
        .args(["-N", "-i", "client-1", "-c", "unused-secret"])
        .start();
    assert!(
        daemon.logged("OAuth2 client credentials (-i, -c) without a webhook URL (-w); ignored")
    );
    assert!(!daemon.logged("webhook on"));
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    assert!(
        stopped
            .log
            .iter()
            .all(|line| !line.contains("unused-secret"))
    );
}
