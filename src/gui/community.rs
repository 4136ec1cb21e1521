//! The peers page's "Community (last 24 h)" card: what the P2P node added up from other nodes'
//! opt-in `--share-stats` summaries (the `/api/v1/community` view): nodes reporting, totals, and
//! the largest attack types, methods and countries. With `-p` off, or nothing received yet, a
//! sentence says so. Every value is text (escaped by `maud`).

use maud::{Markup, html};

use super::GuiState;
#[cfg(feature = "p2p")]
use super::layout::{count_table, number};
#[cfg(feature = "p2p")]
use crate::p2p::community::CommunityView;

/// Rows shown per table (the largest first).
#[cfg(feature = "p2p")]
const TOP_ROWS: usize = 5;

/// The card for the running node: the community's view as of now, when the P2P node runs.
#[cfg(feature = "p2p")]
pub(super) fn card_of(state: &GuiState) -> Markup {
    let view = (state.community.as_ref()).map(|community| community.view(jiff::Timestamp::now()));
    card(view.as_ref())
}

/// Without the `p2p` feature there are no community summaries to show.
#[cfg(not(feature = "p2p"))]
pub(super) fn card_of(_state: &GuiState) -> Markup {
    off("Community analytics are not built into this binary (the p2p feature).")
}

/// The card for `view` (`None`: the P2P node is not running).
#[cfg(feature = "p2p")]
pub(super) fn card(view: Option<&CommunityView>) -> Markup {
    let Some(view) = view else {
        return off("Community analytics need peer-to-peer sharing (-p), which is off.");
    };
    if view.nodes == 0 {
        return off("No community summary received in the last 24 hours.");
    }
    html! {
        section.card #community {
            h2 { "Community (last " (view.window_hours) " h)" }
            p.note {
                "Added up from other nodes' opt-in " code { "--share-stats" }
                " summaries (counts only, no IP, number or message); each node reports what it \
                 captured itself, so read them as what the nodes say."
            }
            dl {
                dt { "Nodes reporting" } dd #community-nodes { (number(view.nodes)) }
                dt { "Events" } dd #community-events { (number(view.totals.events)) }
                dt { "Distinct source IPs" } dd #community-ips { (number(view.totals.ip_addresses)) }
                dt { "Distinct called numbers" }
                dd #community-numbers { (number(view.totals.called_numbers)) }
            }
            div.grid {
                (count_table("community-attack-types", "Top attack types", top(&view.by_attack_type), None))
                (count_table("community-methods", "Top SIP methods", top(&view.by_method), None))
                (count_table("community-countries", "Top countries (source IPs)", top(&view.by_country), None))
            }
        }
    }
}

/// The [`TOP_ROWS`] largest counts of `counts`, largest first (ties by name).
#[cfg(feature = "p2p")]
fn top(counts: &std::collections::BTreeMap<String, u64>) -> Vec<(&str, u64)> {
    let mut rows: Vec<(&str, u64)> = (counts.iter())
        .map(|(name, count)| (name.as_str(), *count))
        .collect();
    rows.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(right.0)));
    rows.truncate(TOP_ROWS);
    rows
}

/// The card with one sentence saying why there is nothing to show.
fn off(sentence: &str) -> Markup {
    html! {
        section.card #community {
            h2 { "Community (last 24 h)" }
            p.empty #community-empty { (sentence) }
        }
    }
}

#[cfg(all(test, feature = "p2p"))]
mod tests {
    use std::collections::BTreeMap;

    use super::card;
    use crate::p2p::community::{CommunityView, Totals};

    const XSS: &str = "<script>alert(1)</script>";

    fn view(nodes: u64) -> CommunityView {
        CommunityView {
            window_hours: 24,
            nodes,
            summaries: nodes,
            totals: Totals {
                events: 1234,
                ip_addresses: 56,
                called_numbers: 7,
            },
            by_attack_type: BTreeMap::from([("scan".to_owned(), 1000), (XSS.to_owned(), 234)]),
            by_method: BTreeMap::from([("OPTIONS".to_owned(), 1200), ("INVITE".to_owned(), 34)]),
            by_country: BTreeMap::from([("GB".to_owned(), 40), ("ZZ".to_owned(), 16)]),
            per_node: Vec::new(),
        }
    }

    #[test]
    fn off_and_empty_say_so() {
        let off = card(None).into_string();
        assert!(off.contains("(-p), which is off"), "{off}");
        let empty = card(Some(&view(0))).into_string();
        assert!(empty.contains("No community summary received"), "{empty}");
        assert!(!empty.contains("community-events"), "{empty}");
    }

    #[test]
    fn a_view_shows_its_figures_and_tables_as_text() {
        let html = card(Some(&view(2))).into_string();
        assert!(html.contains("Community (last 24 h)"), "{html}");
        assert!(
            html.contains(r#"<dd id="community-nodes">2</dd>"#),
            "{html}"
        );
        assert!(
            html.contains("<dd id=\"community-events\">1\u{2009}234</dd>"),
            "{html}"
        );
        assert!(html.contains(r#"<dd id="community-ips">56</dd>"#), "{html}");
        assert!(
            html.contains(r#"<dd id="community-numbers">7</dd>"#),
            "{html}"
        );
        assert!(html.contains("--share-stats"), "{html}");
        for value in ["scan", "OPTIONS", "INVITE", "GB", "ZZ"] {
            assert!(html.contains(value), "{value}: {html}");
        }
        assert!(!html.contains(XSS), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        let options = html.find("OPTIONS").unwrap_or(usize::MAX);
        let invite = html.find("INVITE").unwrap_or(0);
        assert!(options < invite, "largest first: {html}");
    }
}
