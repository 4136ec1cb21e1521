//! The command line: version, help, usage errors and configuration errors as one clear line.

use std::process::Command;

use crate::support::daemon::{BINARY, Daemon};
use crate::support::sip::{options, udp_client, udp_exchange};

fn sentrypeer(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("temp home");
    Command::new(BINARY)
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .output()
        .expect("run sentrypeer")
}

#[test]
fn version_and_help() {
    let version = sentrypeer(&["-V"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("sentrypeer {}", env!("CARGO_PKG_VERSION"))
    );
    let help = sentrypeer(&["-h"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Protect your SIP Servers"), "{text}");
    for flag in [
        "-f", "-j", "-l", "-p", "-b", "-i", "-c", "-a", "-w", "-r", "-R", "-N", "-t", "-k", "-z",
        "-g", "-s", "-v", "-d",
    ] {
        assert!(
            text.contains(&format!("{flag},")) || text.contains(&format!("{flag} ")),
            "{flag} missing from help"
        );
    }
}

#[test]
fn unknown_argument_is_a_usage_error() {
    let output = sentrypeer(&["--does-not-exist"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--does-not-exist"));
}

#[test]
fn bad_config_values_exit_non_zero_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad_key = dir.path().join("bad.toml");
    std::fs::write(&bad_key, "cert = \"c.pem\"\nno_such_option = true\n").expect("write");
    let output = sentrypeer(&["-g", bad_key.to_str().expect("path")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no_such_option") && stderr.contains("line 2"),
        "{stderr}"
    );

    let output = sentrypeer(&["--sip-listen-address", "not-an-address"]);
    assert_eq!(output.status.code(), Some(2));

    let missing = sentrypeer(&[
        "-g",
        dir.path().join("missing.toml").to_str().expect("path"),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("missing.toml"));
}

#[test]
fn unreadable_certificate_exits_non_zero_naming_the_file() {
    let builder = Daemon::builder();
    std::fs::write(builder.dir().join("cert.pem"), "garbage").expect("write cert");
    std::fs::write(builder.dir().join("key.pem"), "garbage").expect("write key");
    let stopped = builder.start().wait_exit();
    assert!(!stopped.status.success());
    let error = stopped.the_error_line();
    assert!(error.contains("cert.pem"), "{error}");
    assert!(
        !stopped.path("sentrypeer.db").exists(),
        "nothing opened before the check"
    );
}

#[test]
fn an_address_in_use_exits_non_zero_naming_it_and_its_cause_once() {
    // The TLS listener's port (`-z`) is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let stopped = Daemon::builder().args(["-z", &address]).start().wait_exit();
    assert!(!stopped.status.success());
    let error = stopped.the_error_line();
    assert!(error.contains(&address), "{error}");
    assert_eq!(
        error.matches("(os error 98)").count(),
        1,
        "the cause once: {error}"
    );
}

#[test]
fn the_default_config_file_is_not_created() {
    let daemon = Daemon::builder().args(["-N"]).start();
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    assert!(
        !stopped.path(".config").exists(),
        "no config directory created in HOME"
    );
}

#[test]
fn file_then_environment_then_flags_take_precedence() {
    let builder = Daemon::builder().without_defaults();
    let dir = builder.dir().to_owned();
    let config = dir.join("sentrypeer.toml");
    std::fs::write(
        &config,
        format!(
            "sip_listen_address = \"127.0.0.1:0\"\ntls_disable = true\nsip_responsive = true\n\
             db_file = \"{}\"\njson_log = true\njson_log_file = \"{}\"\nretention_days = 0\n",
            dir.join("from-file.db").display(),
            dir.join("file.json").display()
        ),
    )
    .expect("write config");
    let daemon = builder
        .env(
            "SENTRYPEER_DB_FILE",
            &dir.join("from-env.db").display().to_string(),
        )
        .env(
            "SENTRYPEER_JSON_LOG_FILE",
            &dir.join("env.json").display().to_string(),
        )
        .args(["-g", config.to_str().expect("path"), "-f"])
        .args([dir.join("from-flag.db").display().to_string()])
        .start();
    assert!(daemon.udp.is_some() && daemon.tls.is_none());
    let udp = daemon.udp.expect("udp");
    let reply = udp_exchange(
        &udp_client(),
        udp,
        options("9", "UDP", "cfg", "cfg").as_bytes(),
    );
    assert!(
        reply.starts_with(b"SIP/2.0 200 OK"),
        "sip_responsive from the file"
    );
    daemon.wait_for_probes(1);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    assert!(
        dir.join("from-flag.db").exists(),
        "flag beats environment and file"
    );
    assert!(!dir.join("from-env.db").exists() && !dir.join("from-file.db").exists());
    assert!(dir.join("env.json").exists(), "environment beats file");
    assert!(!dir.join("file.json").exists());
}

#[test]
fn a_busy_port_stops_start_up_before_the_database_is_touched() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let stopped = Daemon::builder()
        .args(["-N", "-a", "--api-listen-address", address.as_str()])
        .start()
        .wait_exit();
    assert_eq!(stopped.status.code(), Some(1));
    let error = stopped.the_error_line();
    assert!(error.contains("Failed to start HTTP server"), "{error}");
    assert!(!stopped.path("sentrypeer.db").exists());
}

#[test]
fn print_shared_stats_without_a_p2p_key_exits_2_saying_so_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("sentrypeer.db");
    let output = sentrypeer(&["--print-shared-stats", "-f", &db.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("start the node with -p once"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "no key and no database created"
    );
}
