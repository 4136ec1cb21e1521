//! The web dashboard end to end in real headless Chromium: the daemon runs with only
//! `SENTRYPEER_WEB_GUI=1` (no `-a`) and a token; `support/browser/dashboard.py` (Selenium and
//! chromium-driver) signs in, compares the overview with `/api/v1/stats`, watches a UDP probe
//! arrive on the live page, searches for it, checks an XSS payload stays text, and saves a
//! screenshot of each page under `target/tmp/gui-screenshots/`. Beside it: the original's `/`
//! with and without the dashboard, and the peers page of a real sharing node: its table of
//! connected peers (and `/api/v1/peers`) as a peer comes and goes, rendered by Chromium too.

use std::path::PathBuf;
use std::process::Command;

use crate::support::daemon::Daemon;
use crate::support::http::curl;
use crate::support::p2p::{sharing_node, wait_for_peer, wait_for_subscriber};
use crate::support::prerequisites::{REQUIRE_BROWSER, browser_ready, ready};
use crate::support::sip::{options, udp_client, udp_exchange};

const TOKEN: &str = "dashboard-token";

#[test]
fn dashboard_in_headless_chromium() {
    if !browser_ready("the dashboard browser test") {
        return;
    }
    let daemon = Daemon::builder()
        .args([
            "-r",
            "--api-listen-address",
            "127.0.0.1:0",
            "--api-token",
            TOKEN,
        ])
        .env("SENTRYPEER_WEB_GUI", "1")
        .start();
    let api = daemon.api.expect("the GUI alone turns the API listener on");
    let udp = daemon.udp.expect("UDP listening");
    assert!(daemon.logged("serving the web dashboard"));
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gui-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let run = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/integration/support/browser/dashboard.py"
        ))
        .args([format!("http://{api}"), TOKEN.to_owned(), udp.to_string()])
        .arg(&shots)
        .env_remove("PYTHONPATH")
        .output()
        .expect("run the browser script");
    assert!(
        run.status.success(),
        "browser checks failed ({REQUIRE_BROWSER} to require them):\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!("dashboard: {}", String::from_utf8_lossy(&run.stdout).trim());
    for page in [
        "sign-in",
        "overview",
        "live",
        "detail",
        "detail-xss",
        "health",
    ] {
        let shot = shots.join(format!("{page}.png"));
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 10_000,
            "{page} screenshot missing or blank ({size} bytes)"
        );
    }
    daemon.stop();
}

