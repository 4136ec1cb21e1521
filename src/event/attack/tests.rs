//! The recorded attack evidence, and where its keys go in the JSON form of an event.

use super::*;
use crate::event::test_support::EventBuilder;
use crate::event::{BadActor, ORIGINAL_JSON_KEYS, Origin, PeerOrigin};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/sip/", $name))
    };
}

/// What a listener records of `message` from 192.0.2.7.
fn captured(message: &[u8]) -> BadActor {
    EventBuilder::new()
        .source("192.0.2.7:5070")
        .node(1)
        .capture(message)
}

fn json_keys(event: &BadActor) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(&event.to_json_line()).expect("JSON");
    value.as_object().expect("object").keys().cloned().collect()
}

#[test]
fn svcrack_register_records_every_digest_field() {
    let attack = Attack::from_message(fixture!("svcrack_register_digest.sip"));
    assert_eq!(attack.attack_type, AttackType::PasswordCracking);
    assert_eq!(
        attack.credentials,
        Some(Credentials {
            scheme: Some("Digest".to_owned()),
            username: Some("100".to_owned()),
            realm: Some("asterisk".to_owned()),
            nonce: Some("00000001".to_owned()),
            uri: Some("sip:127.0.0.1".to_owned()),
            response: Some("321dcfbd02c4763dba804cf7dbfef882".to_owned()),
            algorithm: Some("MD5".to_owned()),
            qop: Some("auth".to_owned()),
            cnonce: None,
            nc: None,
        })
    );
    assert_eq!(attack.from_user.as_deref(), Some("100"));
    assert_eq!(attack.contact.as_deref(), Some("sip:123@1.1.1.1"));
    assert_eq!(attack.p_asserted_identity, None);
}

#[test]
fn a_probe_without_credentials_records_none() {
    let attack = Attack::from_message(fixture!("svwar_register.sip"));
    assert_eq!(attack.attack_type, AttackType::ExtensionEnumeration);
    assert_eq!(attack.credentials, None);
    assert_eq!(attack.from_user.as_deref(), Some("100"));
    assert_eq!(attack.contact.as_deref(), Some("sip:100@127.0.0.1"));
}

#[test]
fn basic_credentials_record_the_decoded_user_and_the_token() {
    let attack = Attack::from_message(
        b"REGISTER sip:x SIP/2.0\r\nAuthorization: Basic MTAwOnNlY3JldA==\r\n\r\n",
    );
    let credentials = attack.credentials.expect("credentials");
    assert_eq!(credentials.scheme.as_deref(), Some("Basic"));
    assert_eq!(credentials.username.as_deref(), Some("100"));
    assert_eq!(credentials.response.as_deref(), Some("MTAwOnNlY3JldA=="));
    assert_eq!(credentials.realm, None);
}

#[test]
fn unreadable_credentials_are_present_but_empty() {
    let attack = Attack::from_message(b"REGISTER sip:x SIP/2.0\r\nAuthorization: \"\"\r\n\r\n");
    assert_eq!(attack.attack_type, AttackType::PasswordCracking);
    assert_eq!(attack.credentials, Some(Credentials::default()));
    let schemeless =
        Attack::from_message(b"OPTIONS sip:x SIP/2.0\r\nAuthorization: username=\"7\"\r\n\r\n");
    let credentials = schemeless.credentials.expect("credentials");
    assert_eq!(
        (credentials.scheme, credentials.username.as_deref()),
        (None, Some("7"))
    );
}

#[test]
fn long_and_non_utf8_values_are_cut_and_replaced() {
    let long_user = "é".repeat(MAX_DETAIL_BYTES);
    let message = format!(
        "REGISTER sip:x SIP/2.0\r\nAuthorization: Digest username=\"{long_user}\"\r\n\
         Contact: <sip:a@b>\r\n\r\n"
    );
    let attack = Attack::from_message(message.as_bytes());
    let username = attack
        .credentials
        .and_then(|credentials| credentials.username)
        .expect("username");
    assert!(username.len() <= MAX_DETAIL_BYTES);
    assert_eq!(
        username.len(),
        MAX_DETAIL_BYTES,
        "é is 2 bytes: cut exactly"
    );
    assert!(username.chars().all(|c| c == 'é'));
    let odd = Attack::from_message(b"INVITE sip:x SIP/2.0\r\nFrom: <sip:caf\xe9@x>\r\n\r\n");
    assert_eq!(odd.from_user.as_deref(), Some("caf\u{fffd}"));
}

#[test]
fn invite_records_the_caller_identity() {
    let attack = Attack::from_message(
        b"INVITE sip:0046812118532@x SIP/2.0\r\nFrom: \"A\" <sip:201@x>;tag=1\r\n\
          Contact: <sip:201@198.51.100.4>\r\nP-Asserted-Identity: <sip:+442071234567@x>\r\n\r\n",
    );
    assert_eq!(attack.attack_type, AttackType::CallAttempt);
    assert_eq!(attack.from_user.as_deref(), Some("201"));
    assert_eq!(attack.contact.as_deref(), Some("<sip:201@198.51.100.4>"));
    assert_eq!(
        attack.p_asserted_identity.as_deref(),
        Some("<sip:+442071234567@x>")
    );
}

#[test]
fn json_keeps_the_original_thirteen_first_then_what_was_carried() {
    let event = captured(fixture!("svcrack_register_digest.sip"));
    assert_eq!(event.attack.attack_type, AttackType::PasswordCracking);
    let keys = json_keys(&event);
    assert_eq!(keys[..13], ORIGINAL_JSON_KEYS);
    assert_eq!(
        keys[13..],
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
    let value: serde_json::Value = serde_json::from_str(&event.to_json_line()).expect("JSON");
    assert_eq!(value["attack_type"], "password_cracking");
    assert_eq!(value["auth_username"], "100");
    assert!(
        value
            .as_object()
            .expect("object")
            .values()
            .all(serde_json::Value::is_string),
        "every value is a string"
    );

    let garbage = captured(fixture!("garbage.sip"));
    assert_eq!(json_keys(&garbage)[13..], ["attack_type"]);
}

#[test]
fn a_peer_event_keeps_origin_before_the_attack_keys() {
    let mut event = captured(fixture!("svmap_options.sip"));
    event.origin = Origin::Peer(PeerOrigin::from("12D3KooWPeer"));
    let keys = json_keys(&event);
    assert_eq!(keys[..13], ORIGINAL_JSON_KEYS);
    assert_eq!(
        keys[13..],
        ["origin", "attack_type", "from_user", "contact"]
    );
}
