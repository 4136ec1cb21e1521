//! Signing and verifying shared records; every refusal path.

use jiff::{SignedDuration, Timestamp};
use libp2p::identity::Keypair;
use proptest::prelude::*;

use super::*;
use crate::event::test_support::EventBuilder;
use crate::event::{Attack, BadActor, Credentials, Origin};
use crate::sip::AttackType;

const WEEK: Option<SignedDuration> = Some(SignedDuration::from_hours(7 * 24));

/// A responsive UDP INVITE to an IPv6 address carrying every credential and identity field (each
/// must survive signing and verifying); shared by the p2p unit tests.
pub(crate) fn event(at: Timestamp) -> BadActor {
    EventBuilder::new()
        .timestamp(at)
        .responsive()
        .source("192.0.2.7:5070")
        .destination("[2001:db8::1]:5060")
        .number("0046812118532")
        .message("INVITE sip:0046812118532@x SIP/2.0\r\n\r\n")
        .attack(Attack {
            attack_type: AttackType::CallAttempt,
            credentials: Some(Credentials {
                scheme: Some("Digest".to_owned()),
                username: Some("100".to_owned()),
                realm: Some("asterisk".to_owned()),
                nonce: Some("00000001".to_owned()),
                uri: Some("sip:0046812118532@x".to_owned()),
                response: Some("321dcfbd02c4763dba804cf7dbfef882".to_owned()),
                algorithm: Some("MD5".to_owned()),
                qop: Some("auth".to_owned()),
                cnonce: Some("0a4f113b".to_owned()),
                nc: Some("00000001".to_owned()),
            }),
            from_user: Some("100".to_owned()),
            contact: Some("<sip:100@192.0.2.7:5070>".to_owned()),
            p_asserted_identity: Some("<sip:+442071234567@x>".to_owned()),
        })
        .build()
}

/// `body` signed with `key`, as it would travel.
fn resign(body: &RecordBody, key: &Keypair) -> String {
    let text = serde_json::to_string(body).expect("json");
    SignedRecord {
        signature: hex::encode(key.sign(text.as_bytes()).expect("sign")),
        body: text,
    }
    .to_json()
}

#[test]
fn a_signed_record_verifies_into_the_same_event_from_its_peer() {
    let key = Keypair::generate_ed25519();
    let now = Timestamp::now();
    let original = event(now);
    let signed = SignedRecord::sign(&original, "sentrypeer", &key).expect("sign");
    let text = signed.to_json();
    let (peer, received) = SignedRecord::verify(&text, "sentrypeer", WEEK, now).expect("valid");
    assert_eq!(peer, key.public().to_peer_id());
    let Origin::Peer(origin) = &received.origin else {
        panic!("peer origin expected");
    };
    assert_eq!(origin.peer_id, peer.to_base58());
    assert_eq!(origin.signed_record.as_deref(), Some(text.as_str()));
    let mut expected = original;
    expected.origin = received.origin.clone();
    assert_eq!(received, expected);
}

#[test]
fn tampering_forgery_and_foreign_records_are_refused() {
    let key = Keypair::generate_ed25519();
    let other = Keypair::generate_ed25519();
    let now = Timestamp::now();
    let signed = SignedRecord::sign(&event(now), "sentrypeer", &key).expect("sign");

    let tampered = SignedRecord {
        body: signed.body.replace("192.0.2.7", "192.0.2.8"),
        ..signed.clone()
    };
    assert_eq!(
        SignedRecord::verify(&tampered.to_json(), "sentrypeer", WEEK, now).err(),
        Some(RecordError::BadSignature)
    );

    // Signed by another key but claiming the first node's PeerId.
    let forged = SignedRecord {
        body: signed.body.clone(),
        signature: hex::encode(other.sign(signed.body.as_bytes()).expect("sign")),
    };
    assert_eq!(
        SignedRecord::verify(&forged.to_json(), "sentrypeer", WEEK, now).err(),
        Some(RecordError::BadSignature)
    );

    assert_eq!(
        SignedRecord::verify(&signed.to_json(), "private-fleet", WEEK, now).err(),
        Some(RecordError::OtherNetwork)
    );

    let old = SignedRecord::sign(
        &event(now - SignedDuration::from_hours(8 * 24)),
        "sentrypeer",
        &key,
    )
    .expect("sign");
    assert_eq!(
        SignedRecord::verify(&old.to_json(), "sentrypeer", WEEK, now).err(),
        Some(RecordError::OutOfWindow)
    );
    assert!(
        SignedRecord::verify(&old.to_json(), "sentrypeer", None, now).is_ok(),
        "0 = keep forever"
    );
    let future = SignedRecord::sign(
        &event(now + SignedDuration::from_hours(1)),
        "sentrypeer",
        &key,
    )
    .expect("sign");
    assert_eq!(
        SignedRecord::verify(&future.to_json(), "sentrypeer", WEEK, now).err(),
        Some(RecordError::OutOfWindow)
    );

    let huge = "x".repeat(MAX_RECORD_BYTES + 1);
    assert_eq!(
        SignedRecord::verify(&huge, "sentrypeer", WEEK, now).err(),
        Some(RecordError::TooLarge(MAX_RECORD_BYTES + 1))
    );
    for garbage in [
        "",
        "{}",
        "[]",
        "null",
        "{\"body\":\"{}\",\"signature\":\"00\"}",
    ] {
        assert!(
            matches!(
                SignedRecord::verify(garbage, "sentrypeer", WEEK, now),
                Err(RecordError::Malformed(_))
            ),
            "{garbage}"
        );
    }
    let extra_field = signed.to_json().replacen('{', "{\"extra\":1,", 1);
    assert!(matches!(
        SignedRecord::verify(&extra_field, "sentrypeer", WEEK, now),
        Err(RecordError::Malformed(_))
    ));
}

