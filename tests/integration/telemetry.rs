//! The shape of `/api/v1/health` and `/metrics` as operators' dashboards and alerts read them:
//! every key of the health JSON (with `null` for the parts that are off) and every metric name,
//! type and label, pinned from the real daemon, values left out.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::support::daemon::Daemon;
use crate::support::http::curl;
use crate::support::sip::{options, udp_client};

/// Every leaf of a JSON value as `path: kind` (objects and arrays that are empty are leaves).
fn leaves(value: &serde_json::Value, path: &str, out: &mut BTreeSet<String>) {
    let kind = match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                leaves(child, &child_path, out);
            }
            return;
        }
        serde_json::Value::Object(_) => "empty object",
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
    };
    out.insert(format!("{path}: {kind}"));
}

fn health_leaves(api: SocketAddr) -> BTreeSet<String> {
    let answer = curl(api, "/api/v1/health", &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let health: serde_json::Value = serde_json::from_str(&answer.body).expect("health JSON");
    let mut out = BTreeSet::new();
    leaves(&health, "", &mut out);
    out
}

/// The series of a Prometheus text page without their values; bucket series without their `le`
/// (their bounds are checked apart); and the `# TYPE` lines.
struct Exposition {
    series: BTreeSet<String>,
    types: BTreeSet<String>,
    bucket_bounds: BTreeSet<String>,
}

fn exposition(api: SocketAddr) -> Exposition {
    let answer = curl(api, "/metrics", &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut exposition = Exposition {
        series: BTreeSet::new(),
        types: BTreeSet::new(),
        bucket_bounds: BTreeSet::new(),
    };
    for line in answer.body.lines().filter(|line| !line.trim().is_empty()) {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            exposition.types.insert(declared.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, _value) = line.rsplit_once(' ').expect("series and value");
        let series = match series.split_once("le=\"") {
            Some((head, rest)) => {
                let (bound, tail) = rest.split_once('"').expect("closing quote");
                exposition.bucket_bounds.insert(bound.to_owned());
                format!("{head}{}", tail.trim_start_matches(','))
                    .replace(",}", "}")
                    .replace("{}", "")
            }
            None => series.to_owned(),
        };
        exposition.series.insert(series);
    }
    exposition
}

/// `base` and `more`.
fn plus<S: Into<String>>(mut base: Vec<String>, more: impl IntoIterator<Item = S>) -> Vec<String> {
    base.extend(more.into_iter().map(Into::into));
    base
}

fn assert_same<S: AsRef<str>>(what: &str, seen: &BTreeSet<String>, expected: &[S]) {
    let expected: BTreeSet<String> = expected.iter().map(|s| s.as_ref().to_owned()).collect();
    let missing: Vec<&String> = expected.difference(seen).collect();
    let extra: Vec<&String> = seen.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:#?}\nunexpected {extra:#?}"
    );
}

const TRANSPORTS: [&str; 3] = ["UDP", "TCP", "TLS"];

/// The per-transport reply counters (`replies.<counter>.<transport>`).
const REPLY_COUNTERS: [&str; 7] = [
    "sent",
    "rate_limited",
    "failed",
    "delayed_skipped",
    "withheld",
    "foreign_to_tag",
    "foreign_nonce",
];

/// The live blocklist's gauges and counters (always on), by health key.
const BLOCKLIST_GAUGES: [&str; 4] = ["ips", "numbers", "authors", "subscribers"];
const BLOCKLIST_COUNTERS: [&str; 6] = [
    "evicted_ips",
    "evicted_numbers",
    "expired",
    "flush_overflow",
    "authors_refused",
    "subscribers_dropped",
];

/// The counters of `/api/v1/stream` (on with the API), by health key.
const STREAM_COUNTERS: [&str; 4] = [
    "events_published",
    "events_missed",
    "clients_dropped",
    "clients_refused",
];

/// Health leaves that are there whatever is on.
fn common_health() -> Vec<String> {
    let mut keys: Vec<String> = [
        "status: string",
        "version: string",
        "node_id: string",
        "uptime_seconds: number",
        "latest_event: string",
        "events.stored: number",
        "events.store_failed: number",
        "events.dropped: number",
        "events.dropped_by_consumer.store: number",
        "events.dropped_by_consumer.json_log: number",
        "events.dropped_by_consumer.stream: number",
        "stream.clients: number",
        "replies.by_status_class.1xx: number",
        "replies.by_status_class.2xx: number",
        "replies.by_status_class.3xx: number",
        "replies.by_status_class.4xx: number",
        "replies.by_status_class.5xx: number",
        "replies.by_status_class.6xx: number",
        "replies.requests_sent: number",
        "store.wal_bytes: number",
        "store.reads: number",
        "store.reads_abandoned: number",
        "store.reads_timed_out: number",
        "store.reads_refused: number",
        "api.connections_open: number",
        "api.connections_over_source_cap: number",
        "api.slow_clients_cut: number",
    ]
    .map(str::to_owned)
    .to_vec();
    for key in BLOCKLIST_GAUGES.iter().chain(&BLOCKLIST_COUNTERS) {
        keys.push(format!("blocklist.{key}: number"));
    }
    for key in STREAM_COUNTERS {
        keys.push(format!("stream.{key}: number"));
    }
    for transport in TRANSPORTS {
        keys.push(format!("events.received.{transport}: number"));
        keys.push(format!("events.messages_cut.{transport}: number"));
        for counter in REPLY_COUNTERS {
            keys.push(format!("replies.{counter}.{transport}: number"));
        }
        for counter in [
            "open",
            "accepted",
            "over_source_cap",
            "message_timeouts",
            "idle_timeouts",
            "handshake_timeouts",
        ] {
            keys.push(format!("connections.{counter}.{transport}: number"));
        }
    }
    keys
}

const P2P_COUNTERS: [&str; 29] = [
    "connected_peers",
    "published_records",
    "published_messages",
    "published_bytes",
    "unpublished_records",
    "unsent_to_slow_peers",
    "received_records",
    "accepted_records",
    "duplicate_records",
    "rejected_signature",
    "rejected_malformed",
    "rejected_window",
    "rejected_network",
    "rejected_denied",
    "rate_limited",
    "catch_up_pages_served",
    "catch_up_bytes_served",
    "catch_up_refused",
    "catch_up_refused_busy",
    "catch_up_refused_pace",
    "catch_up_refused_window_served",
    "catch_up_refused_by_peers",
    "catch_up_rate_waits",
    "catch_up_cut_off",
    "records_too_large",
    "connections_refused_handshakes",
    "connections_refused_full",
    "connections_refused_per_address",
    "connections_refused_per_peer",
];

/// Community analytics' counters (`sentrypeer_community_summaries_total{counter}`), by health
/// key under `community`.
const COMMUNITY_COUNTERS: [&str; 13] = [
    "published",
    "published_bytes",
    "unpublished",
    "received",
    "accepted",
    "refused_malformed",
    "refused_signature",
    "refused_network",
    "refused_fields",
    "refused_window",
    "refused_duplicate_in_hour",
    "own",
    "nodes_dropped",
];

/// The SIP agent's counters (`sentrypeer_sip_agent_<name>_total`), by health key.
const SIP_AGENT_COUNTERS: [&str; 15] = [
    "dips",
    "policy_refusals",
    "invite_retransmissions",
    "response_retransmissions",
    "acks",
    "ack_timeouts",
    "cancels",
    "keepalives",
    "not_allowed",
    "bad_requests",
    "ignored",
    "too_large",
    "rate_limited",
    "replies_failed",
    "transactions_evicted",
];
const SIP_AGENT_GAUGES: [&str; 2] = ["transactions", "connections"];
const SIP_AGENT_OUTCOMES: [&str; 3] = ["blocked_number", "blocked_ip", "clean"];

/// The SIP agent's health leaves, metric series and `# TYPE` lines when it is on.
fn sip_agent_shape() -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut health = vec!["sip_agent.dip_seconds: number".to_owned()];
    let mut series: Vec<String> = ["bucket", "sum", "count"]
        .map(|part| format!("sentrypeer_sip_agent_dip_seconds_{part}"))
        .to_vec();
    let mut types = vec![
        "sentrypeer_sip_agent_dip_seconds histogram".to_owned(),
        "sentrypeer_sip_agent_verdicts_total counter".to_owned(),
        "sentrypeer_sip_agent_refused_sources_total counter".to_owned(),
    ];
    for outcome in SIP_AGENT_OUTCOMES {
        health.push(format!("sip_agent.verdicts.{outcome}: number"));
        series.push(format!(
            "sentrypeer_sip_agent_verdicts_total{{outcome=\"{outcome}\"}}"
        ));
    }
    for transport in ["udp", "tcp"] {
        health.push(format!("sip_agent.refused_sources.{transport}: number"));
        series.push(format!(
            "sentrypeer_sip_agent_refused_sources_total{{transport=\"{transport}\"}}"
        ));
    }
    for counter in SIP_AGENT_COUNTERS {
        health.push(format!("sip_agent.{counter}: number"));
        series.push(format!("sentrypeer_sip_agent_{counter}_total"));
        types.push(format!("sentrypeer_sip_agent_{counter}_total counter"));
    }
    for gauge in SIP_AGENT_GAUGES {
        health.push(format!("sip_agent.{gauge}: number"));
        series.push(format!("sentrypeer_sip_agent_{gauge}"));
        types.push(format!("sentrypeer_sip_agent_{gauge} gauge"));
    }
    (health, series, types)
}

