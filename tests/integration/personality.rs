//! Responsive-mode personalities against real attack and test tools on loopback: SIPVicious
//! `svmap`/`svwar`/`svcrack`, `sipsak`; raw sockets for the canned reply; how a personality is
//! chosen. Calls (SIPp, CANCEL, replies sent later) are in `calls.rs`.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::sip::{options, udp_client, udp_exchange};
use crate::support::sip_tools::{free_udp_port, run, svmap, text, tool};

/// The `| extension | status |` rows of an svwar/svcrack result table.
fn table_rows(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            match cells.as_slice() {
                [first, second] if first.chars().all(|c| c.is_ascii_digit()) => {
                    Some(((*first).to_owned(), (*second).to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn svmap_shows_the_server_string_of_each_personality() {
    for (name, server) in [
        ("freepbx", "FPBX-16.0.33(18.13.0)"),
        ("generic", "FreeSWITCH-mod_sofia/1.10.9-release~64bit"),
    ] {
        let daemon = Daemon::builder()
            .args(["-r", "-N", "--sip-personality", name])
            .start();
        let udp = daemon.udp.expect("UDP listening");
        let scan = svmap(udp, daemon.dir());
        let stdout = String::from_utf8_lossy(&scan.stdout);
        assert!(
            stdout.contains(&format!("127.0.0.1:{}", udp.port())) && stdout.contains(server),
            "{name}: {}",
            text(&scan)
        );
        daemon.wait_for_probes(1);
        daemon.stop().assert_clean_exit();
    }
}

#[test]
fn svwar_lists_exactly_the_plan_extensions_as_requiring_auth() {
    let daemon = Daemon::builder().args(["-r", "-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let mut svwar = tool("svwar");
    svwar.args([
        "-e95-115",
        "-p",
        &udp.port().to_string(),
        "-P",
        &free_udp_port().to_string(),
        "127.0.0.1",
    ]);
    let output = run(svwar, daemon.dir());
    let rows = table_rows(&String::from_utf8_lossy(&output.stdout));
    let expected: Vec<(String, String)> = (100..=115)
        .map(|extension| (extension.to_string(), "reqauth".to_owned()))
        .collect();
    let mut found = rows.clone();
    found.sort();
    assert_eq!(found, expected, "{}", text(&output));
    // The random "bad user" probe plus 21 extensions.
    daemon.wait_for_probes(22);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let registers: i64 = stopped
        .db()
        .query_row(
            "SELECT count(*) FROM honey WHERE method = 'REGISTER' AND user_agent = 'friendly-scanner'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert!(registers >= 22, "every REGISTER recorded: {registers}");
}

#[test]
fn svcrack_cracks_an_extension_after_the_configured_attempts() {
    let daemon = Daemon::builder().args(["-r", "-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let mut svcrack = tool("svcrack");
    svcrack.args([
        "-u",
        "105",
        "-r",
        "1-20",
        "-p",
        &udp.port().to_string(),
        "-P",
        &free_udp_port().to_string(),
        "127.0.0.1",
    ]);
    let output = run(svcrack, daemon.dir());
    let rows = table_rows(&String::from_utf8_lossy(&output.stdout));
    let [(extension, password)] = rows.as_slice() else {
        panic!("one cracked extension expected:\n{}", text(&output));
    };
    assert_eq!(extension, "105");
    let candidates: Vec<String> = std::iter::once("105".to_owned())
        .chain((1..=20).map(|n: u32| n.to_string()))
        .collect();
    assert!(candidates.contains(password), "{password}");
    daemon.wait_for_logged("probe recorded", 4);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let authorized: i64 = stopped
        .db()
        .query_row(
            "SELECT count(*) FROM honey WHERE method = 'REGISTER' AND sip_message LIKE '%Authorization: Digest%'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(
        authorized, 3,
        "the default auth_attempts: two 403s, then the 200"
    );
}

#[test]
fn sipsak_options_and_register_pass_sipsaks_own_checks() {
    let daemon = Daemon::with_personality("auth_attempts = 1", &[]);
    let udp = daemon.udp.expect("UDP listening");
    let target = format!("sip:110@127.0.0.1:{}", udp.port());
    let mut options = tool("sipsak");
    options.args(["-s", &target]);
    let output = run(options, daemon.dir());
    assert!(output.status.success(), "OPTIONS: {}", text(&output));
    let mut register = tool("sipsak");
    register.args(["-U", "-i", "-s", &target, "-a", "secret", "-vvv"]);
    let output = run(register, daemon.dir());
    assert!(output.status.success(), "REGISTER: {}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("401 Unauthorized"),
        "challenged first: {}",
        text(&output)
    );
    daemon.wait_for_probes(3);
    daemon.stop().assert_clean_exit();
}

#[test]
fn canned_sends_the_originals_bytes_but_never_over_a_smaller_udp_request() {
    let daemon = Daemon::builder()
        .args(["-r", "-N", "--sip-personality", "canned"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let tcp = daemon.tcp.expect("TCP listening");
    let client = udp_client();
    let small = options("100", "UDP", "small", "canned-small");
    assert!(small.len() < 729);
    client.send_to(small.as_bytes(), udp).expect("send");
    let big = options("100", "UDP", &"b".repeat(500), "canned-big");
    assert!(big.len() >= 729);
    // Loopback keeps order: had the small probe been answered, its reply would come first.
    let reply = udp_exchange(&client, udp, big.as_bytes());
    assert_eq!(reply, sentrypeer::sip::CANNED_REPLY);
    assert_eq!(reply.len(), 729);
    let mut stream = TcpStream::connect(tcp).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(small.as_bytes()).expect("write");
    let mut received = vec![0u8; 729];
    stream
        .read_exact(&mut received)
        .expect("729 bytes over TCP");
    assert_eq!(received, sentrypeer::sip::CANNED_REPLY);
    daemon.wait_for_probes(3);
    daemon.stop().assert_clean_exit();
}

#[test]
fn unknown_personality_is_a_clear_start_up_error() {
    let daemon = Daemon::builder()
        .args(["-r", "--sip-personality", "asterisk"])
        .start();
    let stopped = daemon.wait_exit();
    assert_eq!(stopped.status.code(), Some(2));
    assert!(
        stopped.log.iter().any(|line| line
            .contains("unknown personality \"asterisk\"; known: freepbx, generic, canned")),
        "{:?}",
        stopped.log
    );
}

#[test]
fn personality_from_the_environment_variable() {
    let daemon = Daemon::builder()
        .env("SENTRYPEER_SIP_PERSONALITY", "generic")
        .args(["-r", "-N"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    // Room in the request for the Server header (UDP replies never outgrow their request).
    let probe = options("100", "UDP", &"env-test ".repeat(12), "env-p");
    let reply = udp_exchange(&udp_client(), udp, probe.as_bytes());
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.contains("\r\nServer: FreeSWITCH-mod_sofia/"),
        "{reply}"
    );
    daemon.wait_for_probes(1);
    daemon.stop().assert_clean_exit();
}
