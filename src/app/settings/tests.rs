//! Tests of the settings phase: every validation rule, each error naming its TOML key, and the
//! `[personality]` table applied to the built-in personalities.

use std::time::Duration;

use super::*;
use crate::config::{PersonalitySettings, Secret};
use crate::sip::personality::InviteBehaviour;
use crate::sip::{CallOutcome, Progress};

#[test]
fn defaults_are_valid() {
    let settings = Settings::from_config(&Config::default()).expect("valid defaults");
    assert_eq!(settings.store.writer.retention_days, 7);
    assert!(settings.api.is_none() && settings.p2p.is_none() && settings.webhook.is_none());
    assert!(settings.capture.listeners.is_some());
}

#[test]
fn the_store_queue_has_a_capacity_of_its_own() {
    let defaults = Settings::from_config(&Config::default()).expect("valid defaults");
    assert_eq!(
        (defaults.event_queue_capacity, defaults.store.queue_capacity),
        (8_192, 65_536)
    );
    let config = Config::from_toml(
        "event_queue_capacity = 10\nstore_queue_capacity = 3\n",
        std::path::Path::new("t.toml"),
    )
    .expect("valid config");
    let settings = Settings::from_config(&config).expect("valid");
    assert_eq!(
        (settings.event_queue_capacity, settings.store.queue_capacity),
        (10, 3)
    );
}

#[test]
fn webhook_options_are_built_from_every_webhook_key() {
    let config = Config {
        webhook_url: Some("http://127.0.0.1:9/api/events".into()),
        oauth2_token_url: "http://127.0.0.1:9/oauth/token".into(),
        oauth2_audience: "aud".into(),
        oauth2_client_id: Some("id".into()),
        oauth2_client_secret: Some(Secret::new("s")),
        webhook_batch: 25,
        webhook_skip_empty: true,
        webhook_include_peer_data: true,
        webhook_timeout_secs: 3,
        webhook_max_attempts: 2,
        ..Config::default()
    };
    let webhook = Settings::from_config(&config)
        .expect("valid")
        .webhook
        .expect("webhook on");
    let options = &webhook.options;
    assert_eq!(options.url.as_str(), "http://127.0.0.1:9/api/events");
    assert_eq!((options.batch, options.retry.max_attempts), (25, 2));
    assert_eq!(options.request_timeout, Duration::from_secs(3));
    assert!(options.skip_empty);
    let oauth2 = options.oauth2.as_ref().expect("client credentials");
    assert_eq!(oauth2.token_url.as_str(), "http://127.0.0.1:9/oauth/token");
    assert_eq!(
        (oauth2.audience.as_str(), oauth2.client_id.as_str()),
        ("aud", "id")
    );
    assert_eq!(oauth2.client_secret.expose(), "s");
    assert_eq!(webhook.peer_records, PeerRecords::Taken);
}

#[test]
fn validate_rejects_out_of_range_values() {
    let config = Config {
        max_message_bytes: 10,
        ..Config::default()
    };
    assert!(matches!(
        Settings::from_config(&config),
        Err(ConfigError::Invalid {
            option: "max_message_bytes",
            ..
        })
    ));
    for (option, change) in [
        (
            "tcp_idle_timeout_secs",
            (|c: &mut Config| c.tcp_idle_timeout_secs = 0) as fn(&mut Config),
        ),
        ("max_connections", |c| c.max_connections = 0),
        ("event_queue_capacity", |c| c.event_queue_capacity = 0),
        ("store_queue_capacity", |c| c.store_queue_capacity = 0),
        ("crowdsec_ban_duration", |c| {
            c.crowdsec_ban_duration = "0h".into()
        }),
        ("crowdsec_ban_duration", |c| {
            c.crowdsec_ban_duration = "soon".into()
        }),
        ("api_token", |c| c.api_token = Some(Secret::new(""))),
        ("p2p_network", |c| c.p2p_network = "a b".into()),
        ("p2p_deny", |c| c.p2p_deny = vec!["nope".into()]),
        ("p2p_max_connections", |c| c.p2p_max_connections = 0),
        ("p2p_max_connections_per_address", |c| {
            c.p2p_max_connections_per_address = 0
        }),
        ("p2p_max_catch_up_records", |c| {
            c.p2p_max_catch_up_records = 0
        }),
        ("share_stats_interval_secs", |c| {
            c.share_stats_interval_secs = 0
        }),
        ("db_file", |c| c.db_file = PathBuf::new()),
        ("geoip_db", |c| {
            c.geoip_db = Some(PathBuf::from("/nonexistent/GeoLite2-Country.mmdb"))
        }),
        ("geoip_db", |c| c.geoip_db = Some(PathBuf::from("/"))),
        ("cert", |c| c.cert = PathBuf::new()),
        ("syslog_address", |c| {
            c.syslog_address = Some("udp://nowhere".into())
        }),
    ] {
        let mut config = Config::default();
        change(&mut config);
        rejected(Settings::from_config(&config).map(drop), option);
    }
}

