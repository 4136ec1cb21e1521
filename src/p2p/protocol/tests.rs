//! The wire forms pinned byte for byte: nodes of this version must keep understanding each other
//! and the nodes already deployed.

use super::*;

#[test]
fn protocol_names_carry_the_network_and_the_version() {
    let names = Protocols::new("fleet-a");
    assert_eq!(names.identify, "/sentrypeer/fleet-a/1");
    assert_eq!(names.topic.to_string(), "sentrypeer/fleet-a/bad-actors/1");
    assert_eq!(names.gossip_prefix, "/sentrypeer/fleet-a/meshsub");
    assert_eq!(names.kademlia, "/sentrypeer/fleet-a/kad/1");
    assert_eq!(names.catch_up, "/sentrypeer/fleet-a/sync/1");
}

#[test]
fn a_batch_is_written_and_read_as_deployed_nodes_do() {
    let batch = Batch::new(vec!["{\"body\":\"b\",\"signature\":\"00\"}".to_owned()]);
    let data = serde_json::to_vec(&batch).expect("JSON");
    assert_eq!(
        data,
        br#"{"v":1,"records":["{\"body\":\"b\",\"signature\":\"00\"}"]}"#
    );
    let decoded = Batch::decode(&data).expect("a batch of this version");
    assert_eq!(decoded.records, batch.records);
}

#[test]
fn batches_of_another_version_or_shape_are_not_decoded() {
    for data in [
        &br#"{"v":2,"records":[]}"#[..],
        br#"{"v":1,"records":[],"extra":0}"#,
        br#"{"records":[]}"#,
        b"not json",
    ] {
        assert!(
            Batch::decode(data).is_none(),
            "{}",
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn catch_up_messages_keep_their_json_shape() {
    let request = CatchUpRequest {
        since: "2026-01-01 00:00:00.000000000".to_owned(),
        after: Some(("2026-01-02 00:00:00.000000000".to_owned(), "u".to_owned())),
    };
    let text = serde_json::to_string(&request).expect("JSON");
    assert_eq!(
        text,
        r#"{"since":"2026-01-01 00:00:00.000000000","after":["2026-01-02 00:00:00.000000000","u"]}"#
    );
    assert_eq!(
        serde_json::from_str::<CatchUpRequest>(&text).expect("read back"),
        request
    );
    let page = CatchUpResponse::Page {
        records: vec!["r".to_owned()],
        next: None,
    };
    assert_eq!(
        serde_json::to_string(&page).expect("JSON"),
        r#"{"Page":{"records":["r"],"next":null}}"#
    );
    let refused = CatchUpResponse::Refused {
        reason: "share first".to_owned(),
    };
    assert_eq!(
        serde_json::to_string(&refused).expect("JSON"),
        r#"{"Refused":{"reason":"share first"}}"#
    );
    assert!(
        serde_json::from_str::<CatchUpRequest>(r#"{"since":"x","after":null,"more":1}"#).is_err()
    );
}

#[test]
fn json_string_length_is_what_serde_json_writes() {
    for text in [
        "",
        "plain",
        "a\"b\\c",
        "{\"k\":\"v\\r\\n\"}",
        "tab\there",
        "é",
    ] {
        let written = serde_json::to_string(text).expect("JSON").len();
        assert!(json_string_len(text) >= written, "{text:?}");
        if !text.contains('\t') {
            assert_eq!(json_string_len(text), written, "{text:?}");
        }
    }
}
