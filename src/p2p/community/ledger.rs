//! The community's summaries, added up per hour of arrival, as a plain value: at most one
//! summary per node per hour, at most [`MAX_COMMUNITY_NODES`] nodes remembered (the one heard
//! from least recently is dropped), hours older than [`COMMUNITY_WINDOW`] forgotten, methods
//! per hour capped. [`Ledger::view`] is what `/api/v1/community` shows.

use std::collections::{BTreeMap, HashMap, VecDeque};

use jiff::Timestamp;
use libp2p::PeerId;
use serde::Serialize;

use crate::p2p::protocol::{
    COMMUNITY_TOP, COMMUNITY_WINDOW, MAX_COMMUNITY_METHODS_PER_HOUR, MAX_COMMUNITY_NODES,
    SUMMARIES_PER_NODE_PER_HOUR, SummaryBody,
};

/// Seconds in an hour bucket.
const HOUR_SECONDS: i64 = 3600;

/// The hour bucket of `at` (hours since the Unix epoch).
pub(crate) fn hour_of(at: Timestamp) -> i64 {
    at.as_second().div_euclid(HOUR_SECONDS)
}

/// What became of a verified summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Counted; `dropped_node` when remembering its author forgot another node.
    Accepted {
        /// A node was forgotten to make room.
        dropped_node: bool,
    },
    /// Its author already had a summary counted this hour.
    DuplicateInHour,
}

/// What is remembered of one node.
#[derive(Debug, Clone)]
struct NodeEntry {
    /// Its summaries counted, per hour of arrival (oldest first, within the window).
    hours: VecDeque<(i64, u64)>,
    /// When its last summary was counted.
    last_received: Timestamp,
}

/// One hour's summaries, added up.
#[derive(Debug, Clone, Default)]
struct HourTotals {
    summaries: u64,
    events: u64,
    ip_addresses: u64,
    called_numbers: u64,
    by_attack_type: BTreeMap<String, u64>,
    by_method: BTreeMap<String, u64>,
    by_country: BTreeMap<String, u64>,
    /// Events of methods left out for [`MAX_COMMUNITY_METHODS_PER_HOUR`].
    methods_over_cap: u64,
}

/// The community's summaries (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    nodes: HashMap<PeerId, NodeEntry>,
    hours: BTreeMap<i64, HourTotals>,
    /// The first hour of the window when it was last pruned: it moves once an hour, so pruning
    /// (a pass over every node) runs once an hour, not once a summary.
    pruned_from: i64,
}

/// `/api/v1/community`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommunityView {
    /// Summaries received in this many hours are added up.
    pub window_hours: u64,
    /// Nodes with a summary in the window.
    pub nodes: u64,
    /// Summaries in the window.
    pub summaries: u64,
    /// The sums of the summaries' figures (distinct per node and hour, so an IP seen by two
    /// nodes, or in two hours, counts twice).
    pub totals: Totals,
    /// Events per attack type.
    pub by_attack_type: BTreeMap<String, u64>,
    /// Events per SIP method (the [`COMMUNITY_TOP`] largest).
    pub by_method: BTreeMap<String, u64>,
    /// Source IPs per country.
    pub by_country: BTreeMap<String, u64>,
    /// Per node, most events first (the [`COMMUNITY_TOP`] largest).
    pub per_node: Vec<NodeView>,
}

/// The figures of [`CommunityView::totals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    /// Events.
    pub events: u64,
    /// Source IPs.
    pub ip_addresses: u64,
    /// Called numbers.
    pub called_numbers: u64,
}

/// One node's share of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// Its PeerId.
    pub peer_id: String,
    /// Its summaries in the window.
    pub summaries: u64,
    /// The events they counted.
    pub events: u64,
    /// When its last summary arrived (UTC).
    pub last_received: String,
}

impl Ledger {
    /// Counts `body`, verified as `author`'s, arrived at `now`.
    pub(crate) fn admit(
        &mut self,
        author: PeerId,
        body: &SummaryBody,
        now: Timestamp,
    ) -> Admission {
        self.forget_before(now);
        let hour = hour_of(now);
        let mut dropped_node = false;
        if let Some(entry) = self.nodes.get(&author) {
            let this_hour = entry.hours.iter().filter(|(at, _)| *at == hour).count();
            if this_hour >= SUMMARIES_PER_NODE_PER_HOUR {
                return Admission::DuplicateInHour;
            }
        } else if self.nodes.len() >= MAX_COMMUNITY_NODES {
            let oldest = (self.nodes.iter())
                .min_by_key(|(_, entry)| entry.last_received)
                .map(|(peer, _)| *peer);
            if let Some(oldest) = oldest {
                self.nodes.remove(&oldest);
                dropped_node = true;
            }
        }
        let entry = self.nodes.entry(author).or_insert_with(|| NodeEntry {
            hours: VecDeque::new(),
            last_received: now,
        });
        entry.hours.push_back((hour, body.events));
        entry.last_received = now;
        self.hours.entry(hour).or_default().add(body);
        Admission::Accepted { dropped_node }
    }

