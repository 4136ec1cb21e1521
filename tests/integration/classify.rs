//! Attack types end to end: probes of each kind from their own loopback addresses, and real
//! SIPVicious `svmap`, `svwar` and `svcrack` runs, classified by the real daemon and seen in the
//! JSON log, the database and the API.

use std::process::{Child, Stdio};

use sentrypeer::event::ORIGINAL_JSON_KEYS;

use crate::support::daemon::Daemon;
use crate::support::http::{curl, get_json};
use crate::support::sip::{options, send_from};
use crate::support::sip_tools::{free_udp_port, tool};

const SVWAR_REGISTER: &[u8] = include_bytes!("../fixtures/sip/svwar_register.sip");
const SVCRACK_REGISTER: &[u8] = include_bytes!("../fixtures/sip/svcrack_register_digest.sip");

const INVITE: &str = "INVITE sip:0046812118532@127.0.0.1 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.5:5062;branch=z9hG4bK-call-1;rport\r\n\
    Max-Forwards: 70\r\n\
    From: \"Reception\" <sip:201@127.0.0.1>;tag=call-1\r\n\
    To: <sip:0046812118532@127.0.0.1>\r\n\
    Call-ID: call-1@127.0.0.5\r\n\
    CSeq: 1 INVITE\r\n\
    Contact: <sip:201@127.0.0.5:5062>\r\n\
    P-Asserted-Identity: \"CEO\" <sip:+442071234567@127.0.0.1>\r\n\
    User-Agent: classify-test\r\n\
    Content-Length: 0\r\n\r\n";

/// A stored event: source IP, attack type, username tried, `From` user, `P-Asserted-Identity`.
type StoredEvent = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A stored tool probe: method, attack type, username tried, `From` user, whether it is
/// svcrack's (`To` user 105).
type ToolEvent = (String, String, Option<String>, Option<String>, bool);

