//! The events-per-minute chart: an SVG of one bar per minute, drawn on the server (no script;
//! presentation attributes only, so the CSP's `style-src 'self'` holds).

use jiff::Timestamp;
use maud::{Markup, html};

/// Minutes the chart covers.
const MINUTES: i64 = 24 * 60;
/// Drawing height of the tallest bar.
const HEIGHT: u64 = 120;

/// Bars for `per_minute` (each minute's start and its events, as the store's rollups return
/// them), the first minute being the one holding `start`.
pub(super) fn per_minute(per_minute: &[(Timestamp, u64)], start: Timestamp) -> Markup {
    let first_minute = start.as_second().div_euclid(60);
    let largest = per_minute
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0);
    let total: u64 = per_minute.iter().map(|(_, count)| *count).sum();
    let bars = per_minute.iter().filter_map(|(minute, count)| {
        let offset = minute.as_second().div_euclid(60) - first_minute;
        (0..MINUTES).contains(&offset).then_some((offset, *count))
    });
    html! {
        svg.chart viewBox={ "0 0 " (MINUTES) " " (HEIGHT) } preserveAspectRatio="none"
            role="img" aria-label={ (total) " events in the last 24 hours, at most " (largest) " in a minute" } {
            rect x="0" y="0" width=(MINUTES) height=(HEIGHT) fill="#f4f6f8" {}
            @for (offset, count) in bars {
                @let height = (count * HEIGHT).div_ceil(largest.max(1));
                rect x=(offset) y=(HEIGHT - height) width="1" height=(height) fill="#c0392b" {
                    title { (count) " events" }
                }
            }
        }
        p.caption { (total) " events; busiest minute: " (largest) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fall_on_their_minute() {
        let start: Timestamp = "2026-12-04T10:00:30Z".parse().expect("timestamp");
        let minute: Timestamp = "2026-12-04T10:05:00Z".parse().expect("timestamp");
        let svg = per_minute(&[(minute, 4)], start).into_string();
        assert!(svg.contains(r#"x="5""#), "{svg}");
        assert!(svg.contains("4 events"), "{svg}");
    }
}
