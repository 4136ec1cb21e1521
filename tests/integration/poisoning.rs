//! A hostile peer cannot aim the blocklist: its signed records for special-purpose addresses and
//! for an address on the never-list reach no feed, no CrowdSec decision and no policy-filtered
//! decision on `/api/v1/stream`; one untrusted peer's record for an ordinary address stays out
//! until a second peer reports it, or at once when the operator trusts that peer.

use libp2p::identity::Keypair;

use crate::support::daemon::Daemon;
use crate::support::http::curl;
use crate::support::p2p::{
    accepted, node, publish_until, raw_peer_of, raw_peer_with_key, signed_invite_from,
};
use crate::support::sse::{SseClient, of_kind};

/// Special-purpose addresses (unspecified, broadcast, loopback, private) and one on the
/// never-list (`--verdict-never 8.8.8.0/24`).
const POISON: [&str; 7] = [
    "0.0.0.0",
    "255.255.255.255",
    "127.0.0.1",
    "::1",
    "10.0.0.1",
    "192.168.1.1",
    "8.8.8.8",
];
/// An ordinary address.
const ORDINARY: &str = "1.1.1.1";

/// Everything a firewall or bouncer could load from `node`: the three IP feeds and the CrowdSec
/// start-up list, as (name, body).
fn everything_listed(node: &Daemon) -> Vec<(&'static str, String)> {
    let api = node.api.expect("API");
    let fetch = |path: &str, extra: &[&str]| {
        let answer = curl(api, path, extra);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        answer.body
    };
    vec![
        ("ips.txt", fetch("/api/v1/feeds/ips.txt", &[])),
        ("ipset", fetch("/api/v1/feeds/ipset", &[])),
        ("nftables", fetch("/api/v1/feeds/nftables", &[])),
        (
            "crowdsec",
            fetch("/v1/decisions/stream?startup=true", &["-H", "X-Api-Key: k"]),
        ),
    ]
}

/// Whether `ip` is a whole word of `body` (an address, not part of one).
fn lists(body: &str, ip: &str) -> bool {
    body.split(|c: char| c.is_whitespace() || matches!(c, ',' | '"' | '{' | '}'))
        .any(|word| word == ip)
}

fn records(key: &Keypair) -> Vec<String> {
    POISON
        .iter()
        .chain([&ORDINARY])
        .map(|ip| signed_invite_from(ip, key))
        .collect()
}

#[tokio::test]
async fn one_untrusted_peer_cannot_list_an_address_and_none_can_list_special_ones() {
    let a = node(
        None,
        &["--crowdsec-api-key", "k", "--verdict-never", "8.8.8.0/24"],
    );
    let api = a.api.expect("API");
    let mut verdicts = SseClient::open(api, "/api/v1/stream?kind=decision&policy=crowdsec", &[]);
    verdicts.opening();
    let (key_one, mut one, topic) = raw_peer_of(&a).await;
    let all = records(&key_one).len() as u64;
    assert!(
        publish_until(&mut one, &topic, records(&key_one), || accepted(&a) >= all).await,
        "the first peer's records were accepted"
    );
    // Recorded as usual: the database has them.
    assert_eq!(curl(api, "/ip-addresses/10.0.0.1", &[]).status, 200);
    for (name, body) in everything_listed(&a) {
        for ip in POISON.iter().chain([&ORDINARY]) {
            assert!(
                !lists(&body, ip),
                "{ip} listed by {name} after one peer:\n{body}"
            );
        }
    }

    let (key_two, mut two, topic) = raw_peer_of(&a).await;
    assert!(
        publish_until(&mut two, &topic, records(&key_two), || accepted(&a)
            >= 2 * all)
        .await,
        "the second peer's records were accepted"
    );
    for (name, body) in everything_listed(&a) {
        assert!(lists(&body, ORDINARY), "{ORDINARY} not in {name}:\n{body}");
        for ip in POISON {
            assert!(
                !lists(&body, ip),
                "{ip} listed by {name} after two peers:\n{body}"
            );
        }
    }
    let messages = verdicts.read_until("the ordinary address's decision", |messages| {
        of_kind(messages, "decision")
            .iter()
            .any(|decision| decision.data["key"] == ORDINARY)
    });
    for decision in of_kind(&messages, "decision") {
        let key = decision.data["key"].as_str().unwrap_or_default();
        assert!(
            !POISON.contains(&key),
            "{key} passed the CrowdSec policy: {decision:?}"
        );
    }
    drop((one, two));
    a.stop().assert_clean_exit();
}

#[tokio::test]
async fn a_trusted_peer_lists_an_ordinary_address_alone() {
    let key = Keypair::generate_ed25519();
    let peer_id = key.public().to_peer_id().to_base58();
    let a = node(None, &["--p2p-trust", &peer_id]);
    let (mut swarm, topic) = raw_peer_with_key(&a, &key).await;
    let records = vec![
        signed_invite_from("9.9.9.9", &key),
        signed_invite_from("10.0.0.1", &key),
    ];
    assert!(
        publish_until(&mut swarm, &topic, records, || accepted(&a) >= 2).await,
        "the trusted peer's records were accepted"
    );
    let feed = curl(a.api.expect("API"), "/api/v1/feeds/ips.txt", &[]).body;
    assert_eq!(
        feed, "9.9.9.9\n",
        "trusted, yet never a special-purpose address"
    );
    drop(swarm);
    a.stop().assert_clean_exit();
}