#[test]
fn a_correctly_signed_record_with_bad_fields_is_refused() {
    let key = Keypair::generate_ed25519();
    let now = Timestamp::now();
    let signed = SignedRecord::sign(&event(now), "sentrypeer", &key).expect("sign");
    let mut body: RecordBody = serde_json::from_str(&signed.body).expect("body");
    body.transport_type = "SCTP".to_owned();
    let text = serde_json::to_string(&body).expect("json");
    let resigned = SignedRecord {
        signature: hex::encode(key.sign(text.as_bytes()).expect("sign")),
        body: text,
    };
    assert_eq!(
        SignedRecord::verify(&resigned.to_json(), "sentrypeer", WEEK, now).err(),
        Some(RecordError::InvalidField("transport_type"))
    );
}

#[test]
fn long_messages_are_cut_on_a_character_boundary() {
    let key = Keypair::generate_ed25519();
    let now = Timestamp::now();
    let mut long = event(now);
    long.sip_message = "é".repeat(MAX_SHARED_MESSAGE_BYTES);
    let signed = SignedRecord::sign(&long, "sentrypeer", &key).expect("sign");
    let (_, received) =
        SignedRecord::verify(&signed.to_json(), "sentrypeer", WEEK, now).expect("valid");
    assert!(received.sip_message.len() <= MAX_SHARED_MESSAGE_BYTES);
    assert!(signed.to_json().len() <= MAX_RECORD_BYTES);
}

#[test]
fn escape_heavy_messages_are_cut_until_the_record_fits_what_peers_accept() {
    let key = Keypair::generate_ed25519();
    let now = Timestamp::now();
    let mut heavy = event(now);
    // 4,092 bytes of message, which signed whole made an 8,772-byte record: every quote and
    // line break is escaped twice inside the record.
    heavy.sip_message = "INVITE \"x\"\r\n".repeat(341);
    let signed = SignedRecord::sign(&heavy, "sentrypeer", &key).expect("sign");
    let text = signed.to_json();
    assert!(text.len() <= MAX_RECORD_BYTES, "{}", text.len());
    assert!(text.len() > MAX_RECORD_BYTES - 8, "cut no more than needed");
    let (_, received) = SignedRecord::verify(&text, "sentrypeer", WEEK, now).expect("valid");
    assert!(heavy.sip_message.starts_with(&received.sip_message));
    heavy.sip_user_agent = "\"".repeat(2 * MAX_FIELD_BYTES);
    for message in ["\u{1}".repeat(2000), "\\".repeat(4000), "é\"".repeat(1500)] {
        heavy.sip_message = message;
        let text = SignedRecord::sign(&heavy, "sentrypeer", &key)
            .expect("sign")
            .to_json();
        assert!(text.len() <= MAX_RECORD_BYTES, "{}", text.len());
        let (_, received) = SignedRecord::verify(&text, "sentrypeer", WEEK, now).expect("valid");
        assert_eq!(
            received.sip_user_agent.len(),
            MAX_FIELD_BYTES,
            "fields cut to their cap"
        );
    }
}

#[test]
fn an_event_whose_record_cannot_fit_is_not_signed() {
    let key = Keypair::generate_ed25519();
    let mut hopeless = event(Timestamp::now());
    let quotes = "\"".repeat(MAX_FIELD_BYTES);
    hopeless.called_number.clone_from(&quotes);
    hopeless.sip_user_agent.clone_from(&quotes);
    hopeless.attack.from_user = Some(quotes.clone());
    hopeless.attack.contact = Some(quotes);
    assert!(matches!(
        SignedRecord::sign(&hopeless, "sentrypeer", &key),
        Err(RecordError::TooLarge(_))
    ));
}

