//! A dip's answer from the live blocklist and the agent's policy: the called number (each form)
//! first, then the caller's IP; the first verdict blocks. The verdict header says which key
//! matched and its facts, or why a key the list holds did not block.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::counters::VerdictOutcome;
use super::{Agent, BlockAnswer};
use crate::blocklist::{Refusal, Verdict};
use crate::sip::redirect::{Answer, Dip};

/// Which key of a dip the list knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Number,
    Ip,
}

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Ip => "ip",
        }
    }
}

impl Agent {
    /// The answer to `dip` at `now`, counted.
    pub fn decide(&self, dip: &Dip, now: Timestamp) -> Answer {
        let mut refused: Option<(KeyKind, String, Refusal)> = None;
        let mut note = |kind, key: &str, refusal| {
            refused.get_or_insert_with(|| (kind, key.to_owned(), refusal));
        };
        for number in &dip.numbers {
            let Some(entry) = self.blocklist.lookup_number(number) else {
                continue;
            };
            match self.policy.decide_number(number, &entry, now) {
                Ok(verdict) => return self.blocked(KeyKind::Number, number, &verdict),
                Err(refusal) => note(KeyKind::Number, number, refusal),
            }
        }
        if let Some(ip) = dip.caller_ip
            && let Some(entry) = self.blocklist.lookup_ip(ip)
        {
            match self.policy.decide_ip(ip, &entry, now) {
                Ok(verdict) => return self.blocked(KeyKind::Ip, &ip.to_string(), &verdict),
                Err(refusal) => note(KeyKind::Ip, &ip.to_string(), refusal),
            }
        }
        self.counters
            .verdict(VerdictOutcome::Clean, refused.is_some());
        let mut verdict = String::from("clean");
        if let Some((kind, key, refusal)) = &refused {
            let _ = write!(
                verdict,
                "; key={}; value={key}; refused={}",
                kind.name(),
                refusal_name(*refusal)
            );
        }
        Answer {
            code: if self.options.default_destination.is_some() {
                302
            } else {
                404
            },
            contact: self.options.default_destination.clone(),
            verdict,
        }
    }

    fn blocked(&self, kind: KeyKind, key: &str, verdict: &Verdict) -> Answer {
        let outcome = match kind {
            KeyKind::Number => VerdictOutcome::BlockedNumber,
            KeyKind::Ip => VerdictOutcome::BlockedIp,
        };
        self.counters.verdict(outcome, false);
        let origin = match (verdict.local, verdict.remote) {
            (true, true) => "local+peers",
            (true, false) => "local",
            _ => "peers",
        };
        let text = format!(
            "blocked; key={}; value={key}; first_seen={}; last_seen={}; count={}; origin={origin}",
            kind.name(),
            verdict.first_seen,
            verdict.last_seen,
            verdict.count,
        );
        let (code, contact) = match &self.options.block {
            BlockAnswer::Status(code) => (*code, None),
            BlockAnswer::RedirectTo(destination) => (302, Some(destination.clone())),
        };
        Answer {
            code,
            contact,
            verdict: text,
        }
    }
}

/// A refusal's name in the verdict header.
fn refusal_name(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::SpecialAddress(_) => "special-address",
        Refusal::OwnAddress => "own-address",
        Refusal::NeverListed => "never-listed",
        Refusal::RemoteUntrusted => "remote-untrusted",
        Refusal::NoCountedOrigin => "no-counted-origin",
        Refusal::BelowMinCount => "below-min-count",
        Refusal::TooOld => "too-old",
        Refusal::Unproven => "unproven",
    }
}