#[test]
fn personality_table_is_validated_with_its_option_named() {
    let config = Config::from_toml(
        "[personality]\nname = \"generic\"\nextensions = [\"300-200\"]\n",
        std::path::Path::new("t.toml"),
    )
    .expect("parses");
    let shown = Settings::from_config(&config)
        .expect_err("bad range")
        .to_string();
    assert_eq!(
        shown,
        "invalid value for personality: extensions entry \"300-200\": range start is after its end"
    );
}

#[test]
fn peer_records_follow_the_include_flags() {
    let mut config = Config {
        json_log: true,
        syslog: true,
        webhook_url: Some("http://127.0.0.1:9/e".into()),
        ..Config::default()
    };
    let settings = Settings::from_config(&config).expect("valid");
    assert_eq!(
        settings.json_log.map(|j| j.peer_records),
        Some(PeerRecords::LeftOut)
    );
    assert_eq!(
        settings.syslog.map(|s| s.peer_records),
        Some(PeerRecords::LeftOut)
    );
    assert_eq!(
        settings.webhook.map(|w| w.peer_records),
        Some(PeerRecords::LeftOut)
    );
    config.json_log_include_peer_data = true;
    config.syslog_include_peer_data = true;
    config.webhook_include_peer_data = true;
    let settings = Settings::from_config(&config).expect("valid");
    assert_eq!(
        settings.json_log.map(|j| j.peer_records),
        Some(PeerRecords::Taken)
    );
    assert_eq!(
        settings.syslog.map(|s| s.peer_records),
        Some(PeerRecords::Taken)
    );
    assert_eq!(
        settings.webhook.map(|w| w.peer_records),
        Some(PeerRecords::Taken)
    );
}

fn with(change: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
    let mut config = Config::default();
    change(&mut config);
    Settings::from_config(&config).map(drop)
}

fn rejected(result: Result<(), ConfigError>, name: &str) -> String {
    match result {
        Err(ConfigError::Invalid { option, reason }) => {
            assert_eq!(option, name, "{reason}");
            reason
        }
        other => panic!("{name}: expected Invalid, got {other:?}"),
    }
}

#[test]
fn urls_must_be_absolute_http_or_https_with_a_host() {
    assert!(with(|c| c.webhook_url = Some("https://hq.example/api/events".into())).is_ok());
    assert!(with(|c| c.webhook_url = Some("http://127.0.0.1:4000/e".into())).is_ok());
    rejected(
        with(|c| c.webhook_url = Some("hq.example/api".into())),
        "webhook_url",
    );
    rejected(
        with(|c| c.webhook_url = Some("http://".into())),
        "webhook_url",
    );
    let reason = rejected(
        with(|c| c.webhook_url = Some("ftp://user:hunter2@hq.example/".into())),
        "webhook_url",
    );
    assert!(!reason.contains("hunter2"), "{reason}");
    rejected(
        with(|c| c.oauth2_token_url = "nope".into()),
        "oauth2_token_url",
    );
}

#[test]
fn numbers_are_range_checked() {
    rejected(with(|c| c.webhook_batch = 0), "webhook_batch");
    rejected(with(|c| c.webhook_batch = 1001), "webhook_batch");
    assert!(with(|c| c.webhook_batch = 1000).is_ok());
    rejected(with(|c| c.webhook_timeout_secs = 0), "webhook_timeout_secs");
    rejected(with(|c| c.webhook_max_attempts = 0), "webhook_max_attempts");
    assert!(with(|c| c.webhook_max_attempts = 1).is_ok());
}

#[test]
fn client_id_and_secret_come_together_and_are_not_empty() {
    rejected(
        with(|c| c.oauth2_client_id = Some("id".into())),
        "oauth2_client_secret",
    );
    rejected(
        with(|c| c.oauth2_client_secret = Some(Secret::new("s"))),
        "oauth2_client_id",
    );
    rejected(
        with(|c| {
            c.oauth2_client_id = Some("id".into());
            c.oauth2_client_secret = Some(Secret::new(""));
        }),
        "oauth2_client_secret",
    );
    rejected(
        with(|c| {
            c.oauth2_client_id = Some(String::new());
            c.oauth2_client_secret = Some(Secret::new("s"));
        }),
        "oauth2_client_id",
    );
    assert!(
        with(|c| {
            c.oauth2_client_id = Some("id".into());
            c.oauth2_client_secret = Some(Secret::new("s"));
        })
        .is_ok()
    );
}

fn settings(toml_text: &str) -> PersonalitySettings {
    toml::from_str(toml_text).expect("valid [personality] table")
}

