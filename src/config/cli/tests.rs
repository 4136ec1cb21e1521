//! Command-line and environment merging: every original flag, every boolean variable, precedence.

use super::*;
use crate::config::{Config, Secret};

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("sentrypeer").chain(args.iter().copied()))
        .expect("valid command line")
}

#[test]
fn every_boolean_env_var_enables_its_feature_whatever_its_value() {
    for name in BOOLEAN_ENV_VARS {
        let config = parse(&[]).merge(Config::default(), |asked| asked == name);
        let enabled = match name {
            "SENTRYPEER_JSON_LOG" | "SENTRYPEER_JSON_LOG_FILE" => config.json_log,
            "SENTRYPEER_PEER_TO_PEER" => config.peer_to_peer,
            "SENTRYPEER_API" => config.api,
            "SENTRYPEER_WEB_GUI" => config.web_gui,
            "SENTRYPEER_SIP_RESPONSIVE" => config.sip_responsive,
            "SENTRYPEER_SIP_DISABLE" => config.sip_disable,
            "SENTRYPEER_TLS_DISABLE" => config.tls_disable,
            "SENTRYPEER_SYSLOG" => config.syslog,
            "SENTRYPEER_VERBOSE" => config.verbose,
            "SENTRYPEER_DEBUG" => config.debug,
            "SENTRYPEER_P2P_MDNS" => config.p2p_mdns,
            "SENTRYPEER_SHARE_STATS" => config.share_stats,
            "SENTRYPEER_WEBHOOK_SKIP_EMPTY" => config.webhook_skip_empty,
            "SENTRYPEER_WEBHOOK_INCLUDE_PEER_DATA" => config.webhook_include_peer_data,
            "SENTRYPEER_JSON_LOG_INCLUDE_PEER_DATA" => config.json_log_include_peer_data,
            "SENTRYPEER_SYSLOG_INCLUDE_PEER_DATA" => config.syslog_include_peer_data,
            "SENTRYPEER_BGP" => config.bgp.enabled,
            "SENTRYPEER_VERDICT_INCLUDE_SPECIAL_ADDRESSES" => {
                config.verdicts.include_special_addresses
            }
            "SENTRYPEER_OPENDHT_PUBLISH" => config.opendht_publish,
            "SENTRYPEER_OPENDHT_VERDICTS" => config.opendht_verdicts,
            other => panic!("untested variable {other}"),
        };
        assert!(enabled, "{name} did not enable its feature");
    }
    let untouched = parse(&[]).merge(Config::default(), |_| false);
    assert_eq!(untouched, Config::default());
}

#[test]
fn original_short_flags_are_accepted() {
    let cli = parse(&[
        "-j",
        "-a",
        "-r",
        "-s",
        "-v",
        "-d",
        "-p",
        "-N",
        "-f",
        "/tmp/x.db",
        "-l",
        "/tmp/x.json",
        "-t",
        "/tmp/c.pem",
        "-k",
        "/tmp/k.pem",
        "-z",
        "127.0.0.1:5071",
        "-b",
        "node:4222",
        "-w",
        "http://127.0.0.1:9/e",
        "-i",
        "id",
        "-c",
        "secret",
        "-R",
        "-g",
        "/tmp/none.toml",
    ]);
    let config = cli.merge(Config::default(), |_| false);
    assert!(config.json_log && config.api && config.sip_responsive && config.syslog);
    assert!(config.verbose && config.debug && config.peer_to_peer && config.tls_disable);
    assert!(config.sip_disable);
    assert_eq!(config.db_file, PathBuf::from("/tmp/x.db"));
    assert_eq!(config.json_log_file, PathBuf::from("/tmp/x.json"));
    assert_eq!(config.tls_listen_address.port(), 5071);
    assert_eq!(config.bootstrap_node, vec!["node:4222".to_owned()]);
    assert_eq!(
        config.oauth2_client_secret.as_ref().map(Secret::expose),
        Some("secret")
    );
}

#[test]
fn flags_override_the_file() {
    let file = Config {
        db_file: PathBuf::from("/from/file.db"),
        retention_days: 3,
        ..Config::default()
    };
    let config = parse(&["-f", "/from/flag.db"]).merge(file, |_| false);
    assert_eq!(config.db_file, PathBuf::from("/from/flag.db"));
    assert_eq!(config.retention_days, 3);
}

#[test]
fn json_log_file_alone_enables_json_logging() {
    let config = parse(&["-l", "/tmp/j.log"]).merge(Config::default(), |_| false);
    assert!(config.json_log);
}

#[test]
fn webhook_flags_are_merged() {
    let config = parse(&[
        "-w",
        "http://127.0.0.1:9/api/events",
        "--oauth2-token-url",
        "http://127.0.0.1:9/oauth/token",
        "--oauth2-audience",
        "aud",
        "--webhook-batch",
        "25",
        "--webhook-skip-empty",
        "--webhook-include-peer-data",
        "--webhook-timeout",
        "3",
        "--webhook-max-attempts",
        "2",
        "--oauth2-client-id",
        "id",
        "--oauth2-client-secret",
        "s",
    ])
    .merge(Config::default(), |_| false);
    assert_eq!(
        config.webhook_url.as_deref(),
        Some("http://127.0.0.1:9/api/events")
    );
    assert_eq!(config.oauth2_token_url, "http://127.0.0.1:9/oauth/token");
    assert_eq!(config.oauth2_audience, "aud");
    assert_eq!(config.webhook_batch, 25);
    assert!(config.webhook_skip_empty && config.webhook_include_peer_data);
    assert_eq!(config.webhook_timeout_secs, 3);
    assert_eq!(config.webhook_max_attempts, 2);
    assert_eq!(config.oauth2_client_id.as_deref(), Some("id"));
    let defaults = parse(&["-w", "http://127.0.0.1:9/e"]).merge(Config::default(), |_| false);
    assert_eq!(defaults.webhook_batch, 1);
    assert!(!defaults.webhook_skip_empty && !defaults.webhook_include_peer_data);
}

#[test]
fn bad_listen_address_is_a_usage_error() {
    let error = Cli::try_parse_from(["sentrypeer", "--sip-listen-address", "nope"])
        .expect_err("bad address rejected");
    assert!(
        error.to_string().contains("--sip-listen-address"),
        "{error}"
    );
}

#[test]
fn personality_flag_picks_the_name_and_keeps_the_files_overrides() {
    let file = Config::from_toml(
        "[personality]\nname = \"canned\"\n",
        std::path::Path::new("t.toml"),
    )
    .expect("valid");
    assert_eq!(file.personality.name, "canned");
    let config = parse(&["--sip-personality", "generic"]).merge(file, |_| false);
    assert_eq!(config.personality.name, "generic");
    let overrides = Config::from_toml(
        "[personality]\nauth_attempts = 1\nring_ms = 50\n",
        std::path::Path::new("t.toml"),
    )
    .expect("valid");
    let config = parse(&["--sip-personality", "generic"]).merge(overrides, |_| false);
    assert_eq!(
        (
            config.personality.name.as_str(),
            config.personality.auth_attempts,
            config.personality.ring_ms
        ),
        ("generic", Some(1), Some(50))
    );
    let untouched = parse(&[]).merge(Config::default(), |_| false);
    assert_eq!(untouched.personality.name, "freepbx");
}
