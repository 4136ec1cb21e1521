//! Blocklist feeds: plain text, `ipset restore` and `nft -f` formats, with filters.

use axum::http::StatusCode;

use super::{Fixture, event, get};

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

#[tokio::test]
async fn text_feeds_list_one_entry_per_line_with_filters() {
    let seeded = fixture();
    let router = seeded.router();
    let ips = get(&router, "/api/v1/feeds/ips.txt").await;
    assert_eq!(ips.status, StatusCode::OK);
    assert_eq!(ips.header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(ips.body, "192.0.2.7\n2001:db8::7\n198.51.100.1\n");
    assert_eq!(
        get(&router, "/api/v1/feeds/ips.txt?since=1d").await.body,
        "192.0.2.7\n2001:db8::7\n"
    );
    assert_eq!(
        get(&router, "/api/v1/feeds/ips.txt?min_seen_count=2")
            .await
            .body,
        "192.0.2.7\n"
    );
    let numbers = get(&router, "/api/v1/feeds/numbers.txt").await;
    assert_eq!(numbers.body, "100\n+441234567890\n0046812118532\n");
    assert_eq!(
        get(&router, "/api/v1/feeds/numbers.txt?since=1h")
            .await
            .body,
        "100\n+441234567890\n"
    );
    let empty = get(
        &router,
        "/api/v1/feeds/ips.txt?since=2026-01-01T00:00:00Z&min_seen_count=99",
    )
    .await;
    assert_eq!((empty.status, empty.body.as_str()), (StatusCode::OK, ""));
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
    assert!(
        feed.body
            .contains("add element inet sentrypeer sentrypeer_v4 { 192.0.2.7, 198.51.100.1 }\n")
    );
    assert!(
        feed.body
            .contains("add element inet sentrypeer sentrypeer_v6 { 2001:db8::7 }\n")
    );
    let none = get(&router, "/api/v1/feeds/nftables?min_seen_count=50").await;
    assert!(!none.body.contains("add element"), "no empty element lists");
}
