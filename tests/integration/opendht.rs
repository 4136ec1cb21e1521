//! The OpenDHT bridge against a real `dhtnode --proxyserver` and `python3-opendht` on loopback:
//! values put in the original's format are served with `origin=opendht`, our captured probes are
//! read back in the original's format, bogus values are refused and counted, a restarted
//! dhtnode is reconnected to, and two of our nodes that know only the same dhtnode find each
//! other.

use crate::support::daemon::Daemon;
use crate::support::dhtnode::{self, BAD_ACTORS, DhtNode, ORIGINAL_JSON_KEYS};
use crate::support::http::{curl, wait_for_health};
use crate::support::p2p::{
    node_health, send_invites, sharing_node, wait_for_peer, wait_for_subscriber,
};
use crate::support::sip::{options, udp_client};

/// A value as the original's C build puts it, stamped now, from `source_ip`.
fn original_value(source_ip: &str, event_uuid: &str) -> serde_json::Value {
    let at = jiff::Timestamp::now();
    let now = format!(
        "{}.{:06}",
        at.strftime("%Y-%m-%d %H:%M:%S"),
        at.subsec_microsecond()
    );
    serde_json::json!({
        "app_name": "sentrypeer",
        "app_version": "v4.0.4",
        "event_timestamp": now,
        "event_uuid": event_uuid,
        "created_by_node_id": "7d1f1a0e-2b3c-4d5e-8f90-abcdefabcdef",
        "collected_method": "passive",
        "transport_type": "UDP",
        "source_ip": source_ip,
        "destination_ip": "192.0.2.1",
        "called_number": "+441234567890",
        "sip_method": "OPTIONS",
        "sip_user_agent": "friendly-scanner",
        "sip_message": "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nTo: <sip:+441234567890@192.0.2.1>\r\n\r\n",
    })
}

fn bridged_daemon(dht: &DhtNode, extra: &[&str]) -> Daemon {
    let daemon = Daemon::builder()
        .args(["-a", "--api-listen-address", "127.0.0.1:0", "-N"])
        .args(["--opendht-proxy", &dht.url()])
        .args(extra.iter().copied())
        .start();
    daemon.wait_for_logged("OpenDHT proxy reachable", 1);
    daemon
}

fn opendht(details: &serde_json::Value, key: &str) -> u64 {
    details["opendht"][key].as_u64().unwrap_or(0)
}

#[test]
fn original_values_are_served_with_origin_opendht_and_bogus_ones_refused() {
    if !dhtnode::ready() {
        return;
    }
    let dht = DhtNode::start();
    let daemon = bridged_daemon(&dht, &[]);
    let api = daemon.api.expect("API");
    let good = original_value("198.51.100.7", "2ceba0a8-1b3c-4d5e-8f90-123456789abc");
    dht.python_put(BAD_ACTORS, good.to_string().as_bytes());
    // Bogus: not JSON, an extra key, a timestamp a year ahead, a port-carrying IP that is not one.
    let mut extra_key = original_value("198.51.100.8", "3ceba0a8-1b3c-4d5e-8f90-123456789abc");
    extra_key["origin"] = "local".into();
    let mut future = original_value("198.51.100.9", "4ceba0a8-1b3c-4d5e-8f90-123456789abc");
    future["event_timestamp"] = "2099-01-01 00:00:00.000000".into();
    let bad_ip = original_value("198.51.100.10:port", "5ceba0a8-1b3c-4d5e-8f90-123456789abc");
    for bogus in [
        b"garbage \xff".to_vec(),
        extra_key.to_string().into_bytes(),
        future.to_string().into_bytes(),
        bad_ip.to_string().into_bytes(),
    ] {
        dht.python_put(BAD_ACTORS, &bogus);
    }
    let details = wait_for_health(api, |details| {
        opendht(details, "imported") >= 1
            && details["opendht"]["refused"]["malformed"].as_u64() >= Some(1)
            && details["opendht"]["refused"]["wrong_keys"].as_u64() >= Some(1)
            && details["opendht"]["refused"]["out_of_window"].as_u64() >= Some(1)
            && details["opendht"]["refused"]["invalid_field"].as_u64() >= Some(1)
    });
    assert_eq!(opendht(&details, "imported"), 1, "{details}");
    daemon.wait_for_stored(1);
    let served = curl(api, "/ip-addresses/198.51.100.7?origin=opendht", &[]);
    assert_eq!(served.status, 200, "{}", served.body);
    assert!(served.body.contains("198.51.100.7"), "{}", served.body);
    assert_eq!(
        curl(api, "/ip-addresses/198.51.100.7?origin=local", &[]).status,
        404
    );
    for refused in ["198.51.100.8", "198.51.100.9", "198.51.100.10"] {
        assert_eq!(
            curl(api, &format!("/ip-addresses/{refused}"), &[]).status,
            404
        );
    }
    // Listed among events with its origin.
    let feed = curl(api, "/api/v1/events?origin=opendht", &[]);
    assert_eq!(feed.status, 200, "{}", feed.body);
    let feed: serde_json::Value = serde_json::from_str(&feed.body).expect("JSON");
    assert_eq!(feed["events"][0]["origin"], "opendht", "{feed}");
    assert_eq!(feed["events"].as_array().map(Vec::len), Some(1), "{feed}");
    daemon.stop().assert_clean_exit();
}

