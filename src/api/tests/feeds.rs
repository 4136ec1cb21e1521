//! Blocklist feeds: plain text, `ipset restore` and `nft -f` formats, with filters, read from the
//! live blocklist through the feeds' policy (poisoning: special-purpose and never-listed
//! addresses, one untrusted peer).

use axum::http::StatusCode;

use super::{Fixture, event, get};
use crate::api::OAuthClients;
use crate::blocklist::{NeverList, VerdictOptions};
use crate::event::Transport;
use crate::event::test_support::EventBuilder;

fn fixture() -> Fixture {
    let fixture = Fixture::empty();
    fixture.insert(&[
        event("192.0.2.7", "0046812118532", "INVITE", "a", 7200),
        event("192.0.2.7", "100", "OPTIONS", "a", 10),
        event("2001:db8::7", "+441234567890", "INVITE", "b", 20),
        event("198.51.100.1", "NOT_FOUND", "OPTIONS", "c", 3 * 86_400),
    ]);
    fixture
}

/// A feed's lines, sorted (feeds list in no particular order).
fn lines(body: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = body.lines().collect();
    lines.sort_unstable();
    lines
}

#[tokio::test]
async fn text_feeds_list_one_entry_per_line_with_filters() {
    let seeded = fixture();
    let router = seeded.router();
    let ips = get(&router, "/api/v1/feeds/ips.txt").await;
    assert_eq!(ips.status, StatusCode::OK);
    assert_eq!(ips.header("content-type"), "text/plain; charset=utf-8");
    assert!(ips.body.ends_with('\n'));
    assert_eq!(
        lines(&ips.body),
        ["192.0.2.7", "198.51.100.1", "2001:db8::7"]
    );
    let body = |uri: &'static str| {
        let router = router.clone();
        async move { get(&router, uri).await.body }
    };
    assert_eq!(
        lines(&body("/api/v1/feeds/ips.txt?since=1d").await),
        ["192.0.2.7", "2001:db8::7"]
    );
    assert_eq!(
        body("/api/v1/feeds/ips.txt?min_seen_count=2").await,
        "192.0.2.7\n"
    );
    let numbers = body("/api/v1/feeds/numbers.txt").await;
    assert_eq!(lines(&numbers), ["+441234567890", "0046812118532", "100"]);
    assert_eq!(
        lines(&body("/api/v1/feeds/numbers.txt?since=1h").await),
        ["+441234567890", "100"]
    );
    let empty = get(
        &router,
        "/api/v1/feeds/ips.txt?since=2026-01-01T00:00:00Z&min_seen_count=99",
    )
    .await;
    assert_eq!((empty.status, empty.body.as_str()), (StatusCode::OK, ""));
    assert_eq!(
        get(&router, "/api/v1/feeds/ips.txt?transport=smoke")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn feeds_take_transport_and_origin() {
    let fixture = Fixture::empty();
    fixture.insert(&[
        event("192.0.2.7", "100", "OPTIONS", "a", 10),
        EventBuilder::new()
            .source_ip("192.0.2.8")
            .number("200")
            .transport(Transport::Tcp)
            .build(),
        EventBuilder::new()
            .source_ip("192.0.2.9")
            .number("300")
            .peer("12D3KooWPeerOne")
            .build(),
    ]);
    let router = fixture.router();
    let body = |uri: &'static str| {
        let router = router.clone();
        async move { get(&router, uri).await.body }
    };
    assert_eq!(
        body("/api/v1/feeds/ips.txt?transport=tcp").await,
        "192.0.2.8\n"
    );
    assert_eq!(
        body("/api/v1/feeds/ips.txt?transport=UDP").await,
        "192.0.2.7\n"
    );
    assert_eq!(
        body("/api/v1/feeds/numbers.txt?transport=TCP").await,
        "200\n"
    );
    assert!(
        !body("/api/v1/feeds/ipset?transport=TLS")
            .await
            .contains("add "),
        "nothing came over TLS"
    );
    assert_eq!(
        lines(&body("/api/v1/feeds/ips.txt?origin=local").await),
        ["192.0.2.7", "192.0.2.8"]
    );
    // One untrusted peer's record is no verdict (the quorum is two authors).
    assert_eq!(body("/api/v1/feeds/ips.txt?origin=peer").await, "");
    fixture.insert(&[EventBuilder::new()
        .source_ip("192.0.2.9")
        .number("300")
        .peer("12D3KooWPeerTwo")
        .build()]);
    assert_eq!(
        body("/api/v1/feeds/ips.txt?origin=peer").await,
        "192.0.2.9\n"
    );
    assert_eq!(body("/api/v1/feeds/numbers.txt?origin=peer").await, "300\n");
}

