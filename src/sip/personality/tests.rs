//! Tests of the built-in personalities, the `[personality]` table and its validation.

use super::*;

fn settings(toml_text: &str) -> PersonalitySettings {
    toml::from_str(toml_text).expect("valid [personality] table")
}

#[test]
fn default_is_freepbx_with_the_originals_headers_and_invite_challenge() {
    let personality = PersonalitySettings::default().resolve().expect("valid");
    assert_eq!(personality, Personality::default());
    assert_eq!(personality.name, "freepbx");
    assert_eq!(personality.style, ReplyStyle::Pbx);
    assert_eq!(personality.server, "FPBX-16.0.33(18.13.0)");
    assert_eq!(personality.realm, "asterisk");
    assert_eq!(personality.auth_attempts, 3);
    assert!(personality.invite.challenge);
    assert!(personality.allows("REGISTER") && !personality.allows("INFO"));
    assert!(
        !personality.allows("register"),
        "methods are case-sensitive"
    );
}

#[test]
fn generic_takes_guest_calls_and_canned_sends_fixed_bytes() {
    let generic = Personality::builtin("generic").expect("built in");
    assert!(!generic.invite.challenge);
    assert_eq!(generic.invite.progress, Progress::Ringing);
    assert!(generic.server.starts_with("FreeSWITCH"));
    assert!(!generic.allow_events.is_empty());
    let canned = Personality::builtin("canned").expect("built in");
    assert_eq!(canned.style, ReplyStyle::Canned);
    for name in PERSONALITY_NAMES {
        assert_eq!(Personality::builtin(name).expect("built in").name, name);
    }
}

#[test]
fn default_plan_is_100_to_199_and_a_few_common_numbers() {
    let plan = Personality::default().extensions;
    for member in ["100", "105", "199", "200", "201", "300", "1000", "2000"] {
        assert!(plan.contains(member.as_bytes()), "{member}");
    }
    for outsider in [
        "99",
        "202",
        "0105",
        "+105",
        "105a",
        "",
        "abc",
        "1747613575",
        "99999999999999999999",
    ] {
        assert!(!plan.contains(outsider.as_bytes()), "{outsider}");
    }
    assert_eq!(plan.lookup(b"150"), Some(150));
    assert_eq!(plan.lookup(b"150 "), None);
}

#[test]
fn every_field_can_be_overridden_from_toml() {
    let personality = settings(
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
    )
    .resolve()
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
    let error = |text: &str| settings(text).resolve().expect_err(text).to_string();
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
fn unknown_keys_and_bad_enum_values_are_rejected_by_toml() {
    for text in [
        "bogus = 1",
        r#"call_outcome = "hangup""#,
        r#"progress = "early""#,
        "auth_attempts = -1",
    ] {
        assert!(
            toml::from_str::<PersonalitySettings>(text).is_err(),
            "{text}"
        );
    }
    assert_eq!(settings("").name, "freepbx");
}
