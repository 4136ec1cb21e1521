//! Corpus replay: every saved fuzz input (`fuzz/corpus/<target>/`), every crash regression
//! (`fuzz/regressions/<target>/`) and every SIP fixture goes through the same target bodies
//! libFuzzer runs, on stable, in the normal test suite.

use std::path::{Path, PathBuf};

use super::*;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Files directly in `dir`, sorted; none when it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target` on every file, naming the file whose input panicked.
fn replay(name: &str, target: Target, files: &[PathBuf]) {
    for file in files {
        let data = std::fs::read(file).expect("readable corpus file");
        let outcome = std::panic::catch_unwind(|| target(&data));
        assert!(
            outcome.is_ok(),
            "fuzz target {name} panicked on {}",
            file.display()
        );
    }
}

#[test]
fn every_saved_corpus_and_regression_input_passes_its_target() {
    for (name, target) in TARGETS {
        let corpus = files_in(&repo_path(&format!("fuzz/corpus/{name}")));
        assert!(
            corpus.len() >= 10,
            "fuzz/corpus/{name} holds the minimised corpus ({} files)",
            corpus.len()
        );
        replay(name, target, &corpus);
        let regressions = files_in(&repo_path(&format!("fuzz/regressions/{name}")));
        replay(name, target, &regressions);
    }
}

#[test]
fn seeds_and_sip_fixtures_pass_their_targets() {
    let mut sip = files_in(&repo_path("tests/fixtures/sip"));
    sip.extend(files_in(&repo_path("fuzz/seeds/sip")));
    assert!(
        sip.len() > 50,
        "SIP fixtures, RFC 4475 messages and captured probes"
    );
    replay("sip_parse", sip_parse, &sip);
    replay("sip_framing", sip_framing, &sip);
    for name in ["p2p_record", "config", "bgp_message"] {
        let seeds = files_in(&repo_path(&format!("fuzz/seeds/{name}")));
        assert!(
            seeds.len() >= 10,
            "fuzz/seeds/{name} holds the hand-made seeds"
        );
        let target = TARGETS
            .iter()
            .find_map(|(target_name, target)| (*target_name == name).then_some(*target))
            .expect("a target of that name");
        replay(name, target, &seeds);
    }
}

#[test]
fn every_fuzz_target_binary_calls_a_shared_body() {
    let manifest = std::fs::read_to_string(repo_path("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let manifest: toml::Table = toml::from_str(&manifest).expect("valid TOML");
    let features = manifest["dependencies"]["sentrypeer"]["features"]
        .as_array()
        .expect("the fuzz crate names the library's features");
    assert!(
        features
            .iter()
            .any(|feature| feature.as_str() == Some("fuzzing")),
        "the fuzz crate enables the `fuzzing` feature (the bodies are not in the shipped library)"
    );
    let bins = manifest["bin"].as_array().expect("[[bin]] entries");
    let mut names: Vec<&str> = bins
        .iter()
        .map(|bin| bin["name"].as_str().expect("bin name"))
        .collect();
    names.sort_unstable();
    let mut shared: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    shared.sort_unstable();
    assert_eq!(
        names, shared,
        "fuzz/Cargo.toml lists exactly the shared targets"
    );
    for name in names {
        let source = std::fs::read_to_string(repo_path(&format!("fuzz/fuzz_targets/{name}.rs")))
            .expect("target source");
        assert!(
            source.contains(&format!("sentrypeer::fuzzing::{name}(")),
            "fuzz/fuzz_targets/{name}.rs calls sentrypeer::fuzzing::{name}"
        );
    }
}

#[test]
fn framing_loop_frames_messages_alike_whatever_the_read_sizes() {
    let stream =
        b"\r\nOPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabcREGISTER sip:b SIP/2.0\r\n\r\n\r\nXY";
    let (messages, end) = frame_stream(stream, &[1], 1024);
    assert_eq!(messages.len(), 2);
    assert!(messages[0].ends_with(b"abc"));
    assert_eq!(end, StreamEnd::Leftover(b"XY".to_vec()));
    assert_eq!(frame_stream(stream, &[1000], 1024), (messages, end));
    let (_, oversized) = frame_stream(&[b'a'; 100], &[7], 64);
    assert_eq!(oversized, StreamEnd::TooLarge);
}

#[test]
fn records_signed_by_the_test_key_reach_the_field_checks() {
    let event = BadActor::from_probe(
        &parse(b"OPTIONS sip:100@192.0.2.10 SIP/2.0\r\nTo: <sip:100@192.0.2.10>\r\n\r\n"),
        &capture(),
    );
    let mut event = event;
    event.event_timestamp = record_window().0 - SignedDuration::from_hours(1);
    let signed = SignedRecord::sign(&event, NETWORK, test_key()).expect("signed");
    let (author, verified) = SignedRecord::verify(
        &signed.to_json(),
        NETWORK,
        Some(record_window().1),
        record_window().0,
    )
    .expect("a record signed by the test key verifies");
    assert_eq!(author, test_key().public().to_peer_id());
    assert_eq!(verified.called_number, "100");
    // The body alone, as the target signs it, verifies too.
    p2p_record(signed.body.as_bytes());
}

#[test]
fn a_lone_carriage_return_in_an_error_would_be_caught() {
    assert!(std::panic::catch_unwind(|| assert_one_line("a\rb")).is_err());
    assert_one_line("invalid value for db_file: empty path");
}

#[test]
fn slices_outside_the_input_are_told_apart() {
    let whole = b"abcdef";
    assert!(is_within(&whole[1..3], whole));
    assert!(is_within(&whole[6..], whole));
    let copy = whole.to_vec();
    assert!(!is_within(&copy[..3], whole));
}