#[test]
fn each_kind_of_probe_is_classified_in_the_json_log_the_database_and_the_api() {
    let daemon = Daemon::builder()
        .args(["-N", "-j", "-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let api = daemon.api.expect("API listening");
    let scan = options("100", "UDP", "classify-scan", "scan-1");
    let probes: [(&str, &[u8]); 5] = [
        ("127.0.0.2", SVWAR_REGISTER),
        ("127.0.0.3", SVCRACK_REGISTER),
        ("127.0.0.4", scan.as_bytes()),
        ("127.0.0.5", INVITE.as_bytes()),
        ("127.0.0.6", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1garbage"),
    ];
    for (from, message) in probes {
        send_from(from, udp, message);
    }
    daemon.wait_for_probes(probes.len());
    daemon.wait_for_stored(5);

    let cracking = get_json(api, "/api/v1/events?attack_type=password_cracking");
    let events = cracking["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{cracking}");
    assert_eq!(events[0]["source_ip"], "127.0.0.3");
    assert_eq!(events[0]["auth_username"], "100");
    assert_eq!(events[0]["auth_realm"], "asterisk");
    assert_eq!(
        events[0]["auth_response"],
        "321dcfbd02c4763dba804cf7dbfef882"
    );
    let calls = get_json(api, "/api/v1/events?attack_type=call_attempt");
    assert_eq!(
        calls["events"][0]["p_asserted_identity"],
        "\"CEO\" <sip:+442071234567@127.0.0.1>"
    );
    let bad = curl(api, "/api/v1/events?attack_type=toll_fraud", &[]);
    assert_eq!(bad.status, 400);
    let bad: serde_json::Value = serde_json::from_str(&bad.body).expect("JSON error");
    assert_eq!(bad["parameter"], "attack_type");

    let stats = get_json(api, "/api/v1/stats");
    for attack_type in [
        "extension_enumeration",
        "password_cracking",
        "scan",
        "call_attempt",
        "malformed",
    ] {
        let counted = |list: &str| {
            stats[list]
                .as_array()
                .expect("counts")
                .iter()
                .any(|entry| entry["value"] == attack_type && entry["count"] == 1)
        };
        assert!(counted("by_attack_type"), "{attack_type}: {stats}");
        assert!(
            counted("ip_addresses_by_attack_type"),
            "{attack_type}: {stats}"
        );
    }
    for (attack_type, ip) in [
        ("extension_enumeration", "127.0.0.2"),
        ("password_cracking", "127.0.0.3"),
        ("scan", "127.0.0.4"),
        ("call_attempt", "127.0.0.5"),
        ("malformed", "127.0.0.6"),
    ] {
        let listing = get_json(
            api,
            &format!("/api/v1/ip-addresses?attack_type={attack_type}"),
        );
        let items = listing["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{attack_type}: {listing}");
        assert_eq!(items[0]["ip_address"], ip);
        assert_eq!(items[0]["attack_types"], serde_json::json!([attack_type]));
        let one = get_json(api, &format!("/api/v1/ip-addresses/{ip}"));
        assert_eq!(one["attack_types"], serde_json::json!([attack_type]));
    }

    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let raw = std::fs::read_to_string(stopped.path("sentrypeer_json.log")).expect("JSON log");
    let mut by_source = std::collections::HashMap::new();
    for line in raw.lines() {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).expect("JSON object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(
            keys[..13],
            ORIGINAL_JSON_KEYS,
            "the original 13 first, in order: {line}"
        );
        assert_eq!(keys[13], "attack_type", "{line}");
        assert!(object.values().all(serde_json::Value::is_string), "{line}");
        let source = object["source_ip"].as_str().expect("source").to_owned();
        let ip = source.split(':').next().unwrap_or_default().to_owned();
        by_source.insert(ip, object);
    }
    assert_eq!(by_source.len(), 5);
    let keys_after_13 =
        |ip: &str| -> Vec<String> { by_source[ip].keys().skip(13).cloned().collect() };
    assert_eq!(
        keys_after_13("127.0.0.3"),
        [
            "attack_type",
            "auth_scheme",
            "auth_username",
            "auth_realm",
            "auth_nonce",
            "auth_uri",
            "auth_response",
            "auth_algorithm",
            "auth_qop",
            "from_user",
            "contact"
        ]
    );
    assert_eq!(
        keys_after_13("127.0.0.5"),
        ["attack_type", "from_user", "contact", "p_asserted_identity"]
    );
    assert_eq!(keys_after_13("127.0.0.6"), ["attack_type"]);
    assert_eq!(by_source["127.0.0.5"]["from_user"], "201");
    assert_eq!(
        by_source["127.0.0.5"]["contact"],
        "<sip:201@127.0.0.5:5062>"
    );
    assert_eq!(
        by_source["127.0.0.2"]["attack_type"],
        "extension_enumeration"
    );

    let rows: Vec<StoredEvent> = stopped.rows(
        "SELECT source_ip, attack_type, auth_username, from_user, p_asserted_identity
             FROM honey ORDER BY source_ip",
        |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        },
    );
    let owned = |value: Option<&str>| value.map(str::to_owned);
    assert_eq!(
        rows,
        [
            (
                "127.0.0.2".to_owned(),
                "extension_enumeration".to_owned(),
                None,
                owned(Some("100")),
                None
            ),
            (
                "127.0.0.3".to_owned(),
                "password_cracking".to_owned(),
                owned(Some("100")),
                owned(Some("100")),
                None
            ),
            (
                "127.0.0.4".to_owned(),
                "scan".to_owned(),
                None,
                owned(Some("tester")),
                None
            ),
            (
                "127.0.0.5".to_owned(),
                "call_attempt".to_owned(),
                None,
                owned(Some("201")),
                owned(Some("\"CEO\" <sip:+442071234567@127.0.0.1>"))
            ),
            (
                "127.0.0.6".to_owned(),
                "malformed".to_owned(),
                None,
                None,
                None
            ),
        ]
    );
    let bits: Vec<(String, i64)> = stopped.rows(
        "SELECT source_ip, attack_types FROM ip_addresses ORDER BY source_ip",
        |row| Ok((row.get(0)?, row.get(1)?)),
    );
    let bits: Vec<i64> = bits.into_iter().map(|(_, bits)| bits).collect();
    assert_eq!(bits, [2, 4, 1, 8, 16]);
}

/// Starts a SIPVicious tool with `args` in `dir`, output captured.
fn start_tool(name: &str, args: &[String], dir: &std::path::Path) -> Child {
    let mut command = tool(name);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("start tool")
}

/// Waits for a tool started by [`start_tool`] and asserts it succeeded.
fn finish_tool(name: &str, child: Child) -> String {
    let output = child.wait_with_output().expect("tool output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{name}: {text}");
    text
}

#[test]
fn sipvicious_scans_are_classified_with_the_usernames_they_tried() {
    // The default personality answers each tool as a PBX would: svmap gets its 200, svwar its
    // 401s for extensions of the plan, svcrack 403s and then the "cracked" 200.
    let daemon = Daemon::builder().args(["-r", "-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let target = || -> Vec<String> {
        vec![
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            udp.port().to_string(),
            "-P".to_owned(),
            free_udp_port().to_string(),
        ]
    };
    // The three run at once (each waits out its own reply timeout at the end); svcrack works on
    // an extension svwar does not try, so each REGISTER's tool is known by its `To` user.
    let svmap = start_tool("svmap", &target(), daemon.dir());
    let mut svwar_args = target();
    svwar_args.extend(["-e100-102", "-t", "0.2"].map(str::to_owned));
    let svwar = start_tool("svwar", &svwar_args, daemon.dir());
    let mut svcrack_args = target();
    svcrack_args.extend(["-u", "105", "-r", "1000-1009", "-t", "0.2"].map(str::to_owned));
    let svcrack = start_tool("svcrack", &svcrack_args, daemon.dir());
    finish_tool("svmap", svmap);
    let enumerated = finish_tool("svwar", svwar);
    let cracked = finish_tool("svcrack", svcrack);
    for extension in ["100", "101", "102"] {
        assert!(
            enumerated
                .lines()
                .any(|line| line.contains(&format!("| {extension} ")) && line.contains("reqauth")),
            "svwar found {extension}: {enumerated}"
        );
    }
    // svcrack tries the username itself first, then the range: with the default three
    // attempts, the third guess (1001) is the one that "works".
    assert!(
        cracked
            .lines()
            .any(|line| line.contains("| 105 ") && line.contains("| 1001 ")),
        "svcrack took the 200 as the cracked password: {cracked}"
    );

    // svmap's OPTIONS, svwar's 4 REGISTERs (a random extension, then 100-102), and for each of
    // svcrack's three guesses a REGISTER without credentials (challenged) and one with them.
    daemon.wait_for_probes(1 + 4 + 6);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let rows: Vec<ToolEvent> = stopped.rows(
        "SELECT method, attack_type, auth_username, from_user, called_number = '105'
         FROM honey ORDER BY honey_id",
        |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        },
    );
    let scans: Vec<_> = rows.iter().filter(|row| row.0 == "OPTIONS").collect();
    assert!(
        !scans.is_empty() && scans.iter().all(|row| row.1 == "scan"),
        "{rows:?}"
    );

    let (cracking, enumerating): (Vec<_>, Vec<_>) = rows
        .iter()
        .filter(|row| row.0 == "REGISTER")
        .partition(|row| row.4);
    assert!(
        enumerating
            .iter()
            .all(|row| row.1 == "extension_enumeration" && row.2.is_none()),
        "{enumerating:?}"
    );
    let tried: Vec<&str> = enumerating
        .iter()
        .filter_map(|row| row.3.as_deref())
        .collect();
    for extension in ["100", "101", "102"] {
        assert!(
            tried.contains(&extension),
            "svwar tried {extension}: {tried:?}"
        );
    }

    assert_eq!(cracking.len(), 6, "{cracking:?}");
    for pair in cracking.chunks(2) {
        assert_eq!(
            pair[0].1, "extension_enumeration",
            "each guess starts with a REGISTER without credentials: {cracking:?}"
        );
        assert!(
            pair[1].1 == "password_cracking" && pair[1].2.as_deref() == Some("105"),
            "then answers the challenge with them: {cracking:?}"
        );
    }
    let challenges: Vec<(String, String)> = stopped.rows(
        "SELECT auth_realm, auth_nonce FROM honey WHERE attack_type = 'password_cracking'
         ORDER BY honey_id",
        |row| Ok((row.get(0)?, row.get(1)?)),
    );
    assert_eq!(challenges.len(), 3, "{challenges:?}");
    assert!(
        challenges
            .iter()
            .all(|(realm, nonce)| realm == "asterisk" && !nonce.is_empty()),
        "each guess answers the personality's challenge: {challenges:?}"
    );
}
