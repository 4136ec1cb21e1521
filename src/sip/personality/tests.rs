//! Tests of the built-in personalities and their validation (the `[personality]` table that
//! changes them is tested in `app::settings`).

use super::*;

#[test]
fn default_is_freepbx_with_the_originals_headers_and_invite_challenge() {
    let personality = Personality::builtin("freepbx").expect("built in");
    assert_eq!(personality.validate(), Ok(()));
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
