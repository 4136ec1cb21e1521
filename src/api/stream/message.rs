//! The stream's messages as Server-Sent Events text. Every `data:` is one line of compact JSON
//! (JSON escapes line breaks inside strings), so no message can end early or forge another.
//!
//! ```text
//! retry: 3000
//!
//! id: 1764950400000000
//! event: open
//! data: {"last_event_id":1764950400000000,"replayed":0}
//!
//! id: 1764950400000001
//! event: decision
//! data: {"seq":1764950400000001,"change":"new","reasons":[],"removed":false,"key_type":"ip",…}
//!
//! event: event
//! data: {"app_name":"sentrypeer",…,"attack_type":"scan"}
//!
//! : keep-alive
//! ```

use std::fmt::Write;

use serde::Serialize;

use crate::blocklist::{Blocklist, Change, Key, ReplayError};
use crate::event::{Transport, format_timestamp};
use crate::sinks::live_events::LiveEvent;

/// How long a disconnected client should wait before reconnecting (SSE `retry`), milliseconds.
const RETRY_MILLISECONDS: u64 = 3000;

/// The first lines: the reconnection delay, then `open` at `position` (the id to resume from)
/// after `replayed` missed decisions follow; `position` is `None` without decisions.
pub(crate) fn open(out: &mut String, position: Option<u64>, replayed: usize) {
    retry(out);
    #[derive(Serialize)]
    struct Open {
        last_event_id: Option<u64>,
        replayed: usize,
    }
    let body = Open {
        last_event_id: position,
        replayed,
    };
    message(out, position, "open", &body);
}

/// The first lines when the client's `Last-Event-ID` cannot be resumed: the reconnection delay,
/// then `reset` at `position` (the id to resume from after reloading the full list).
pub(crate) fn reset(out: &mut String, position: u64, requested: u64, error: &ReplayError) {
    retry(out);
    #[derive(Serialize)]
    struct Reset {
        last_event_id: u64,
        requested: u64,
        reason: &'static str,
        message: String,
    }
    let reason = match error {
        ReplayError::TooOld { .. } => "too_old",
        _ => "unknown",
    };
    let body = Reset {
        last_event_id: position,
        requested,
        reason,
        message: format!("{error}: reload the full list, then follow this stream"),
    };
    message(out, Some(position), "reset", &body);
}

/// One change of the blocklist.
pub(crate) fn decision(out: &mut String, change: &Change, blocklist: &Blocklist) {
    let entry = &change.entry;
    let body = Decision {
        seq: change.seq,
        change: change.kind.as_str(),
        reasons: change.reasons.names().collect(),
        removed: change.kind.is_removal(),
        key_type: match change.key {
            Key::Ip(_) => "ip",
            Key::Number(_) => "number",
        },
        key: change.key.to_string(),
        first_seen: format_timestamp(entry.first_seen),
        last_seen: format_timestamp(entry.last_seen),
        count: entry.count(),
        local_count: entry.local_count,
        remote_count: entry.remote_count,
        attack_types: entry.attack_types().map(|kind| kind.as_str()).collect(),
        transports: (Transport::ALL.into_iter())
            .filter(|transport| entry.seen_on(*transport))
            .map(Transport::as_str)
            .collect(),
        proven: entry.proven,
        authors: (entry.authors.ids())
            .filter_map(|id| blocklist.author_name(id))
            .map(|name| name.to_string())
            .collect(),
        more_authors: entry.authors.has_more(),
    };
    message(out, Some(change.seq), "decision", &body);
}

/// One captured event or peer record, in its JSON form.
pub(crate) fn event(out: &mut String, live: &LiveEvent) {
    debug_assert!(!live.json.contains(['\n', '\r']), "one line of JSON");
    let _ = write!(out, "event: event\ndata: {}\n\n", live.json);
}

/// `missed` events were lost because the client fell behind the broadcast.
pub(crate) fn missed(out: &mut String, missed: u64) {
    #[derive(Serialize)]
    struct Missed {
        events: u64,
    }
    message(out, None, "missed", &Missed { events: missed });
}

/// A comment that keeps proxies and clients from timing out an idle stream.
pub(crate) fn keep_alive(out: &mut String) {
    out.push_str(": keep-alive\n\n");
}

/// A change, as `data` of a `decision`.
#[derive(Serialize)]
struct Decision {
    seq: u64,
    change: &'static str,
    reasons: Vec<&'static str>,
    removed: bool,
    key_type: &'static str,
    key: String,
    first_seen: String,
    last_seen: String,
    count: u64,
    local_count: u32,
    remote_count: u32,
    attack_types: Vec<&'static str>,
    transports: Vec<&'static str>,
    proven: bool,
    authors: Vec<String>,
    more_authors: bool,
}

fn retry(out: &mut String) {
    let _ = write!(out, "retry: {RETRY_MILLISECONDS}\n\n");
}

fn message(out: &mut String, id: Option<u64>, kind: &str, body: &impl Serialize) {
    if let Some(id) = id {
        let _ = writeln!(out, "id: {id}");
    }
    let json = serde_json::to_string(body).unwrap_or_else(|_| String::from("{}"));
    let _ = write!(out, "event: {kind}\ndata: {json}\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::{BlocklistOptions, Observation};
    use crate::event::test_support::EventBuilder;

    #[test]
    fn a_decision_is_one_sse_message_naming_what_changed() {
        let blocklist = Blocklist::new(&BlocklistOptions::default());
        let mut subscription = blocklist.subscribe();
        let event = EventBuilder::new()
            .source_ip("203.0.113.9")
            .number("0046812118532")
            .build();
        blocklist.observe(&Observation::from_event(&event, false));
        let change = subscription
            .try_recv()
            .expect("open")
            .expect("a change for the IP");
        let mut out = String::new();
        decision(&mut out, &change, &blocklist);
        let (head, data) = out.split_once("data: ").expect("data line");
        assert_eq!(head, format!("id: {}\nevent: decision\n", change.seq));
        assert!(data.ends_with("\n\n") && data.trim_end().lines().count() == 1);
        let json: serde_json::Value = serde_json::from_str(data.trim_end()).expect("JSON");
        assert_eq!(json["seq"], change.seq);
        assert_eq!(json["change"], "new");
        assert_eq!(json["removed"], false);
        assert_eq!(json["key_type"], "ip");
        assert_eq!(json["key"], "203.0.113.9");
        assert_eq!(json["local_count"], 1);
        assert_eq!(json["transports"], serde_json::json!(["UDP"]));
        assert_eq!(json["authors"], serde_json::json!([]));
    }

    #[test]
    fn a_reset_says_why_and_where_to_resume() {
        let mut out = String::new();
        let error = ReplayError::TooOld {
            last_seen: 5,
            oldest_kept: 9,
        };
        reset(&mut out, 20, 5, &error);
        assert!(out.starts_with("retry: 3000\n\nid: 20\nevent: reset\ndata: {"));
        assert!(out.contains(r#""reason":"too_old""#), "{out}");
    }
}
