//! Tests of the configuration tree: the original's keys, defaults, and TOML errors.

use std::path::{Path, PathBuf};

use super::*;

#[test]
fn original_toml_keys_parse() {
    let text = "cert = \"/etc/sp/cert.pem\"\nkey = \"/etc/sp/key.pem\"\ntls_listen_address = \"0.0.0.0:5061\"\n";
    let config = Config::from_toml(text, Path::new("t.toml")).expect("valid config");
    assert_eq!(config.cert, PathBuf::from("/etc/sp/cert.pem"));
    assert_eq!(config.key, PathBuf::from("/etc/sp/key.pem"));
    assert_eq!(config.tls_listen_address.port(), 5061);
    assert_eq!(
        config.sip_listen_address,
        Config::default().sip_listen_address
    );
}

#[test]
fn unknown_key_is_one_clear_line_with_its_line_number() {
    let text = "cert = \"c.pem\"\nbogus_key = 1\n";
    let error = Config::from_toml(text, Path::new("t.toml")).expect_err("unknown key rejected");
    let shown = error.to_string();
    assert!(shown.contains("t.toml line 2"), "{shown}");
    assert!(shown.contains("bogus_key"), "{shown}");
    assert!(!shown.contains('\n'), "{shown}");
}

#[test]
fn bad_address_is_rejected() {
    let error = Config::from_toml("sip_listen_address = \"nonsense\"", Path::new("t.toml"))
        .expect_err("bad address rejected");
    assert!(error.to_string().contains("line 1"), "{error}");
}

#[test]
fn peer_data_keys_parse_and_default_to_local_only() {
    let defaults = Config::default();
    assert!(!defaults.json_log_include_peer_data && !defaults.syslog_include_peer_data);
    let config = Config::from_toml(
        "json_log_include_peer_data = true\nsyslog_include_peer_data = true\n",
        Path::new("t.toml"),
    )
    .expect("valid config");
    assert!(config.json_log_include_peer_data && config.syslog_include_peer_data);
}

#[test]
fn webhook_keys_parse_from_toml_with_the_documented_defaults() {
    let text = "webhook_url = \"http://127.0.0.1:4000/api/events\"\nwebhook_batch = 50\n\
                webhook_skip_empty = true\nwebhook_include_peer_data = true\n\
                webhook_timeout_secs = 3\nwebhook_max_attempts = 2\n\
                oauth2_token_url = \"http://127.0.0.1:4001/t\"\noauth2_audience = \"aud\"\n";
    let config = Config::from_toml(text, Path::new("t.toml")).expect("valid config");
    assert_eq!(config.webhook_batch, 50);
    assert!(config.webhook_skip_empty && config.webhook_include_peer_data);
    assert_eq!(config.webhook_timeout_secs, 3);
    assert_eq!(config.webhook_max_attempts, 2);
    assert_eq!(config.oauth2_token_url, "http://127.0.0.1:4001/t");
    assert_eq!(config.oauth2_audience, "aud");
    let defaults = Config::default();
    assert_eq!(defaults.oauth2_token_url, defaults::OAUTH2_TOKEN_URL);
    assert_eq!(defaults.oauth2_audience, "https://sentrypeer.com/api");
    assert_eq!(defaults.webhook_batch, 1);
    assert_eq!(defaults.webhook_timeout_secs, 10);
    assert_eq!(defaults.webhook_max_attempts, 6);
    assert!(!defaults.webhook_skip_empty && !defaults.webhook_include_peer_data);
}
