//! Credentials parsing: real scanner values, odd spellings, Basic, hostile input, and a
//! round trip of generated well-formed values.

use proptest::prelude::*;

use super::*;

fn raw<'a>(value: Option<ParamValue<'a>>) -> Option<&'a [u8]> {
    value.map(|value| value.raw)
}

fn text(value: Option<ParamValue<'_>>) -> Option<String> {
    value.map(|value| value.to_text().into_owned())
}

#[test]
fn svcrack_digest_is_read_field_by_field() {
    let value = br#"Digest username="100",realm="asterisk",nonce="00000001",uri="sip:127.0.0.1",algorithm=MD5,qop=auth,response="321dcfbd02c4763dba804cf7dbfef882""#;
    let credentials = parse_authorization(value).expect("credentials");
    assert_eq!(credentials.scheme, b"Digest");
    assert_eq!(credentials.scheme_kind(), AuthScheme::Digest);
    assert_eq!(raw(credentials.username), Some(&b"100"[..]));
    assert_eq!(raw(credentials.realm), Some(&b"asterisk"[..]));
    assert_eq!(raw(credentials.nonce), Some(&b"00000001"[..]));
    assert_eq!(raw(credentials.uri), Some(&b"sip:127.0.0.1"[..]));
    assert_eq!(raw(credentials.algorithm), Some(&b"MD5"[..]));
    assert_eq!(raw(credentials.qop), Some(&b"auth"[..]));
    assert_eq!(
        raw(credentials.response),
        Some(&b"321dcfbd02c4763dba804cf7dbfef882"[..])
    );
    assert_eq!(credentials.cnonce, None);
    assert_eq!(credentials.nc, None);
    assert_eq!(credentials.opaque, None);
    assert!(credentials.username.is_some_and(|user| user.quoted));
    assert!(
        credentials
            .algorithm
            .is_some_and(|algorithm| !algorithm.quoted)
    );
}

#[test]
fn rfc_style_value_with_spaces_tabs_and_every_parameter() {
    let value = b"digest  USERNAME = \"alice\" ,\tRealm=\"biloxi.com\",nonce= \"dcd98b\" , \
                  uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
                  response=\"6629fae4\", opaque=\"5ccc069c\", algorithm = md5-sess ";
    let credentials = parse_authorization(value).expect("credentials");
    assert_eq!(credentials.scheme_kind(), AuthScheme::Digest);
    assert_eq!(text(credentials.username).as_deref(), Some("alice"));
    assert_eq!(text(credentials.realm).as_deref(), Some("biloxi.com"));
    assert_eq!(text(credentials.nonce).as_deref(), Some("dcd98b"));
    assert_eq!(text(credentials.uri).as_deref(), Some("sip:bob@biloxi.com"));
    assert_eq!(text(credentials.qop).as_deref(), Some("auth"));
    assert_eq!(text(credentials.nc).as_deref(), Some("00000001"));
    assert_eq!(text(credentials.cnonce).as_deref(), Some("0a4f113b"));
    assert_eq!(text(credentials.response).as_deref(), Some("6629fae4"));
    assert_eq!(text(credentials.opaque).as_deref(), Some("5ccc069c"));
    assert_eq!(text(credentials.algorithm).as_deref(), Some("md5-sess"));
}

