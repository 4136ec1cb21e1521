//! The peers page's reciprocity table: for each peer that contributed records or sent what this
//! node refused, whether it shares back by the rule the P2P node applies ("you only get other
//! users' data if you share yours": a peer is served catch-up and scored up once it contributed
//! at least `--p2p-min-contribution` records; a peer that contributed nothing is scored down
//! after its grace period), what it contributed (records stored with it as author, over the
//! window) and what this node refused or dropped from it (`dropped_by_peer` of
//! `/api/v1/health`). Read from the database and the telemetry registry only.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use maud::{Markup, html};

use super::layout::number;

/// Peers listed at most (largest contributors first).
const MAX_ROWS: usize = 100;

/// The P2P node's sharing rule, as the page judges peers by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharingRule {
    /// Records a peer must have contributed before it gets catch-up (`--p2p-min-contribution`).
    pub min_contribution: u64,
    /// How far back contributions count (the retention window; 7 days when kept forever).
    pub window: SignedDuration,
}

impl Default for SharingRule {
    fn default() -> Self {
        Self {
            min_contribution: 1,
            window: SignedDuration::from_hours(24 * 7),
        }
    }
}

/// How this node treats a peer's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Contributed at least the minimum: served catch-up, scored up.
    SharesBack,
    /// Contributed, but less than the minimum: not served catch-up yet.
    TooLittle,
    /// Contributed nothing in the window: not served, scored down once its grace is over.
    SharesNothing,
}

impl Status {
    fn of(contributed: u64, min_contribution: u64) -> Self {
        if contributed >= min_contribution.max(1) {
            Self::SharesBack
        } else if contributed > 0 {
            Self::TooLittle
        } else {
            Self::SharesNothing
        }
    }

    fn class(self) -> &'static str {
        match self {
            Self::SharesBack => "shares-back",
            Self::TooLittle => "too-little",
            Self::SharesNothing => "shares-nothing",
        }
    }
}

/// One peer's line.
#[derive(Debug, PartialEq, Eq)]
struct PeerLine<'a> {
    peer: &'a str,
    contributed: u64,
    refused: u64,
    status: Status,
}

/// The peers of `contributions` (author and records) and `refused` (sender and records refused
/// or dropped), largest contributors first, then most refused, then by id.
fn lines<'a>(
    contributions: &'a [(String, u64)],
    refused: &'a BTreeMap<String, u64>,
    min_contribution: u64,
) -> Vec<PeerLine<'a>> {
    let mut by_peer: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (peer, count) in contributions {
        by_peer.entry(peer.as_str()).or_default().0 += count;
    }
    for (peer, count) in refused {
        by_peer.entry(peer.as_str()).or_default().1 += count;
    }
    let mut lines: Vec<PeerLine<'_>> = by_peer
        .into_iter()
        .map(|(peer, (contributed, refused))| PeerLine {
            peer,
            contributed,
            refused,
            status: Status::of(contributed, min_contribution),
        })
        .collect();
    lines.sort_by(|a, b| {
        (b.contributed, b.refused, a.peer).cmp(&(a.contributed, a.refused, b.peer))
    });
    lines
}

/// A `td` saying how this node treats a peer that contributed `contributed` records, by the
/// rule of `min_contribution`.
pub(super) fn status_cell(contributed: u64, min_contribution: u64) -> Markup {
    html! {
        td.status {
            @match Status::of(contributed, min_contribution) {
                Status::SharesBack => "shares back: served catch-up",
                Status::TooLittle => {
                    "too little: " (number(contributed)) " of "
                    (number(min_contribution)) " records for catch-up"
                },
                Status::SharesNothing => "shares nothing: not served, scored down",
            }
        }
    }
}

/// The class of a peer's row by its status (`shares-back`, `too-little`, `shares-nothing`).
#[cfg(feature = "p2p")]
pub(super) fn status_class(contributed: u64, min_contribution: u64) -> &'static str {
    Status::of(contributed, min_contribution).class()
}

/// The table, under `window` (how far back contributions are counted, as words).
pub(super) fn table(
    contributions: &[(String, u64)],
    refused: &BTreeMap<String, u64>,
    min_contribution: u64,
    window: &str,
) -> Markup {
    let lines = lines(contributions, refused, min_contribution);
    let sharing = lines
        .iter()
        .filter(|line| line.status == Status::SharesBack)
        .count();
    html! {
        section.card #reciprocity {
            h2 { "Reciprocity per peer" }
            p.caption {
                "A peer shares back once it has contributed at least " (number(min_contribution))
                " records (" code { "--p2p-min-contribution" } "): then it is served catch-up and "
                "scored up; one that contributed nothing is scored down after its grace period. "
                "Contributed: records stored with the peer as author, " (window) ". Refused: records "
                "from it this node refused or dropped (bad signature, malformed, window, network, "
                "denied, rate), since start. "
                (sharing) " of " (lines.len()) " peers share back."
            }
            @if lines.is_empty() {
                p.empty { "No peer has contributed or been refused yet." }
            } @else {
                table {
                    thead { tr { th { "Peer" } th { "Status" } th { "Contributed" } th { "Refused" } } }
                    tbody {
                        @for line in lines.iter().take(MAX_ROWS) {
                            tr class=(line.status.class()) data-peer=(line.peer) {
                                td.value { (line.peer) }
                                (status_cell(line.contributed, min_contribution))
                                td.count data-count=(line.contributed) { (number(line.contributed)) }
                                td.count.refused data-count=(line.refused) { (number(line.refused)) }
                            }
                        }
                    }
                }
                @if lines.len() > MAX_ROWS {
                    p.caption { "And " (lines.len() - MAX_ROWS) " more peers." }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_peer_is_judged_by_what_it_contributed() {
        let contributions = vec![("giver".to_owned(), 12), ("small".to_owned(), 2)];
        let refused = BTreeMap::from([("cheat".to_owned(), 5), ("small".to_owned(), 1)]);
        let lines = lines(&contributions, &refused, 10);
        let summary: Vec<(&str, u64, u64, Status)> = lines
            .iter()
            .map(|line| (line.peer, line.contributed, line.refused, line.status))
            .collect();
        assert_eq!(
            summary,
            [
                ("giver", 12, 0, Status::SharesBack),
                ("small", 2, 1, Status::TooLittle),
                ("cheat", 0, 5, Status::SharesNothing),
            ]
        );
    }

    #[test]
    fn peer_ids_are_text() {
        let refused = BTreeMap::from([("<script>x</script>".to_owned(), 1)]);
        let html = table(&[], &refused, 1, "over 7 days").into_string();
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
    }
}