#[test]
fn attack_type_credentials_and_caller_identity_travel_after_the_original_fields() {
    let key = Keypair::generate_ed25519();
    let signed = SignedRecord::sign(&event(Timestamp::now()), "sentrypeer", &key).expect("sign");
    let body: serde_json::Value = serde_json::from_str(&signed.body).expect("body");
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let message_kind = keys
        .iter()
        .position(|key| *key == "message_kind")
        .expect("message_kind");
    assert_eq!(
        &keys[message_kind + 1..],
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
            "auth_cnonce",
            "auth_nc",
            "from_user",
            "contact",
            "p_asserted_identity"
        ]
    );
    assert_eq!(body["attack_type"], "call_attempt");
    assert_eq!(body["auth_username"], "100");

    let mut plain = event(Timestamp::now());
    plain.attack = Attack {
        attack_type: AttackType::Scan,
        ..Attack::default()
    };
    let signed = SignedRecord::sign(&plain, "sentrypeer", &key).expect("sign");
    let body: serde_json::Value = serde_json::from_str(&signed.body).expect("body");
    assert_eq!(body["attack_type"], "scan");
    assert!(body.get("auth_username").is_none(), "absent keys left out");
    let (_, received) =
        SignedRecord::verify(&signed.to_json(), "sentrypeer", WEEK, Timestamp::now())
            .expect("valid");
    assert_eq!(received.attack, plain.attack);
}

#[test]
fn a_record_from_a_node_without_attack_types_is_classified_from_its_message() {
    let key = Keypair::generate_ed25519();
    let now = Timestamp::now();
    let signed = SignedRecord::sign(&event(now), "sentrypeer", &key).expect("sign");
    let mut old: serde_json::Value = serde_json::from_str(&signed.body).expect("body");
    let object = old.as_object_mut().expect("object");
    object.retain(|name, _| {
        !(name.starts_with("auth_")
            || ["attack_type", "from_user", "contact", "p_asserted_identity"]
                .contains(&name.as_str()))
    });
    object.insert(
        "sip_message".to_owned(),
        include_str!("../../../tests/fixtures/sip/svcrack_register_digest.sip").into(),
    );
    object.insert("sip_method".to_owned(), "REGISTER".into());
    let body: RecordBody = serde_json::from_value(old).expect("an old node's body");
    assert_eq!(body.attack_type, None);
    let (_, received) =
        SignedRecord::verify(&resign(&body, &key), "sentrypeer", WEEK, now).expect("valid");
    assert_eq!(received.attack.attack_type, AttackType::PasswordCracking);
    let credentials = received.attack.credentials.expect("credentials");
    assert_eq!(credentials.username.as_deref(), Some("100"));
    assert_eq!(credentials.realm.as_deref(), Some("asterisk"));
    assert_eq!(received.attack.from_user.as_deref(), Some("100"));
}

#[test]
fn bad_attack_fields_are_refused() {
    let key = Keypair::generate_ed25519();
    let now = Timestamp::now();
    let signed = SignedRecord::sign(&event(now), "sentrypeer", &key).expect("sign");
    let body: RecordBody = serde_json::from_str(&signed.body).expect("body");
    let refused = |body: RecordBody| {
        SignedRecord::verify(&resign(&body, &key), "sentrypeer", WEEK, now).err()
    };
    assert_eq!(
        refused(RecordBody {
            attack_type: Some("world_domination".to_owned()),
            ..body.clone()
        }),
        Some(RecordError::InvalidField("attack_type"))
    );
    assert_eq!(
        refused(RecordBody {
            attack_type: None,
            ..body.clone()
        }),
        Some(RecordError::InvalidField("attack_type")),
        "details without an attack type"
    );
    assert_eq!(
        refused(RecordBody {
            auth_username: Some("x".repeat(MAX_FIELD_BYTES + 1)),
            ..body.clone()
        }),
        Some(RecordError::InvalidField("auth_username"))
    );
    assert_eq!(
        refused(RecordBody {
            contact: Some("x".repeat(MAX_FIELD_BYTES + 1)),
            ..body
        }),
        Some(RecordError::InvalidField("contact"))
    );
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(text in ".{0,2000}") {
        let _ = SignedRecord::verify(&text, "sentrypeer", WEEK, Timestamp::now());
    }
}

/// Found by the `p2p_record` fuzz target: serde's message quoted an unknown field's name with its
/// CR, so a peer could put line breaks into this node's logs.
#[test]
fn refusal_reasons_are_one_short_line_whatever_the_peer_sent() {
    let field = format!("a\r\nforged log line{}", "x".repeat(1000));
    let text = serde_json::json!({ "body": "{}", "signature": "00", field: 1 }).to_string();
    let error = SignedRecord::verify(&text, "sentrypeer", None, Timestamp::now())
        .expect_err("unknown field");
    let reason = error.to_string();
    assert!(matches!(error, RecordError::Malformed(_)), "{reason}");
    assert!(!reason.contains(['\r', '\n']), "{reason}");
    assert!(reason.contains("a\\r\\nforged log line"), "{reason}");
    assert!(reason.chars().count() <= MAX_REASON_CHARS + "malformed record: ".len());
}