/// The BGP speaker's counters (health keys under `bgp`; `sentrypeer_bgp_<key>_total`).
const BGP_COUNTERS: [&str; 4] = ["capped", "resyncs", "withdrawn", "inbound_refused"];
/// Each BGP session's gauges and counters (`sentrypeer_bgp_*{peer="..."}`).
const BGP_SESSION_GAUGES: [&str; 3] = [
    "session_established",
    "session_uptime_seconds",
    "prefixes_sent",
];
const BGP_SESSION_COUNTERS: [&str; 7] = [
    "sessions_established",
    "updates_sent",
    "prefixes_announced",
    "prefixes_withdrawn",
    "prefixes_received",
    "malformed_updates",
    "notifications_received",
];
/// The BGP flags of the "every part on" test: a peer on a closed loopback port.
const BGP_ON: [&str; 5] = [
    "--bgp",
    "--bgp-router-id",
    "192.0.2.10",
    "--bgp-peer",
    "127.0.0.1:1@65001",
];

const OPENDHT_COUNTERS: [&str; 13] = [
    "received",
    "imported",
    "duplicates",
    "own",
    "expired",
    "published",
    "publish_failed",
    "publish_rate_limited",
    "publish_busy",
    "reconnects",
    "discovery_published",
    "discovery_found",
    "discovery_refused",
];