#[test]
fn every_field_can_be_overridden_from_toml() {
    let personality = personality::resolve(&settings(
        r#"
        name = "generic"
        server = "Asterisk PBX 20.5.0"
        allow = "INVITE, ACK, BYE"
        supported = "timer"
        accept = "application/sdp"
        accept_encoding = "identity"
        accept_language = "de"
        allow_events = ""
        realm = "pbx.example"
        sdp_session_name = "PBX"
        extensions = ["10-19", "5000"]
        auth_attempts = 1
        invite_challenge = true
        progress = "session_progress"
        ring_ms = 250
        call_outcome = "busy"
        call_ms = 1500
        "#,
    ))
    .expect("valid");
    assert_eq!(personality.name, "generic");
    assert_eq!(personality.server, "Asterisk PBX 20.5.0");
    assert_eq!(personality.allow, "INVITE, ACK, BYE");
    assert_eq!(personality.supported, "timer");
    assert_eq!(personality.accept_encoding, "identity");
    assert_eq!(personality.accept_language, "de");
    assert_eq!(personality.allow_events, "");
    assert_eq!(personality.realm, "pbx.example");
    assert_eq!(personality.sdp_session_name, "PBX");
    assert!(personality.extensions.contains(b"15") && personality.extensions.contains(b"5000"));
    assert!(!personality.extensions.contains(b"105"));
    assert_eq!(personality.auth_attempts, 1);
    assert_eq!(
        personality.invite,
        InviteBehaviour {
            challenge: true,
            progress: Progress::SessionProgress,
            ring: Duration::from_millis(250),
            outcome: CallOutcome::Busy,
            call: Duration::from_millis(1500),
        }
    );
}

#[test]
fn invalid_tables_give_clear_errors() {
    let error = |text: &str| {
        personality::resolve(&settings(text))
            .expect_err(text)
            .to_string()
    };
    assert_eq!(
        error(r#"name = "asterisk""#),
        "unknown personality \"asterisk\"; known: freepbx, generic, canned"
    );
    assert_eq!(
        error(r#"extensions = ["199-100"]"#),
        "extensions entry \"199-100\": range start is after its end"
    );
    assert!(error(r#"extensions = ["1x"]"#).contains("not a number"));
    assert!(error(r#"extensions = ["0100"]"#).contains("leading zeros"));
    assert!(error(r#"extensions = ["100-abc"]"#).contains("range end"));
    assert!(error("extensions = []").contains("extensions: needs 1 to 256 entries"));
    assert!(error("auth_attempts = 0").contains("auth_attempts: must be at least 1"));
    assert!(error("ring_ms = 3600001").contains("ring_ms: must be at most"));
    assert!(error("call_ms = 99999999").contains("call_ms"));
    assert!(error("server = \"a\\r\\nX-Evil: 1\"").contains("server: holds a line break"));
    assert!(error(r#"server = " ""#).contains("server: must not be empty"));
    assert!(error(r#"realm = "a\"b""#).contains("realm"));
    assert!(error(r#"realm = """#).contains("realm"));
    assert_eq!(
        error("name = \"canned\"\nserver = \"x\""),
        "server has no effect with the canned personality (it always sends the original's fixed 200 OK)"
    );
    assert!(error("name = \"canned\"\ncall_ms = 5").contains("call_ms has no effect"));
}

#[test]
fn share_stats_is_off_by_default_and_reaches_the_p2p_options() {
    let p2p = |change: fn(&mut Config)| {
        let mut config = Config {
            peer_to_peer: true,
            ..Config::default()
        };
        change(&mut config);
        Settings::from_config(&config)
            .expect("valid")
            .p2p
            .expect("p2p on")
            .options
            .share_stats
    };
    let default = p2p(|_| ());
    assert!(!default.publish);
    assert_eq!(default.interval, Duration::from_secs(3600));
    let on = p2p(|c| {
        c.share_stats = true;
        c.share_stats_interval_secs = 2;
    });
    assert!(on.publish);
    assert_eq!(on.interval, Duration::from_secs(2));
}

#[test]
fn the_change_log_keeps_changes_only_when_a_running_part_reads_them() {
    let log_of = |change: fn(&mut Config)| {
        let mut config = Config::default();
        change(&mut config);
        let blocklist = Settings::from_config(&config).expect("valid").blocklist;
        (blocklist.replay_window, blocklist.subscriber_lag)
    };
    // Nothing reads it: one change, not the 512 KiB broadcast buffer written at start.
    assert_eq!(log_of(|_| ()), (1, 1));
    #[cfg(feature = "p2p")]
    assert_eq!(log_of(|c| c.peer_to_peer = true), (1, 1));
    #[cfg(feature = "api")]
    {
        let full = (
            crate::blocklist::DEFAULT_REPLAY_WINDOW,
            crate::blocklist::DEFAULT_SUBSCRIBER_LAG,
        );
        assert_eq!(log_of(|c| c.api = true), full);
        assert_eq!(log_of(|c| c.web_gui = true), full);
    }
}