#[test]
fn escaped_quotes_commas_and_equals_inside_quotes_stay_in_the_value() {
    let value = br#"Digest realm="a,b=c", username="x\"y\\z", nonce="n""#;
    let credentials = parse_authorization(value).expect("credentials");
    assert_eq!(text(credentials.realm).as_deref(), Some("a,b=c"));
    assert_eq!(raw(credentials.username), Some(&br#"x\"y\\z"#[..]));
    assert_eq!(text(credentials.username).as_deref(), Some(r#"x"y\z"#));
    assert_eq!(text(credentials.nonce).as_deref(), Some("n"));
}

#[test]
fn first_occurrence_wins_and_unknown_or_valueless_parameters_are_skipped() {
    let value = br#"Digest username="first", stale, foo=bar, ,, username="second", =junk, realm=r"#;
    let credentials = parse_authorization(value).expect("credentials");
    assert_eq!(text(credentials.username).as_deref(), Some("first"));
    assert_eq!(text(credentials.realm).as_deref(), Some("r"));
}

#[test]
fn unterminated_quote_runs_to_the_end() {
    let credentials =
        parse_authorization(br#"Digest username="100, realm="x"#).expect("credentials");
    assert_eq!(text(credentials.username).as_deref(), Some("100, realm="));
    assert_eq!(credentials.realm, None);
}

#[test]
fn parameters_without_a_scheme_are_still_read() {
    let credentials = parse_authorization(br#"username="100", nonce="1""#).expect("credentials");
    assert_eq!(credentials.scheme, b"");
    assert_eq!(credentials.scheme_kind(), AuthScheme::Other);
    assert_eq!(text(credentials.username).as_deref(), Some("100"));
    assert_eq!(parse_authorization(br#"foo="bar""#), None);
}

#[test]
fn basic_credentials_decode_to_user_and_password() {
    // base64("100:secret")
    let credentials = parse_authorization(b"Basic MTAwOnNlY3JldA==").expect("credentials");
    assert_eq!(credentials.scheme_kind(), AuthScheme::Basic);
    assert_eq!(credentials.token, Some(&b"MTAwOnNlY3JldA=="[..]));
    assert_eq!(
        credentials.basic_credentials(),
        Some((b"100".to_vec(), b"secret".to_vec()))
    );
    assert_eq!(credentials.username, None);
    let not_base64 = parse_authorization(b"basic !!!").expect("credentials");
    assert_eq!(not_base64.token, Some(&b"!!!"[..]));
    assert_eq!(not_base64.basic_credentials(), None);
    // base64("nocolon")
    let no_colon = parse_authorization(b"Basic bm9jb2xvbg==").expect("credentials");
    assert_eq!(no_colon.basic_credentials(), None);
    assert_eq!(
        parse_authorization(b"Basic").map(|credentials| credentials.token),
        Some(None)
    );
}

#[test]
fn other_schemes_keep_their_name_and_parameters() {
    let credentials =
        parse_authorization(br#"Bearer realm="x", username=bob"#).expect("credentials");
    assert_eq!(credentials.scheme, b"Bearer");
    assert_eq!(credentials.scheme_kind(), AuthScheme::Other);
    assert_eq!(text(credentials.username).as_deref(), Some("bob"));
}

#[test]
fn empty_and_junk_values_give_nothing_or_no_parameters() {
    assert_eq!(parse_authorization(b""), None);
    assert_eq!(parse_authorization(b" \t\r\n "), None);
    assert_eq!(parse_authorization(b"\"\"\""), None);
    let bare = parse_authorization(b"Digest").expect("a scheme");
    assert_eq!((bare.scheme, bare.username), (&b"Digest"[..], None));
    let junk = parse_authorization(b"Digest \x00\xff,,\"=,=").expect("a scheme");
    assert_eq!(junk.username, None);
}

/// Names whose values [`Authorization`] keeps, and how to read them back.
const FIELDS: [&str; 10] = PARAM_NAMES;

fn field<'a>(credentials: &Authorization<'a>, name: &str) -> Option<ParamValue<'a>> {
    match name {
        "username" => credentials.username,
        "realm" => credentials.realm,
        "nonce" => credentials.nonce,
        "uri" => credentials.uri,
        "response" => credentials.response,
        "algorithm" => credentials.algorithm,
        "cnonce" => credentials.cnonce,
        "nc" => credentials.nc,
        "qop" => credentials.qop,
        "opaque" => credentials.opaque,
        _ => None,
    }
}

/// One generated parameter: which field, its value, quoted or a bare token, how its name is
/// cased, and the spacing around its `=` and after its `,`.
fn parameter() -> impl Strategy<Value = (usize, String, bool, u8, String, String)> {
    (
        0..FIELDS.len(),
        prop_oneof![
            "[ -~]{0,40}".prop_map(|value| (value, true)),
            "[A-Za-z0-9._~!%*+-]{1,20}".prop_map(|value| (value, false)),
        ],
        0u8..3,
        "[ \t]{0,2}",
        "[ \t]{0,2}",
    )
        .prop_map(
            |(index, (value, quoted), case, around_equals, after_comma)| {
                (index, value, quoted, case, around_equals, after_comma)
            },
        )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Some(credentials) = parse_authorization(&bytes) {
            for name in FIELDS {
                if let Some(value) = field(&credentials, name) {
                    let _ = value.to_text();
                }
            }
            let _ = credentials.basic_credentials();
        }
    }

    #[test]
    fn scheme_like_text_never_panics(text in "(Digest|Basic|digest)?[ ,=\"\\\\a-z0-9]{0,80}") {
        let _ = parse_authorization(text.as_bytes());
    }

    #[test]
    fn well_formed_values_round_trip(
        parameters in proptest::collection::vec(parameter(), 1..10),
        scheme_spacing in "[ \t]{1,3}",
    ) {
        let mut seen = std::collections::HashSet::new();
        let parameters: Vec<_> = parameters
            .into_iter()
            .filter(|(index, ..)| seen.insert(*index))
            .collect();
        let mut header = format!("Digest{scheme_spacing}");
        for (position, (index, value, quoted, case, around_equals, after_comma)) in
            parameters.iter().enumerate()
        {
            if position > 0 {
                header.push(',');
                header.push_str(after_comma);
            }
            let name = match case {
                0 => FIELDS[*index].to_owned(),
                1 => FIELDS[*index].to_ascii_uppercase(),
                _ => FIELDS[*index][..1].to_ascii_uppercase() + &FIELDS[*index][1..],
            };
            let written = if *quoted {
                format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                value.clone()
            };
            header.push_str(&format!("{name}{around_equals}={around_equals}{written}"));
        }
        let credentials = parse_authorization(header.as_bytes()).expect("credentials");
        prop_assert_eq!(credentials.scheme_kind(), AuthScheme::Digest);
        for (index, value, quoted, ..) in &parameters {
            let read = field(&credentials, FIELDS[*index]).expect("parameter read back");
            prop_assert_eq!(read.quoted, *quoted);
            prop_assert_eq!(read.to_text(), value.as_str(), "{}", header);
        }
        for (index, name) in FIELDS.iter().enumerate() {
            if !parameters.iter().any(|(given, ..)| *given == index) {
                prop_assert_eq!(field(&credentials, name), None);
            }
        }
    }
}
