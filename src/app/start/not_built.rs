//! The health sections of the optional parts this binary was built without: `null`, as when a
//! part that is built is switched off, so `/api/v1/health` has the same keys whatever was built.

use super::Wiring;
use crate::app::settings::built;

/// Each optional part that reports into health, by its cargo feature, and where it shows there:
/// its counters' `Report::sections_when_off` (those types are not compiled without the feature;
/// a unit test of the full build keeps the two lists equal). The TLS listener and the dashboard
/// have no section of their own, and the API's are only ever read through the API.
const SECTIONS: [(&str, &[&[&str]]); 5] = [
    ("webhook", &[&["webhook"]]),
    ("p2p", &[&["p2p"], &["community"]]),
    ("opendht", &[&["opendht"]]),
    ("sip-agent", &[&["sip_agent"]]),
    ("bgp", &[&["bgp"]]),
];

/// Shows every part this binary was built without as `null` in health.
pub(in crate::app) fn report(wiring: &mut Wiring<'_>) {
    for (feature, sections) in SECTIONS {
        if !built(feature) {
            wiring.telemetry = std::mem::take(&mut wiring.telemetry).not_built(sections);
        }
    }
}

#[cfg(all(
    test,
    feature = "webhook",
    feature = "p2p",
    feature = "opendht",
    feature = "sip-agent",
    feature = "bgp"
))]
mod tests {
    use super::SECTIONS;
    use crate::bgp::SpeakerStatus;
    use crate::bridge::BridgeStats;
    use crate::p2p::P2pStats;
    use crate::p2p::community::Community;
    use crate::sinks::webhook::WebhookStats;
    use crate::sip_agent::AgentCounters;
    use crate::telemetry::Report;

    #[test]
    fn each_part_not_built_is_null_where_its_counters_would_be() {
        let listed = |feature: &str| {
            SECTIONS
                .iter()
                .find(|(name, _)| *name == feature)
                .map(|(_, sections)| sections.to_vec())
                .unwrap_or_else(|| panic!("{feature} not listed"))
        };
        assert_eq!(listed("webhook"), WebhookStats::sections_when_off());
        let p2p = [
            P2pStats::sections_when_off(),
            Community::sections_when_off(),
        ]
        .concat();
        assert_eq!(listed("p2p"), p2p);
        assert_eq!(listed("opendht"), BridgeStats::sections_when_off());
        assert_eq!(listed("sip-agent"), AgentCounters::sections_when_off());
        assert_eq!(listed("bgp"), SpeakerStatus::sections_when_off());
    }
}
