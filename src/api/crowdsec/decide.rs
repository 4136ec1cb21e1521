//! Which CrowdSec decisions a poll returns, from the live blocklist and the CrowdSec policy.
//!
//! An IP has an active decision at time `t` when the policy makes it a verdict at `t` and its
//! newest counted event is less than the ban duration before `t`. A delta since a bouncer's
//! previous poll is made of:
//! - a sweep of the list: IPs active now and seen since the previous poll are `new` (a renewal
//!   when the bouncer has them already); IPs active then and not now are `deleted` (the ban or the
//!   policy's `max_age` ran out: no change is published for time passing);
//! - the blocklist's changes since the previous poll ([`Blocklist::resume`]): keys that became
//!   verdicts without a newer event (a peer's old record reaching a quorum) are `new`; keys the
//!   list expired or evicted that were verdicts are `deleted`. When those changes have left the
//!   replay window, every active decision is sent as `new` instead (a renewal), and a removal
//!   missed that way ends on the bouncer when its duration does.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;

use jiff::{SignedDuration, Timestamp};

use super::{Decision, decision};
use crate::api::ApiState;
use crate::blocklist::{Blocklist, EntryView, Key, Policy};

/// How far before the previous poll an IP's newest event may be and still renew its decision:
/// the blocklist keeps times in whole seconds.
const RENEWAL_OVERLAP: SignedDuration = SignedDuration::from_secs(2);

/// Where a bouncer's previous poll left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Position {
    /// When it polled.
    at: Timestamp,
    /// The id of the latest change of the blocklist then.
    seq: u64,
}

/// What a poll returns.
#[derive(Debug, Default)]
pub(super) struct Changes {
    pub(super) new: Vec<Decision>,
    pub(super) deleted: Vec<Decision>,
}

/// The decisions of one API state.
pub(super) struct Decider<'a> {
    blocklist: &'a Blocklist,
    policy: &'a Policy,
    ban: SignedDuration,
}

impl<'a> Decider<'a> {
    pub(super) fn new(state: &'a ApiState) -> Self {
        Self {
            blocklist: &state.blocklist,
            policy: &state.crowdsec_policy,
            ban: state.crowdsec_ban,
        }
    }

    /// The position of a poll at `now`; take it before reading the list, so what changes while
    /// it is read is looked at again by the next poll.
    pub(super) fn position(&self, now: Timestamp) -> Position {
        Position {
            at: now,
            seq: self.blocklist.stats().next_seq.saturating_sub(1),
        }
    }

    /// The active decision on `ip`, if any.
    pub(super) fn active(&self, ip: IpAddr, now: Timestamp) -> Option<Decision> {
        // `::ffff:192.0.2.7` is 192.0.2.7: the decision names it so.
        let ip = ip.to_canonical();
        let entry = self.blocklist.lookup_ip(ip)?;
        let end = self.active_until(ip, &entry, now)?.1;
        Some(decision(ip, end.duration_since(now)))
    }

    /// Every active decision, as `new`.
    pub(super) fn startup(&self, now: Timestamp) -> Changes {
        let mut new = Vec::new();
        self.blocklist.for_each_ip(|ip, entry| {
            if let Some((_, end)) = self.active_until(ip, &entry, now) {
                new.push(decision(ip, end.duration_since(now)));
            }
            ControlFlow::Continue(())
        });
        Changes {
            new,
            deleted: Vec::new(),
        }
    }

    /// What changed since `previous` (see the module docs).
    pub(super) fn changes_since(&self, previous: &Position, now: Timestamp) -> Changes {
        let replayed = self.blocklist.resume(previous.seq).ok();
        let renew_from = previous
            .at
            .checked_sub(RENEWAL_OVERLAP)
            .unwrap_or(previous.at);
        let mut new = HashMap::new();
        let mut deleted = HashMap::new();
        self.blocklist.for_each_ip(|ip, entry| {
            let seen_within_ban = entry
                .last_seen
                .checked_add(self.ban)
                .is_ok_and(|end| end > previous.at);
            if !seen_within_ban {
                // Active neither at the previous poll nor now.
                return ControlFlow::Continue(());
            }
            match self.active_until(ip, &entry, now) {
                Some((last_seen, end)) => {
                    if replayed.is_none() || last_seen >= renew_from {
                        new.insert(ip, decision(ip, end.duration_since(now)));
                    }
                }
                None => {
                    if self.active_until(ip, &entry, previous.at).is_some() {
                        deleted.insert(ip, decision(ip, SignedDuration::ZERO));
                    }
                }
            }
            ControlFlow::Continue(())
        });
        let changes = replayed.map(|(changes, _subscription)| changes);
        for change in changes.unwrap_or_default() {
            let Key::Ip(ip) = change.key else {
                continue;
            };
            if new.contains_key(&ip) {
                continue;
            }
            let now_listed = self.blocklist.lookup_ip(ip);
            if let Some(entry) = now_listed {
                if let Some((_, end)) = self.active_until(ip, &entry, now) {
                    new.insert(ip, decision(ip, end.duration_since(now)));
                }
            } else if change.kind.is_removal() && self.was_active_after(ip, &change.entry, previous)
            {
                deleted.insert(ip, decision(ip, SignedDuration::ZERO));
            }
        }
        deleted.retain(|ip, _| !new.contains_key(ip));
        Changes {
            new: new.into_values().collect(),
            deleted: deleted.into_values().collect(),
        }
    }