const OPENDHT_REFUSALS: [&str; 5] = [
    "too_large",
    "malformed",
    "wrong_keys",
    "invalid_field",
    "out_of_window",
];

const WEBHOOK_COUNTERS: [&str; 5] = [
    "delivered",
    "failed",
    "retries",
    "skipped",
    "token_requests",
];

/// Metric series that are there whatever is on (after one stored event and one health request).
fn common_series() -> Vec<String> {
    let mut series: Vec<String> = [
        "sentrypeer_events_dropped_total{consumer=\"store\"}",
        "sentrypeer_events_dropped_total{consumer=\"json_log\"}",
        "sentrypeer_events_dropped_total{consumer=\"stream\"}",
        "sentrypeer_stream_clients",
        "sentrypeer_events_stored_total",
        "sentrypeer_events_store_failed_total",
        "sentrypeer_store_batches_total",
        "sentrypeer_store_last_batch_seconds",
        "sentrypeer_retention_deleted_total",
        "sentrypeer_aggregate_flushes_total",
        "sentrypeer_aggregate_rows_total",
        "sentrypeer_aggregate_flushes_failed_total",
        "sentrypeer_aggregate_rows_lost_total",
        "sentrypeer_aggregate_rows_refused_total",
        "sentrypeer_rollup_values_over_cap_total",
        "sentrypeer_store_batch_duration_seconds_bucket",
        "sentrypeer_store_batch_duration_seconds_sum",
        "sentrypeer_store_batch_duration_seconds_count",
        "sentrypeer_store_wal_bytes",
        "sentrypeer_store_reads_total",
        "sentrypeer_store_reads_abandoned_total",
        "sentrypeer_store_reads_timed_out_total",
        "sentrypeer_store_reads_refused_total",
        "sentrypeer_api_connections_open",
        "sentrypeer_api_connections_over_source_cap_total",
        "sentrypeer_api_slow_clients_cut_total",
        "sentrypeer_requests_sent_total",
        "sentrypeer_api_requests_total{route=\"/api/v1/health\",status=\"200\"}",
        "sentrypeer_api_request_duration_seconds_bucket{route=\"/api/v1/health\"}",
        "sentrypeer_api_request_duration_seconds_sum{route=\"/api/v1/health\"}",
        "sentrypeer_api_request_duration_seconds_count{route=\"/api/v1/health\"}",
    ]
    .map(str::to_owned)
    .to_vec();
    for gauge in BLOCKLIST_GAUGES {
        series.push(format!("sentrypeer_blocklist_{gauge}"));
    }
    for counter in BLOCKLIST_COUNTERS {
        series.push(format!("sentrypeer_blocklist_{counter}_total"));
    }
    for counter in STREAM_COUNTERS {
        series.push(format!("sentrypeer_stream_{counter}_total"));
    }
    for class in ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"] {
        series.push(format!(
            "sentrypeer_replies_by_status_total{{class=\"{class}\"}}"
        ));
    }
    for transport in TRANSPORTS {
        series.push(format!(
            "sentrypeer_events_received_total{{transport=\"{transport}\"}}"
        ));
        series.push(format!(
            "sentrypeer_events_messages_cut_total{{transport=\"{transport}\"}}"
        ));
        for counter in REPLY_COUNTERS {
            series.push(format!(
                "sentrypeer_replies_{counter}_total{{transport=\"{transport}\"}}"
            ));
        }
    }
    // Only the stream transports have connections.
    for transport in ["TCP", "TLS"] {
        series.push(format!(
            "sentrypeer_connections_open{{transport=\"{transport}\"}}"
        ));
        for counter in [
            "accepted",
            "over_source_cap",
            "message_timeouts",
            "idle_timeouts",
            "handshake_timeouts",
        ] {
            series.push(format!(
                "sentrypeer_connections_{counter}_total{{transport=\"{transport}\"}}"
            ));
        }
    }
    series
}