#[test]
fn without_the_flag_there_is_no_dashboard_and_the_original_root_is_unchanged() {
    let daemon = Daemon::builder()
        .args(["-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let api = daemon.api.expect("API listening");
    assert_eq!(curl(api, "/ui/", &[]).status, 404);
    for accept in CLIENT_ACCEPTS.iter().chain([&BROWSER_ACCEPT]) {
        let root = curl(api, "/", &["-H", accept]);
        assert_eq!(
            (root.status, root.body.as_str()),
            (200, r#"{"status": "OK"}"#),
            "{accept}"
        );
    }
    daemon.stop();
}

/// The `Accept` headers of browsers, and of the original's clients (curl's `-H "Accept:"` sends
/// none).
const BROWSER_ACCEPT: &str =
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const CLIENT_ACCEPTS: [&str; 4] = [
    "Accept: application/json",
    "Accept: */*",
    "Accept:",
    "Accept: application/json, text/html;q=0.5",
];

#[test]
fn with_the_dashboard_a_browser_at_the_root_goes_to_it_and_clients_get_the_original_body() {
    let original = Daemon::builder()
        .args(["-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let gui = Daemon::builder()
        .args(["--web-gui", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let (original_api, gui_api) = (original.api.expect("API"), gui.api.expect("API"));
    for accept in CLIENT_ACCEPTS {
        let before = curl(original_api, "/", &["-H", accept]);
        let after = curl(gui_api, "/", &["-H", accept]);
        assert_eq!(
            (after.status, after.body.as_str()),
            (200, r#"{"status": "OK"}"#),
            "{accept}"
        );
        assert_eq!(
            (before.status, &before.body),
            (after.status, &after.body),
            "{accept}"
        );
        for name in [
            "content-type",
            "content-length",
            "access-control-allow-origin",
            "x-powered-by",
            "x-sentrypeer-version",
        ] {
            assert!(after.header(name).is_some(), "{accept}: {name}");
            assert_eq!(before.header(name), after.header(name), "{accept}: {name}");
        }
        assert_eq!(after.header("location"), None, "{accept}");
    }
    let browser = curl(gui_api, "/", &["-H", BROWSER_ACCEPT]);
    assert_eq!(browser.status, 303, "{}", browser.body);
    assert_eq!(browser.header("location"), Some("/ui/"));
    let head = curl(gui_api, "/", &["-I", "-H", BROWSER_ACCEPT]);
    assert_eq!(head.status, 303);
    original.stop();
    gui.stop();
}

#[test]
fn web_gui_serves_pages_with_a_content_security_policy() {
    let daemon = Daemon::builder()
        .args(["--web-gui", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let api = daemon.api.expect("--web-gui turns the API listener on");
    let page = curl(api, "/ui/", &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Overview"), "{}", page.body);
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    assert_eq!(curl(api, "/ui/assets/live.js", &[]).status, 200);
    daemon.stop();
}

#[test]
fn the_peers_page_shows_a_peer_that_shares_back() {
    let a = sharing_node(None, &["--web-gui"]).start();
    let newcomer = sharing_node(Some(&a.p2p_address()), &[]).start();
    wait_for_subscriber(&a, &newcomer);
    let udp = newcomer.udp.expect("UDP");
    udp_exchange(
        &udp_client(),
        udp,
        options("100", "UDP", "shared", "gui-peer").as_bytes(),
    );
    a.wait_for_logged("peer record accepted", 1);
    a.wait_for_stored(1);
    let page = curl(a.api.expect("API"), "/ui/peers", &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    let row = format!(
        r#"<tr class="shares-back" data-peer="{}">"#,
        newcomer.peer_id()
    );
    assert!(page.body.contains(&row), "{}", page.body);
    assert!(page.body.contains(&a.peer_id()), "this node's PeerId");
    for daemon in [newcomer, a] {
        daemon.stop().assert_clean_exit();
    }
}

/// The peers `/api/v1/peers` on `api` lists (with `extra` curl arguments).
fn connected_peers(api: std::net::SocketAddr, extra: &[&str]) -> Vec<serde_json::Value> {
    let answer = curl(api, "/api/v1/peers", extra);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let view: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON body");
    view["connected"].as_array().cloned().unwrap_or_default()
}

/// The DOM of `url` as headless Chromium rendered it; `None` (the test skips that part) without
/// `/usr/bin/chromium` ([`REQUIRE_BROWSER`] to require it).
fn rendered_by_chromium(url: &str) -> Option<String> {
    let chromium = "/usr/bin/chromium";
    let missing: Vec<String> = (!std::path::Path::new(chromium).exists())
        .then(|| chromium.to_owned())
        .into_iter()
        .collect();
    if !ready("the peers page in Chromium", REQUIRE_BROWSER, &missing) {
        return None;
    }
    let profile = tempfile::tempdir().expect("Chromium profile dir");
    let run = Command::new("timeout")
        .args([
            "60",
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()
        .expect("run chromium");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    Some(String::from_utf8_lossy(&run.stdout).into_owned())
}

#[test]
fn the_peers_api_and_page_list_connected_peers_until_they_leave() {
    const PEER_TOKEN: &str = "peer-token";
    let a = sharing_node(None, &["--web-gui"]).start();
    let b = sharing_node(Some(&a.p2p_address()), &["--api-token", PEER_TOKEN]).start();
    let (a_id, b_id) = (a.peer_id(), b.peer_id());
    wait_for_peer(&a, "peer connected", &b_id);
    wait_for_peer(&b, "peer connected", &a_id);
    let (a_api, b_api) = (a.api.expect("API"), b.api.expect("API"));
    let listed = connected_peers(a_api, &[]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["peer_id"], b_id.as_str());
    assert_eq!(listed[0]["direction"], "inbound", "b dialled a");
    assert!(
        (listed[0]["address"].as_str())
            .is_some_and(|address| address.starts_with("/ip4/127.0.0.1/")),
        "{listed:?}"
    );
    assert_eq!(
        curl(b_api, "/api/v1/peers", &[]).status,
        401,
        "behind the token"
    );
    let bearer = format!("Authorization: Bearer {PEER_TOKEN}");
    let listed = connected_peers(b_api, &["-H", &bearer]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["peer_id"], a_id.as_str());
    assert_eq!(listed[0]["direction"], "outbound", "b dialled a");
    let row =
        format!(r#"<tr class="shares-nothing" data-peer="{b_id}"><td class="value">{b_id}</td>"#);
    let page = curl(a_api, "/ui/peers", &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&row), "{}", page.body);
    if let Some(dom) = rendered_by_chromium(&format!("http://{a_api}/ui/peers")) {
        assert!(dom.contains(&row), "Chromium's DOM: {dom}");
    }
    b.stop().assert_clean_exit();
    wait_for_peer(&a, "peer disconnected", &b_id);
    assert_eq!(connected_peers(a_api, &[]), Vec::<serde_json::Value>::new());
    let page = curl(a_api, "/ui/peers", &[]);
    assert!(
        page.body.contains(r#"id="no-connected-peers""#),
        "{}",
        page.body
    );
    a.stop().assert_clean_exit();
}