    /// When `entry` makes `ip` an active decision at `at`: its newest counted event and when the
    /// decision ends.
    fn active_until(
        &self,
        ip: IpAddr,
        entry: &EntryView,
        at: Timestamp,
    ) -> Option<(Timestamp, Timestamp)> {
        let verdict = self.policy.decide_ip(ip, entry, at).ok()?;
        let end = verdict.last_seen.checked_add(self.ban).ok()?;
        (end > at).then_some((verdict.last_seen, end))
    }

    /// Whether a removed key was a verdict when last seen, with a ban lasting past the
    /// previous poll (so the bouncer may hold it).
    fn was_active_after(&self, ip: IpAddr, entry: &EntryView, previous: &Position) -> bool {
        self.active_until(ip, entry, entry.last_seen)
            .is_some_and(|(_, end)| end > previous.at)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::blocklist::{BlocklistOptions, ConsumerOptions, Observation, VerdictOptions};
    use crate::event::test_support::EventBuilder;

    const IP: &str = "198.51.100.7";

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    /// A blocklist, and a CrowdSec policy that lets documentation addresses be verdicts.
    fn setup(options: &BlocklistOptions, consumer: &ConsumerOptions) -> (Blocklist, Policy) {
        let blocklist = Blocklist::new(options);
        let node = VerdictOptions {
            include_special_addresses: true,
            ..VerdictOptions::default()
        };
        let policy = Policy::new(&node, consumer, &blocklist);
        (blocklist, policy)
    }

    fn decider<'a>(blocklist: &'a Blocklist, policy: &'a Policy, ban_hours: i64) -> Decider<'a> {
        Decider {
            blocklist,
            policy,
            ban: SignedDuration::from_hours(ban_hours),
        }
    }

    fn observe(blocklist: &Blocklist, source: &str, seconds_ago: i64, peer: Option<&str>) {
        let mut builder = EventBuilder::new()
            .source_ip(source)
            .seconds_ago(seconds_ago);
        if let Some(peer) = peer {
            builder = builder.peer(peer);
        }
        blocklist.observe(&Observation::from_event(&builder.build(), false));
    }

    fn values(decisions: &[Decision]) -> Vec<&str> {
        let mut values: Vec<&str> = decisions.iter().map(|d| d.value.as_str()).collect();
        values.sort_unstable();
        values
    }

    fn later(now: Timestamp, seconds: i64) -> Timestamp {
        now.checked_add(SignedDuration::from_secs(seconds))
            .expect("in range")
    }

    #[test]
    fn a_decision_lasts_the_ban_after_the_newest_event_then_is_deleted() {
        let (blocklist, policy) = setup(&BlocklistOptions::default(), &ConsumerOptions::crowdsec());
        let decider = decider(&blocklist, &policy, 1);
        observe(&blocklist, IP, 1800, None);
        observe(&blocklist, "198.51.100.8", 7200, None);
        let now = Timestamp::now();
        let startup = decider.startup(now);
        assert_eq!(values(&startup.new), [IP], "the 2-hour-old one has expired");
        assert!(
            startup.new[0].duration.starts_with("29m")
                || startup.new[0].duration.starts_with("30m")
        );
        let position = decider.position(now);
        let quiet = decider.changes_since(&position, later(now, 60));
        assert!(quiet.new.is_empty() && quiet.deleted.is_empty());
        let after_ban = decider.changes_since(&position, later(now, 1800));
        assert_eq!(
            (values(&after_ban.new), values(&after_ban.deleted)),
            (vec![], vec![IP])
        );
        assert_eq!(
            decider.active(ip(IP), now).map(|d| d.value),
            Some(IP.to_owned())
        );
        assert!(decider.active(ip(IP), later(now, 1800)).is_none());
    }

    #[test]
    fn an_ip_seen_again_is_renewed_without_a_change_being_published() {
        let (blocklist, policy) = setup(&BlocklistOptions::default(), &ConsumerOptions::crowdsec());
        let decider = decider(&blocklist, &policy, 24);
        for _ in 0..3 {
            observe(&blocklist, IP, 600, None);
        }
        let now = Timestamp::now();
        let position = decider.position(now);
        // The fourth event changes nothing verdict-relevant (no threshold at 4).
        let mut subscription = blocklist.subscribe();
        observe(&blocklist, IP, 0, None);
        assert!(matches!(subscription.try_recv(), Ok(None)), "no change");
        let delta = decider.changes_since(&position, now);
        assert_eq!(values(&delta.new), [IP]);
        assert!(delta.new[0].duration.starts_with("23h59m") || delta.new[0].duration == "24h0m0s");
    }

    #[test]
    fn the_policy_max_age_running_out_deletes_the_decision() {
        let consumer = ConsumerOptions {
            max_age: Some(Duration::from_secs(600)),
            ..ConsumerOptions::crowdsec()
        };
        let (blocklist, policy) = setup(&BlocklistOptions::default(), &consumer);
        let decider = decider(&blocklist, &policy, 24);
        observe(&blocklist, IP, 300, None);
        let now = Timestamp::now();
        assert_eq!(values(&decider.startup(now).new), [IP]);
        let position = decider.position(now);
        let delta = decider.changes_since(&position, later(now, 400));
        assert_eq!(values(&delta.deleted), [IP]);
    }

    #[test]
    fn expired_and_evicted_keys_that_were_decisions_are_deleted() {
        let options = BlocklistOptions {
            max_ips: 64,
            shards: 1,
            retention: Some(Duration::from_secs(3600)),
            ..BlocklistOptions::default()
        };
        let (blocklist, policy) = setup(&options, &ConsumerOptions::crowdsec());
        let decider = decider(&blocklist, &policy, 24);
        // The oldest of 64 is evicted by the 65th; one more expires by retention.
        observe(&blocklist, "198.51.100.200", 3000, None);
        for host in 1..=63 {
            observe(&blocklist, &format!("198.51.100.{host}"), 100, None);
        }
        let now = Timestamp::now();
        let position = decider.position(now);
        observe(&blocklist, "203.0.113.1", 0, None);
        assert!(
            blocklist.lookup_ip(ip("198.51.100.200")).is_none(),
            "evicted"
        );
        let expired = blocklist.expire(later(now, 3601 - 100 + 50));
        assert!(!expired.is_empty(), "expired by retention");
        let delta = decider.changes_since(&position, later(now, 3601 - 100 + 50));
        let deleted = values(&delta.deleted);
        assert!(deleted.contains(&"198.51.100.200"), "{deleted:?}");
        assert!(deleted.contains(&"198.51.100.1"), "{deleted:?}");
        assert_eq!(values(&delta.new), ["203.0.113.1"]);
    }

    #[test]
    fn an_old_peer_record_completing_a_quorum_becomes_a_decision() {
        let (blocklist, policy) = setup(&BlocklistOptions::default(), &ConsumerOptions::crowdsec());
        let decider = decider(&blocklist, &policy, 24);
        observe(&blocklist, IP, 3600, Some("12D3KooWPeerOne"));
        let now = Timestamp::now();
        assert!(decider.startup(now).new.is_empty(), "one untrusted author");
        let position = decider.position(now);
        observe(&blocklist, IP, 3600, Some("12D3KooWPeerTwo"));
        let delta = decider.changes_since(&position, now);
        assert_eq!(
            values(&delta.new),
            [IP],
            "an hour old, yet new to the bouncer"
        );
    }

    #[test]
    fn changes_beyond_the_replay_window_renew_every_decision() {
        let options = BlocklistOptions {
            replay_window: 4,
            ..BlocklistOptions::default()
        };
        let (blocklist, policy) = setup(&options, &ConsumerOptions::crowdsec());
        let decider = decider(&blocklist, &policy, 24);
        observe(&blocklist, IP, 3600, None);
        let now = Timestamp::now();
        let position = decider.position(now);
        for host in 1..=8 {
            observe(&blocklist, &format!("203.0.113.{host}"), 0, None);
        }
        let delta = decider.changes_since(&position, now);
        assert_eq!(delta.new.len(), 9, "the hour-old decision is renewed too");
    }
}