/// `# TYPE` lines that are there whatever is on.
const COMMON_TYPES: &[&str] = &[
    "sentrypeer_events_received_total counter",
    "sentrypeer_events_dropped_total counter",
    "sentrypeer_events_stored_total counter",
    "sentrypeer_events_store_failed_total counter",
    "sentrypeer_store_batches_total counter",
    "sentrypeer_store_last_batch_seconds gauge",
    "sentrypeer_retention_deleted_total counter",
    "sentrypeer_aggregate_flushes_total counter",
    "sentrypeer_aggregate_rows_total counter",
    "sentrypeer_aggregate_flushes_failed_total counter",
    "sentrypeer_aggregate_rows_lost_total counter",
    "sentrypeer_aggregate_rows_refused_total counter",
    "sentrypeer_rollup_values_over_cap_total counter",
    "sentrypeer_store_batch_duration_seconds histogram",
    "sentrypeer_store_wal_bytes gauge",
    "sentrypeer_store_reads_total counter",
    "sentrypeer_store_reads_abandoned_total counter",
    "sentrypeer_store_reads_timed_out_total counter",
    "sentrypeer_store_reads_refused_total counter",
    "sentrypeer_api_connections_open gauge",
    "sentrypeer_api_connections_over_source_cap_total counter",
    "sentrypeer_api_slow_clients_cut_total counter",
    "sentrypeer_replies_sent_total counter",
    "sentrypeer_replies_rate_limited_total counter",
    "sentrypeer_replies_failed_total counter",
    "sentrypeer_replies_delayed_skipped_total counter",
    "sentrypeer_replies_withheld_total counter",
    "sentrypeer_replies_foreign_to_tag_total counter",
    "sentrypeer_replies_foreign_nonce_total counter",
    "sentrypeer_replies_by_status_total counter",
    "sentrypeer_events_messages_cut_total counter",
    "sentrypeer_requests_sent_total counter",
    "sentrypeer_connections_open gauge",
    "sentrypeer_connections_accepted_total counter",
    "sentrypeer_connections_over_source_cap_total counter",
    "sentrypeer_connections_message_timeouts_total counter",
    "sentrypeer_connections_idle_timeouts_total counter",
    "sentrypeer_connections_handshake_timeouts_total counter",
    "sentrypeer_api_requests_total counter",
    "sentrypeer_api_request_duration_seconds histogram",
    "sentrypeer_blocklist_ips gauge",
    "sentrypeer_blocklist_numbers gauge",
    "sentrypeer_blocklist_authors gauge",
    "sentrypeer_blocklist_subscribers gauge",
    "sentrypeer_blocklist_evicted_ips_total counter",
    "sentrypeer_blocklist_evicted_numbers_total counter",
    "sentrypeer_blocklist_expired_total counter",
    "sentrypeer_blocklist_flush_overflow_total counter",
    "sentrypeer_blocklist_authors_refused_total counter",
    "sentrypeer_blocklist_subscribers_dropped_total counter",
    "sentrypeer_stream_clients gauge",
    "sentrypeer_stream_events_published_total counter",
    "sentrypeer_stream_events_missed_total counter",
    "sentrypeer_stream_clients_dropped_total counter",
    "sentrypeer_stream_clients_refused_total counter",
];

