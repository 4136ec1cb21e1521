//! Golden replies: for each personality, scripted sessions with a fixed key and clock, every
//! reply compared byte for byte with `tests/fixtures/replies/<personality>/<case>.sip`.
//! `UPDATE_GOLDEN=1 cargo test --lib golden` rewrites the files (review the diff).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{OFFER, auth, pbx, proxy_auth, request, statuses, udp, with_our_tag};
use crate::sip::pbx::{Pbx, ReplyPlan};
use crate::sip::respond::CANNED_REPLY;

/// One golden case: its file name and the bytes we sent.
type Golden = (String, Vec<u8>);

fn golden_dir(personality: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replies")
        .join(personality)
}

/// Records each datagram of `plan` as `<case>.sip`, or `<case>-<n>-<status>.sip` when there are
/// several.
fn record(cases: &mut Vec<Golden>, case: &str, plan: &ReplyPlan) {
    assert!(!plan.immediate.is_empty(), "{case}: nothing sent");
    let several = plan.immediate.len() > 1;
    for (index, outgoing) in plan.immediate.iter().enumerate() {
        let name = match (several, outgoing.status) {
            (false, _) => format!("{case}.sip"),
            (true, Some(status)) => format!("{case}-{}-{status}.sip", index + 1),
            (true, None) => format!("{case}-{}-request.sip", index + 1),
        };
        cases.push((name, outgoing.bytes.clone()));
    }
}

/// A scripted session against one responder, recording every reply.
struct Session {
    pbx: Pbx,
    t0: Instant,
    cases: Vec<Golden>,
}

impl Session {
    /// Sends `bytes` (no size limit, so the files show the full replies) and records the replies
    /// as `case`.
    fn send(&mut self, case: &str, bytes: &[u8]) -> ReplyPlan {
        let plan = super::handle_from(&mut self.pbx, bytes, super::SOURCE, None, self.t0);
        record(&mut self.cases, case, &plan);
        plan
    }

    /// Sends `bytes` without recording the replies (setting up a dialog).
    fn set_up(&mut self, bytes: &[u8]) -> ReplyPlan {
        super::handle_from(&mut self.pbx, bytes, super::SOURCE, None, self.t0)
    }

    /// Fires a timer `at` after the start and records what it sends as `case`.
    fn fire(&mut self, case: &str, plan: &ReplyPlan, at: Duration) -> ReplyPlan {
        let timer = plan.timers.first().expect("a timer");
        let fired = self.pbx.fire(timer, self.t0 + at);
        record(&mut self.cases, case, &fired);
        fired
    }
}

