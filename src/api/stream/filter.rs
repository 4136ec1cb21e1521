//! What a `/api/v1/stream` client asked for: the kinds (`kind=event`, `decision`, or both, comma
//! separated), `origin` (`local`, `peer`, `opendht`, `any`), `attack_type`, and for decisions an optional
//! consumer `policy` (`feeds`, `crowdsec`). Parsed strictly, as every `/api/v1/` parameter.

use jiff::Timestamp;

use crate::api::ApiError;
use crate::api::params::{Params, bad};
use crate::blocklist::{AuthorId, Blocklist, Change, EntryView, Policy};
use crate::event::{BadActor, OPENDHT_ORIGIN, Origin};
use crate::sip::AttackType;
use crate::store::query::OriginFilter;

/// Which consumer's verdict policy decisions must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyChoice {
    /// The blocklist feeds' (`[verdicts.feeds]`).
    Feeds,
    /// The CrowdSec decision stream's (`[verdicts.crowdsec]`).
    CrowdSec,
}

/// A client's filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamFilter {
    /// Captured events and peer records.
    pub(crate) events: bool,
    /// Changes of the blocklist.
    pub(crate) decisions: bool,
    /// Whose events: an event's origin; a decision's key seen from that side.
    pub(crate) origin: OriginFilter,
    /// The blocklist's author of OpenDHT values (for `origin=opendht` decisions).
    pub(crate) opendht_author: Option<AuthorId>,
    /// An event of this type; a decision whose key has seen this type.
    pub(crate) attack_type: Option<AttackType>,
    /// Decisions only on keys that are (or, for removals, were) that consumer's verdicts.
    pub(crate) policy: Option<PolicyChoice>,
}

impl StreamFilter {
    /// Takes `kind`, `origin`, `attack_type` and `policy` from the query.
    pub(crate) fn take(params: &mut Params, blocklist: &Blocklist) -> Result<Self, ApiError> {
        let (events, decisions) = match params.take("kind") {
            None => (true, true),
            Some(text) => kinds(&text)?,
        };
        let policy = match params.take("policy").as_deref() {
            None | Some("none") => None,
            Some("feeds") => Some(PolicyChoice::Feeds),
            Some("crowdsec") => Some(PolicyChoice::CrowdSec),
            Some(_) => return Err(bad("policy", "expected feeds, crowdsec or none")),
        };
        Ok(Self {
            events,
            decisions,
            origin: params.origin()?,
            opendht_author: blocklist.author_id(OPENDHT_ORIGIN),
            attack_type: params.attack_type()?,
            policy,
        })
    }

    /// Whether an event passes.
    pub(crate) fn passes_event(&self, event: &BadActor) -> bool {
        let origin = match self.origin {
            OriginFilter::Any => true,
            OriginFilter::Local => event.origin.is_local(),
            OriginFilter::Peer => !event.origin.is_local(),
            OriginFilter::OpenDht => event.origin == Origin::OpenDht,
        };
        origin
            && self
                .attack_type
                .is_none_or(|wanted| event.attack.attack_type == wanted)
    }

    /// Whether a change passes; `policy` is the chosen consumer's, when one was asked for.
    pub(crate) fn passes_change(
        &self,
        change: &Change,
        policy: Option<&Policy>,
        now: Timestamp,
    ) -> bool {
        let entry = &change.entry;
        self.passes_entry(entry)
            && policy.is_none_or(|policy| {
                // A removed key is judged as it was when last seen: the policy's age limit
                // never removed it, the list did.
                let at = if change.kind.is_removal() {
                    entry.last_seen
                } else {
                    now
                };
                policy.verdict(&change.key, entry, at).is_some()
            })
    }

    fn passes_entry(&self, entry: &EntryView) -> bool {
        let origin = match self.origin {
            OriginFilter::Any => true,
            OriginFilter::Local => entry.local_count > 0,
            OriginFilter::Peer => entry.remote_count > 0,
            OriginFilter::OpenDht => self
                .opendht_author
                .is_some_and(|author| entry.authors.contains(author)),
        };
        origin
            && self
                .attack_type
                .is_none_or(|wanted| entry.attack_types & wanted.bit() != 0)
    }
}

/// `event`, `decision`, or both, comma separated.
fn kinds(text: &str) -> Result<(bool, bool), ApiError> {
    let (mut events, mut decisions) = (false, false);
    for kind in text.split(',') {
        match kind {
            "event" => events = true,
            "decision" => decisions = true,
            _ => return Err(bad("kind", "expected event, decision or event,decision")),
        }
    }
    Ok((events, decisions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_parsed_strictly() {
        assert_eq!(kinds("event").ok(), Some((true, false)));
        assert_eq!(kinds("decision").ok(), Some((false, true)));
        assert_eq!(kinds("decision,event").ok(), Some((true, true)));
        for bad in ["", "events", "event,", "Event", "event decision"] {
            assert!(kinds(bad).is_err(), "{bad:?}");
        }
    }
}