    /// Nodes remembered.
    pub(crate) fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The window's sums as of `now`.
    pub(crate) fn view(&self, now: Timestamp) -> CommunityView {
        let first = first_hour(now);
        let mut sum = HourTotals::default();
        for totals in self.hours.range(first..).map(|(_, totals)| totals) {
            sum.merge(totals);
        }
        let mut per_node: Vec<NodeView> = (self.nodes.iter())
            .filter_map(|(peer, entry)| {
                let hours = entry.hours.iter().filter(|(hour, _)| *hour >= first);
                let (summaries, events) = hours.fold((0_u64, 0_u64), |(n, events), (_, e)| {
                    (n + 1, events.saturating_add(*e))
                });
                (summaries > 0).then(|| NodeView {
                    peer_id: peer.to_base58(),
                    summaries,
                    events,
                    last_received: entry.last_received.to_string(),
                })
            })
            .collect();
        let nodes = per_node.len() as u64;
        per_node.sort_by(|a, b| {
            b.events
                .cmp(&a.events)
                .then_with(|| a.peer_id.cmp(&b.peer_id))
        });
        per_node.truncate(COMMUNITY_TOP);
        CommunityView {
            window_hours: COMMUNITY_WINDOW.as_hours().unsigned_abs(),
            nodes,
            summaries: sum.summaries,
            totals: Totals {
                events: sum.events,
                ip_addresses: sum.ip_addresses,
                called_numbers: sum.called_numbers,
            },
            by_attack_type: sum.by_attack_type,
            by_method: largest(sum.by_method, COMMUNITY_TOP),
            by_country: sum.by_country,
            per_node,
        }
    }

    /// Forgets hours before the window, and nodes with no summary left in it (once an hour).
    fn forget_before(&mut self, now: Timestamp) {
        let first = first_hour(now);
        if first <= self.pruned_from {
            return;
        }
        self.pruned_from = first;
        self.hours = self.hours.split_off(&first);
        self.nodes.retain(|_, entry| {
            while entry.hours.front().is_some_and(|(hour, _)| *hour < first) {
                entry.hours.pop_front();
            }
            !entry.hours.is_empty()
        });
    }
}

impl HourTotals {
    /// Adds one summary.
    fn add(&mut self, body: &SummaryBody) {
        self.summaries += 1;
        self.events = self.events.saturating_add(body.events);
        self.ip_addresses = self.ip_addresses.saturating_add(body.ip_addresses);
        self.called_numbers = self.called_numbers.saturating_add(body.called_numbers);
        add_counts(&mut self.by_attack_type, &body.by_attack_type);
        add_counts(&mut self.by_country, &body.by_country);
        for (method, count) in &body.by_method {
            let room = self.by_method.len() < MAX_COMMUNITY_METHODS_PER_HOUR;
            match self.by_method.get_mut(method) {
                Some(total) => *total = total.saturating_add(*count),
                None if room => {
                    self.by_method.insert(method.clone(), *count);
                }
                None => self.methods_over_cap = self.methods_over_cap.saturating_add(*count),
            }
        }
    }

    /// Adds another hour's sums.
    fn merge(&mut self, other: &Self) {
        self.summaries += other.summaries;
        self.events = self.events.saturating_add(other.events);
        self.ip_addresses = self.ip_addresses.saturating_add(other.ip_addresses);
        self.called_numbers = self.called_numbers.saturating_add(other.called_numbers);
        add_counts(&mut self.by_attack_type, &other.by_attack_type);
        add_counts(&mut self.by_country, &other.by_country);
        add_counts(&mut self.by_method, &other.by_method);
    }
}

/// The first hour bucket of the window ending at `now`.
fn first_hour(now: Timestamp) -> i64 {
    hour_of(now.checked_sub(COMMUNITY_WINDOW).unwrap_or(now)) + 1
}

/// Adds `from`'s counts into `into`.
fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (value, count) in from {
        let total = into.entry(value.clone()).or_default();
        *total = total.saturating_add(*count);
    }
}

/// The `top` largest counts (ties by value).
fn largest(counts: BTreeMap<String, u64>, top: usize) -> BTreeMap<String, u64> {
    if counts.len() <= top {
        return counts;
    }
    let mut sorted: Vec<(String, u64)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted.into_iter().take(top).collect()
}