/// The sessions every PBX personality goes through.
fn pbx_sessions(name: &str) -> Vec<Golden> {
    let t0 = Instant::now();
    let mut session = Session {
        pbx: pbx(name, t0),
        t0,
        cases: Vec::new(),
    };
    let personality = session.pbx.personality().clone();
    let s = &mut session;
    s.send(
        "options",
        &request("OPTIONS", "100", "g-options", 1, &[], ""),
    );
    s.send(
        "register-unknown-extension",
        &request("REGISTER", "1747613575", "g-reg-0", 1, &[], ""),
    );
    s.send(
        "register-challenge",
        &request("REGISTER", "105", "g-reg-1", 1, &[], ""),
    );
    let auth = auth(&s.pbx, t0);
    let proxy_auth = proxy_auth(&s.pbx, t0);
    for attempt in 1..personality.auth_attempts {
        let bytes = request("REGISTER", "105", "g-reg-1", attempt + 1, &[&auth], "");
        s.send(&format!("register-wrong-password-{attempt}"), &bytes);
    }
    let cracked = request(
        "REGISTER",
        "105",
        "g-reg-1",
        9,
        &[&auth, "Expires: 120"],
        "",
    );
    s.send("register-cracked", &cracked);

    // First call: answered, then we hang up after the caller's ACK.
    let called = "0046812118532";
    let cseq = if personality.invite.challenge {
        s.send(
            "invite-challenge",
            &request("INVITE", called, "g-call-1", 1, &[], OFFER),
        );
        2
    } else {
        1
    };
    let invite = request("INVITE", called, "g-call-1", cseq, &[&proxy_auth], OFFER);
    let ringing = s.send("invite", &invite);
    let ring = personality.invite.ring;
    let answered = s.fire("invite-final", &ringing, ring);
    let ack = request("ACK", called, "g-call-1", cseq, &[], "");
    let ack = with_our_tag(&s.pbx, &ack, super::SOURCE);
    assert!(udp(&mut s.pbx, &ack, t0).is_empty());
    s.fire("invite-our-bye", &answered, ring + personality.invite.call);

    // Second call: the caller hangs up.
    let second = s.set_up(&request(
        "INVITE",
        "442071234567",
        "g-call-2",
        1,
        &[&proxy_auth],
        OFFER,
    ));
    let answered = s.pbx.fire(&second.timers[0], t0 + ring);
    assert_eq!(statuses(&answered), [Some(200)]);
    let bye = |pbx: &Pbx, cseq| {
        let bytes = request("BYE", "442071234567", "g-call-2", cseq, &[], "");
        with_our_tag(pbx, &bytes, super::SOURCE)
    };
    let in_dialog = bye(&s.pbx, 2);
    s.send("bye-in-dialog", &in_dialog);
    let gone = bye(&s.pbx, 3);
    s.send("bye-unknown-dialog", &gone);

    // Third call: cancelled while ringing.
    s.set_up(&request(
        "INVITE",
        "0900123456",
        "g-call-3",
        1,
        &[&proxy_auth],
        OFFER,
    ));
    s.send(
        "cancel-ringing",
        &request("CANCEL", "0900123456", "g-call-3", 1, &[], ""),
    );
    s.send(
        "cancel-unknown-dialog",
        &request("CANCEL", "0900123456", "g-call-9", 1, &[], ""),
    );

    s.send(
        "unknown-method",
        &request("FOO", "100", "g-foo", 1, &[], ""),
    );
    let not_allowed = if personality.allows("INFO") {
        "PRACK"
    } else {
        "INFO"
    };
    s.send(
        "method-not-allowed",
        &request(not_allowed, "100", "g-na", 1, &[], ""),
    );
    s.send(
        "subscribe",
        &request("SUBSCRIBE", "100", "g-sub", 1, &["Event: presence"], ""),
    );
    s.send(
        "update-unknown-dialog",
        &request("UPDATE", "100", "g-upd", 1, &[], ""),
    );
    session.cases
}

fn canned_sessions() -> Vec<Golden> {
    let t0 = Instant::now();
    let mut pbx = pbx("canned", t0);
    let mut cases = Vec::new();
    for (case, method) in [("options", "OPTIONS"), ("invite", "INVITE"), ("ack", "ACK")] {
        let bytes = request(method, "100", "g-canned", 1, &[], "");
        let plan = super::handle_from(&mut pbx, &bytes, super::SOURCE, None, t0);
        record(&mut cases, case, &plan);
    }
    cases
}

fn check(personality: &str, cases: &[Golden]) {
    let dir = golden_dir(personality);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).expect("golden directory");
        for entry in std::fs::read_dir(&dir).expect("golden directory") {
            std::fs::remove_file(entry.expect("entry").path()).expect("remove stale golden file");
        }
        for (name, bytes) in cases {
            std::fs::write(dir.join(name), bytes).expect("write golden file");
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}; run with UPDATE_GOLDEN=1", dir.display()))
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = cases.iter().map(|(name, _)| name.clone()).collect();
    expected.sort();
    assert_eq!(
        on_disk, expected,
        "{personality}: golden files and cases differ"
    );
    for (name, bytes) in cases {
        let golden = std::fs::read(dir.join(name)).expect("golden file");
        assert!(
            golden == *bytes,
            "{personality}/{name} differs (UPDATE_GOLDEN=1 rewrites):\n--- golden\n{}\n--- now\n{}",
            String::from_utf8_lossy(&golden),
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn freepbx_replies_match_the_golden_files() {
    check("freepbx", &pbx_sessions("freepbx"));
}

#[test]
fn generic_replies_match_the_golden_files() {
    check("generic", &pbx_sessions("generic"));
}

#[test]
fn canned_replies_match_the_golden_files_and_the_originals_bytes() {
    let cases = canned_sessions();
    check("canned", &cases);
    for (name, bytes) in &cases {
        assert_eq!(bytes.as_slice(), CANNED_REPLY, "{name}");
        assert_eq!(bytes.len(), 729, "{name}");
    }
}

#[test]
fn golden_sessions_are_deterministic() {
    assert_eq!(pbx_sessions("freepbx"), pbx_sessions("freepbx"));
    assert_eq!(pbx_sessions("generic"), pbx_sessions("generic"));
}
