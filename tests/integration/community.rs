//! Community analytics between two of our nodes on loopback: the node that opts in
//! (`--share-stats`, with the test's short interval) publishes a signed summary of what it
//! captured, which the other node verifies and adds up into `/api/v1/community`; the node that
//! does not opt in sends nothing (its peer's counters and community stay empty), though it reads
//! the others'; B's dashboard shows them on its Peers page; `--print-shared-stats` prints the summary that was received. Forged, oversized and
//! duplicate summaries are refused in the unit tests (`p2p::community`).

use crate::support::daemon::Daemon;
use crate::support::http::{curl, get_json, wait_for_health};
use crate::support::p2p::{
    node, node_health, print_shared_stats, sharing_node, wait_for_subscriber,
};
use crate::support::sip::{options, udp_client, udp_exchange};

/// Seconds between the test nodes' checks that a summary is due.
const INTERVAL: &str = "1";

/// Sends one OPTIONS probe to `node` and waits until it is stored with its aggregate row (so a
/// summary made from now on counts the source IP too).
fn probe(node: &Daemon, call_id: &str) {
    let udp = node.udp.expect("listens for SIP");
    udp_exchange(
        &udp_client(),
        udp,
        options("100", "UDP", "friendly-scanner", call_id).as_bytes(),
    );
    node.wait_for_stored(1);
    let api = node.api.expect("API on");
    wait_for_health(api, |_| {
        curl(api, "/ip-addresses/127.0.0.1?origin=local", &[]).status == 200
    });
}

#[test]
fn a_sharing_nodes_summary_is_added_up_by_its_peer_and_a_silent_node_sends_none() {
    // A captures a probe, then restarts with --share-stats: its first summary covers it whole.
    let first = node(None, &[]);
    probe(&first, "community-a");
    let stopped = first.stop();
    stopped.assert_clean_exit();
    let a_db = stopped.path("sentrypeer.db");

    // B does not opt in, with the same short interval and a probe of its own to report.
    let b = node(
        None,
        &["--share-stats-interval-secs", INTERVAL, "--web-gui"],
    );
    probe(&b, "community-b");
    let a = sharing_node(
        Some(&b.p2p_address()),
        &[
            "--share-stats",
            "--share-stats-interval-secs",
            INTERVAL,
            "--web-gui",
            "-f",
        ],
    )
    .args([a_db.display().to_string()])
    .start();
    wait_for_subscriber(&a, &b);
    wait_for_subscriber(&b, &a);

    let b_api = b.api.expect("B serves the API");
    wait_for_health(b_api, |health| health["community"]["accepted"] == 1);
    let view = get_json(b_api, "/api/v1/community");
    assert_eq!(view["nodes"], 1, "{view}");
    assert_eq!(view["summaries"], 1, "{view}");
    assert_eq!(view["per_node"][0]["peer_id"], a.peer_id(), "{view}");
    assert_eq!(view["totals"]["events"], 1, "{view}");
    assert_eq!(view["totals"]["ip_addresses"], 1, "{view}");
    assert_eq!(view["by_method"]["OPTIONS"], 1, "{view}");
    assert_eq!(
        view["by_country"]["ZZ"], 1,
        "loopback has no country: {view}"
    );
    // B's dashboard shows the same on its Peers page.
    let page = curl(b_api, "/ui/peers", &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in [
        r#"<dd id="community-nodes">1</dd>"#,
        r#"<dd id="community-events">1</dd>"#,
        r#"<dd id="community-ips">1</dd>"#,
        "--share-stats",
        "OPTIONS",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    let sent = node_health(&a);
    assert_eq!(sent["community"]["published"], 1, "{}", sent["community"]);

    // What --print-shared-stats prints (A's database, A still running) is what B added up.
    let printed = print_shared_stats(&a_db);
    let body: serde_json::Value =
        serde_json::from_str(printed["body"].as_str().expect("body text")).expect("body JSON");
    assert_eq!(body["peer_id"], a.peer_id());
    assert_eq!(body["network"], "sentrypeer");
    for figure in ["events", "ip_addresses", "called_numbers"] {
        assert_eq!(
            body[figure], view["totals"][figure],
            "{figure}: {body} / {view}"
        );
    }
    for list in ["by_attack_type", "by_method", "by_country"] {
        assert_eq!(body[list], view[list], "{list}: {body} / {view}");
    }
    let text = printed.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("friendly-scanner"),
        "{text}"
    );

    // B never opted in: nothing from it reached A, though it had a probe to report and the
    // same interval; it still reads the community.
    let a_view = get_json(a.api.expect("A serves the API"), "/api/v1/community");
    assert_eq!(a_view["nodes"], 0, "{a_view}");
    let a_page = curl(a.api.expect("A serves the API"), "/ui/peers", &[]);
    assert!(
        a_page.body.contains("No community summary received"),
        "{}",
        a_page.body
    );
    assert_eq!(node_health(&a)["community"]["received"], 0);
    assert_eq!(node_health(&b)["community"]["published"], 0);
    assert_eq!(node_health(&b)["community"]["unpublished"], 0);

    // The route is protected like the rest of /api/v1, and 404 without -p.
    let quiet = Daemon::builder()
        .args(["-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    assert_eq!(
        curl(quiet.api.expect("API"), "/api/v1/community", &[]).status,
        404
    );
    quiet.stop().assert_clean_exit();
    a.stop().assert_clean_exit();
    b.stop().assert_clean_exit();
}