#[tokio::test]
async fn poisoned_addresses_never_reach_a_feed_or_a_decision() {
    let fixture = Fixture::empty();
    let poison = [
        "0.0.0.0",
        "255.255.255.255",
        "127.0.0.1",
        "::1",
        "10.0.0.1",
        "192.168.1.1",
        "8.8.8.8",
        "1.1.1.1",
    ];
    for author in ["12D3KooWPeerOne", "12D3KooWPeerTwo"] {
        let records: Vec<_> = poison
            .iter()
            .map(|ip| EventBuilder::new().source_ip(ip).peer(author).build())
            .collect();
        fixture.insert(&records);
        // Captured here too: special-purpose addresses are recorded, never verdicts.
        fixture.insert(&[event("10.0.0.1", "NOT_FOUND", "OPTIONS", "a", 0)]);
    }
    let verdicts = VerdictOptions {
        never: NeverList {
            networks: vec!["8.8.8.0/24".parse().expect("net")],
            numbers: Vec::new(),
        },
        ..VerdictOptions::default()
    };
    let router = fixture.router_with_verdicts(None, vec!["k"], &verdicts, OAuthClients::none());
    assert_eq!(
        get(&router, "/api/v1/feeds/ips.txt").await.body,
        "1.1.1.1\n"
    );
    let ipset = get(&router, "/api/v1/feeds/ipset").await.body;
    let nft = get(&router, "/api/v1/feeds/nftables").await.body;
    let decisions = super::send(
        &router,
        axum::http::Request::get("/v1/decisions/stream?startup=true")
            .header("x-api-key", "k")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await
    .body;
    for ip in &poison[..7] {
        for (name, body) in [
            ("ipset", &ipset),
            ("nftables", &nft),
            ("crowdsec", &decisions),
        ] {
            let listed = body
                .split(|c: char| c.is_whitespace() || c == ',' || c == '"')
                .any(|word| word == *ip);
            assert!(!listed, "{ip} in {name}:\n{body}");
        }
    }
    assert!(
        ipset.contains("add sentrypeer-v4-new 1.1.1.1 -exist"),
        "{ipset}"
    );
    assert!(decisions.contains("\"value\": \"1.1.1.1\""), "{decisions}");
}

#[tokio::test]
async fn a_trusted_peer_counts_alone() {
    let fixture = Fixture::empty();
    fixture.insert(&[EventBuilder::new()
        .source_ip("1.1.1.1")
        .peer("12D3KooWTrusted")
        .build()]);
    let untrusted = fixture.router_with_verdicts(
        None,
        Vec::new(),
        &VerdictOptions::default(),
        OAuthClients::none(),
    );
    assert_eq!(get(&untrusted, "/api/v1/feeds/ips.txt").await.body, "");
    let verdicts = VerdictOptions {
        trusted_authors: vec!["12D3KooWTrusted".to_owned()],
        ..VerdictOptions::default()
    };
    let trusting = fixture.router_with_verdicts(None, Vec::new(), &verdicts, OAuthClients::none());
    assert_eq!(
        get(&trusting, "/api/v1/feeds/ips.txt").await.body,
        "1.1.1.1\n"
    );
}

#[tokio::test]
async fn ipset_feed_replaces_both_families_atomically() {
    let seeded = fixture();
    let router = seeded.router();
    for uri in [
        "/api/v1/feeds/ipset?since=1d",
        "/ip-addresses/ipset?since=1d",
    ] {
        let feed = get(&router, uri).await;
        assert_eq!(feed.status, StatusCode::OK, "{uri}");
        let lines: Vec<&str> = feed.body.lines().collect();
        assert!(lines.contains(&"create sentrypeer-v4 hash:ip family inet maxelem 1048576 -exist"));
        assert!(
            lines.contains(&"create sentrypeer-v6-new hash:ip family inet6 maxelem 1048576 -exist")
        );
        assert!(lines.contains(&"add sentrypeer-v4-new 192.0.2.7 -exist"));
        assert!(lines.contains(&"add sentrypeer-v6-new 2001:db8::7 -exist"));
        assert!(!feed.body.contains("198.51.100.1"), "since filter applies");
        assert_eq!(
            lines[lines.len() - 4..],
            [
                "swap sentrypeer-v4-new sentrypeer-v4",
                "destroy sentrypeer-v4-new",
                "swap sentrypeer-v6-new sentrypeer-v6",
                "destroy sentrypeer-v6-new"
            ]
        );
    }
    let named = get(&router, "/api/v1/feeds/ipset?set=voip").await;
    assert!(named.body.contains("add voip-v4-new 192.0.2.7"));
}

#[tokio::test]
async fn nftables_feed_declares_sets_and_replaces_their_elements() {
    let seeded = fixture();
    let router = seeded.router();
    let feed = get(&router, "/api/v1/feeds/nftables").await;
    assert_eq!(feed.status, StatusCode::OK);
    assert!(
        feed.body.starts_with(
            "table inet sentrypeer {\n\tset sentrypeer_v4 {\n\t\ttype ipv4_addr\n\t}\n"
        )
    );
    assert!(feed.body.contains(
        "flush set inet sentrypeer sentrypeer_v4\nflush set inet sentrypeer sentrypeer_v6\n"
    ));
    let v4 = ["192.0.2.7, 198.51.100.1", "198.51.100.1, 192.0.2.7"]
        .map(|elements| format!("add element inet sentrypeer sentrypeer_v4 {{ {elements} }}\n"));
    assert!(
        v4.iter()
            .any(|statement| feed.body.contains(statement.as_str())),
        "{}",
        feed.body
    );
    assert!(
        feed.body
            .contains("add element inet sentrypeer sentrypeer_v6 { 2001:db8::7 }\n")
    );
    let none = get(&router, "/api/v1/feeds/nftables?min_seen_count=50").await;
    assert!(!none.body.contains("add element"), "no empty element lists");
}