/// Upper bounds of the latency histograms' buckets, in seconds.
const BUCKET_BOUNDS: &[&str] = &[
    "0.0001", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "+Inf",
];

/// Starts a daemon with `args` (API and JSON log on), stores one UDP probe, asks for the health
/// details once (so the API's own counters have a route), then reads both pages.
fn shapes(args: &[&str]) -> (BTreeSet<String>, Exposition) {
    let daemon = Daemon::builder()
        .args(["-a", "--api-listen-address", "127.0.0.1:0", "-j"])
        .args(args.iter().copied())
        .start();
    let client = udp_client();
    let probe = options("100", "UDP", "shape-test", "shape-1");
    client
        .send_to(probe.as_bytes(), daemon.udp.expect("UDP"))
        .expect("send probe");
    daemon.wait_for_stored(1);
    let api = daemon.api.expect("API");
    let health = health_leaves(api);
    (health, exposition(api))
}

#[test]
fn health_and_metrics_keep_their_shape_with_every_part_on() {
    let webhook = {
        // A port nothing listens on: deliveries fail, which changes values, not the shape.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!(
            "http://{}/api/events",
            listener.local_addr().expect("address")
        )
    };
    // Nothing listens there either: the bridge backs off, which changes values, not the shape.
    let opendht_proxy = webhook.replace("/api/events", "");
    let mut args = vec![
        "-r",
        "-p",
        "--p2p-listen-address",
        "127.0.0.1:0",
        "-w",
        &webhook,
        "--opendht-proxy",
        &opendht_proxy,
        "--opendht-publish",
        "--sip-agent-listen-address",
        "127.0.0.1:0",
    ];
    args.extend(BGP_ON);
    let (health, metrics) = shapes(&args);
    let (agent_health, agent_series, agent_types) = sip_agent_shape();

    let mut expected_health = plus(
        common_health(),
        [
            "events.kernel_dropped: number",
            "events.dropped_by_consumer.p2p: number",
            "events.dropped_by_consumer.webhook: number",
            "events.dropped_by_consumer.opendht: number",
            "opendht.proxy_up: number",
            "p2p.peer_id: string",
            "p2p.dropped_by_peer: empty object",
            "p2p.received_from_peers: number",
        ],
    );
    expected_health.extend(P2P_COUNTERS.map(|name| format!("p2p.{name}: number")));
    expected_health.extend(COMMUNITY_COUNTERS.map(|name| format!("community.{name}: number")));
    expected_health.push("community.nodes: number".to_owned());
    expected_health.extend(WEBHOOK_COUNTERS.map(|name| format!("webhook.{name}: number")));
    expected_health.extend(agent_health);
    expected_health.extend([
        "bgp.routes: number".to_owned(),
        "bgp.sessions: array".to_owned(),
    ]);
    expected_health.extend(BGP_COUNTERS.map(|name| format!("bgp.{name}: number")));
    expected_health.extend(OPENDHT_COUNTERS.map(|name| format!("opendht.{name}: number")));
    expected_health.extend(OPENDHT_REFUSALS.map(|name| format!("opendht.refused.{name}: number")));
    assert_same("health", &health, &expected_health);

    let mut expected_series = plus(
        common_series(),
        [
            "sentrypeer_events_dropped_total{consumer=\"p2p\"}",
            "sentrypeer_events_dropped_total{consumer=\"webhook\"}",
            "sentrypeer_events_dropped_total{consumer=\"opendht\"}",
            "sentrypeer_udp_kernel_dropped_total",
            "sentrypeer_opendht_proxy_up",
            "sentrypeer_community_nodes",
        ],
    );
    expected_series
        .extend(P2P_COUNTERS.map(|name| format!("sentrypeer_p2p_total{{counter=\"{name}\"}}")));
    expected_series.extend(
        COMMUNITY_COUNTERS
            .map(|name| format!("sentrypeer_community_summaries_total{{counter=\"{name}\"}}")),
    );
    expected_series.extend(WEBHOOK_COUNTERS.map(|name| format!("sentrypeer_webhook_{name}_total")));
    expected_series.push("sentrypeer_bgp_routes".to_owned());
    expected_series.extend(BGP_COUNTERS.map(|name| format!("sentrypeer_bgp_{name}_total")));
    let peer = "{peer=\"127.0.0.1\"}";
    expected_series.extend(BGP_SESSION_GAUGES.map(|name| format!("sentrypeer_bgp_{name}{peer}")));
    expected_series
        .extend(BGP_SESSION_COUNTERS.map(|name| format!("sentrypeer_bgp_{name}_total{peer}")));
    expected_series.extend(
        OPENDHT_COUNTERS.map(|name| format!("sentrypeer_opendht_total{{counter=\"{name}\"}}")),
    );
    expected_series.extend(
        OPENDHT_REFUSALS
            .map(|reason| format!("sentrypeer_opendht_refused_total{{reason=\"{reason}\"}}")),
    );
    expected_series.extend(agent_series);
    assert_same("metric series", &metrics.series, &expected_series);

    let mut expected_types = COMMON_TYPES.to_vec();
    expected_types.extend([
        "sentrypeer_udp_kernel_dropped_total counter",
        "sentrypeer_p2p_total counter",
        "sentrypeer_community_summaries_total counter",
        "sentrypeer_community_nodes gauge",
        "sentrypeer_webhook_delivered_total counter",
        "sentrypeer_webhook_failed_total counter",
        "sentrypeer_webhook_retries_total counter",
        "sentrypeer_webhook_skipped_total counter",
        "sentrypeer_webhook_token_requests_total counter",
        "sentrypeer_bgp_routes gauge",
        "sentrypeer_opendht_total counter",
        "sentrypeer_opendht_refused_total counter",
        "sentrypeer_opendht_proxy_up gauge",
    ]);
    let bgp_types = (BGP_COUNTERS.iter().chain(&BGP_SESSION_COUNTERS))
        .map(|name| format!("sentrypeer_bgp_{name}_total counter"))
        .chain(BGP_SESSION_GAUGES.map(|name| format!("sentrypeer_bgp_{name} gauge")));
    let mut expected_types: Vec<String> = expected_types.iter().map(|t| (*t).to_owned()).collect();
    expected_types.extend(bgp_types);
    expected_types.extend(agent_types);
    assert_same("metric types", &metrics.types, &expected_types);
    assert_same("bucket bounds", &metrics.bucket_bounds, BUCKET_BOUNDS);
}

#[test]
fn parts_that_are_off_are_null_in_health_and_absent_from_metrics() {
    // No P2P, no webhook; the UDP socket's kernel drops are watched (Linux tells them).
    let (health, metrics) = shapes(&["-N"]);
    let expected_health = plus(
        common_health(),
        [
            "events.kernel_dropped: number",
            "p2p: null",
            "community: null",
            "webhook: null",
            "bgp: null",
            "opendht: null",
            "sip_agent: null",
        ],
    );
    assert_same("health", &health, &expected_health);

    let expected_series = plus(common_series(), ["sentrypeer_udp_kernel_dropped_total"]);
    assert_same("metric series", &metrics.series, &expected_series);
    let mut expected_types = COMMON_TYPES.to_vec();
    expected_types.push("sentrypeer_udp_kernel_dropped_total counter");
    assert_same("metric types", &metrics.types, &expected_types);
}
