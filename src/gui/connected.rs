//! The peers page's "Connected peers" table: the peers connected to this node right now, as the
//! P2P node last published them (the `/api/v1/peers` view): PeerId, the address of its first
//! connection, who dialled, since when, what it contributed, its reciprocity status (by the rule
//! of [`super::reciprocity`]) and what this node refused from it, by reason. Every value is text
//! (escaped by `maud`).

use maud::{Markup, html};

use super::GuiState;
#[cfg(feature = "p2p")]
use super::layout::number;
#[cfg(feature = "p2p")]
use super::reciprocity;
#[cfg(feature = "p2p")]
use crate::p2p::PeersView;

/// The reasons records are refused, by counter name, with what each means (the node-wide
/// counters and each peer's split use the same names).
pub(super) const REFUSALS: [(&str, &str); 8] = [
    ("rejected_signature", "bad signature"),
    (
        "rejected_malformed",
        "malformed, wrong version or too large fields",
    ),
    (
        "rejected_window",
        "outside the retention window or in the future",
    ),
    ("rejected_network", "another network"),
    ("rejected_denied", "denied peer"),
    ("rate_limited", "over the per-author rate"),
    ("records_too_large", "too large"),
    ("rejected_community_summary", "community summary refused"),
];

/// What a refusal reason means (its name when unknown).
#[cfg(feature = "p2p")]
fn refusal_label(name: &str) -> &str {
    (REFUSALS.iter())
        .find(|(known, _)| *known == name)
        .map_or(name, |(_, label)| label)
}

/// The card for the running node, when the P2P node runs.
#[cfg(feature = "p2p")]
pub(super) fn card_of(state: &GuiState) -> Markup {
    match &state.connected_peers {
        Some(connected) => card(&connected.view()),
        None => html! {},
    }
}

/// Without the `p2p` feature there are no peers (the page says sharing is off).
#[cfg(not(feature = "p2p"))]
pub(super) fn card_of(_state: &GuiState) -> Markup {
    html! {}
}

/// The card for `view`.
#[cfg(feature = "p2p")]
pub(super) fn card(view: &PeersView) -> Markup {
    let min = view.min_contribution;
    html! {
        section.card #connected {
            h2 { "Connected peers" }
            p.caption {
                "The peers connected now. Address and direction are those of the first connection \
                 (outbound: this node dialled). Contributed: records accepted with the peer as \
                 author. Refused: records from it this node refused or dropped since start."
            }
            @if view.connected.is_empty() {
                p.empty #no-connected-peers { "No peer is connected." }
            } @else {
                table {
                    thead { tr {
                        th { "Peer" } th { "Address" } th { "Direction" } th { "Connected since" }
                        th { "Contributed" } th { "Status" } th { "Refused, by reason" }
                    } }
                    tbody {
                        @for peer in &view.connected {
                            tr class=(reciprocity::status_class(peer.contributed, min))
                                data-peer=(peer.peer_id) {
                                td.value { (peer.peer_id) }
                                td.address { (peer.address) }
                                td.direction { (peer.direction.name()) }
                                td.since { (peer.connected_since) }
                                td.count data-count=(peer.contributed) { (number(peer.contributed)) }
                                (reciprocity::status_cell(peer.contributed, min))
                                td.refused {
                                    @if peer.refused.is_empty() { "none" }
                                    @for (reason, count) in &peer.refused {
                                        span.reason data-reason=(reason) {
                                            (refusal_label(reason)) ": " (number(*count))
                                        }
                                        " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(all(test, feature = "p2p"))]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::p2p::ConnectedPeer;
    use crate::p2p::connected::Direction;

    fn peer(id: &str, contributed: u64) -> ConnectedPeer {
        ConnectedPeer {
            peer_id: id.to_owned(),
            address: "/ip4/127.0.0.1/tcp/4222".to_owned(),
            direction: Direction::Inbound,
            connected_since: "2026-12-05T02:00:00Z".to_owned(),
            connections: 1,
            contributed,
            may_catch_up: contributed > 0,
            refused: BTreeMap::new(),
        }
    }

    #[test]
    fn each_connected_peer_has_a_row_with_its_status_and_refusals() {
        let mut cheat = peer("<script>cheat</script>", 0);
        cheat.refused = BTreeMap::from([("rejected_signature", 4)]);
        let view = PeersView {
            peer_id: "12D3KooWThisNode".to_owned(),
            min_contribution: 2,
            connected: vec![peer("12D3KooWGiver", 5), cheat],
        };
        let html = card(&view).into_string();
        assert!(
            html.contains(r#"<tr class="shares-back" data-peer="12D3KooWGiver"><td class="value">12D3KooWGiver</td><td class="address">/ip4/127.0.0.1/tcp/4222</td><td class="direction">inbound</td>"#),
            "{html}"
        );
        assert!(
            html.contains(
                r#"<span class="reason" data-reason="rejected_signature">bad signature: 4</span>"#
            ),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;cheat") && !html.contains("<script>"),
            "peer ids are text: {html}"
        );
        let empty = card(&PeersView::default()).into_string();
        assert!(empty.contains(r#"id="no-connected-peers""#), "{empty}");
    }
}