#[test]
fn our_captured_probes_are_read_back_by_python3_opendht_as_the_original_s_json() {
    if !dhtnode::ready() {
        return;
    }
    let dht = DhtNode::start();
    let daemon = bridged_daemon(&dht, &["--opendht-publish"]);
    let api = daemon.api.expect("API");
    let socket = udp_client();
    let probe = options("100", "UDP", "sipvicious-bridge", "bridge-1");
    socket
        .send_to(probe.as_bytes(), daemon.udp.expect("UDP"))
        .expect("send probe");
    daemon.wait_for_probes(1);
    wait_for_health(api, |details| {
        opendht(details, "published") + opendht(details, "publish_failed") >= 1
    });
    let ours = |value: &Vec<u8>| {
        serde_json::from_slice::<serde_json::Value>(value)
            .is_ok_and(|json| json["sip_user_agent"] == "sipvicious-bridge")
    };
    let values = dht.python_get(BAD_ACTORS, |values| values.iter().any(ours));
    let value = values
        .iter()
        .find(|v| ours(v))
        .expect("our probe on the DHT");
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(value).expect("a JSON object");
    let keys: Vec<&str> = json.keys().map(String::as_str).collect();
    assert_eq!(keys, ORIGINAL_JSON_KEYS);
    assert!(json.values().all(serde_json::Value::is_string));
    assert_eq!(
        json["source_ip"], "127.0.0.1",
        "a bare IP, as the C build puts it"
    );
    assert_eq!(json["sip_method"], "OPTIONS");
    assert_eq!(json["transport_type"], "UDP");
    // Our own value comes back on the listen stream and is not imported.
    let details = wait_for_health(api, |details| opendht(details, "own") >= 1);
    assert_eq!(opendht(&details, "imported"), 0, "{details}");
    daemon.stop().assert_clean_exit();
}

#[test]
fn the_bridge_recovers_when_dhtnode_is_killed_and_restarted() {
    if !dhtnode::ready() {
        return;
    }
    let mut dht = DhtNode::start();
    let daemon = bridged_daemon(&dht, &[]);
    let api = daemon.api.expect("API");
    dht.kill();
    daemon.wait_for_logged("OpenDHT proxy unreachable", 1);
    // Capture goes on while the proxy is away.
    let socket = udp_client();
    let probe = options("100", "UDP", "while-away", "away-1");
    socket
        .send_to(probe.as_bytes(), daemon.udp.expect("UDP"))
        .expect("send probe");
    daemon.wait_for_probes(1);
    dht.restart();
    daemon.wait_for_logged("OpenDHT proxy reachable", 2);
    let value = original_value("198.51.100.20", "6ceba0a8-1b3c-4d5e-8f90-123456789abc");
    dht.python_put(BAD_ACTORS, value.to_string().as_bytes());
    let details = wait_for_health(api, |details| opendht(details, "imported") >= 1);
    assert!(opendht(&details, "reconnects") >= 1, "{details}");
    assert_eq!(
        daemon.count_logged("OpenDHT proxy unreachable"),
        1,
        "one warning per state change"
    );
    daemon.wait_for_stored(2);
    assert_eq!(
        curl(api, "/ip-addresses/198.51.100.20?origin=opendht", &[]).status,
        200
    );
    daemon.stop().assert_clean_exit();
}

#[test]
fn two_nodes_that_know_only_the_same_dhtnode_find_each_other_and_share_a_record() {
    if !dhtnode::ready() {
        return;
    }
    let dht = DhtNode::start();
    let discovered = |dht: &DhtNode| {
        sharing_node(
            None,
            &[
                "--p2p-announce-address",
                "127.0.0.1:0",
                "--opendht-proxy",
                &dht.url(),
            ],
        )
        .start()
    };
    let first = discovered(&dht);
    let second = discovered(&dht);
    for (node, other) in [(&first, &second), (&second, &first)] {
        wait_for_peer(node, "peer connected", &other.peer_id());
    }
    wait_for_subscriber(&first, &second);
    send_invites(&first, 0..1);
    first.wait_for_stored(1);
    second.wait_for_stored(1);
    let details = node_health(&second);
    assert!(
        details["p2p"]["accepted_records"].as_u64() >= Some(1),
        "{details}"
    );
    assert!(
        details["opendht"]["discovery_found"].as_u64() >= Some(1),
        "{details}"
    );
    first.stop().assert_clean_exit();
    second.stop().assert_clean_exit();
}
