//! The events-per-minute chart: an SVG drawn on the server (no script; presentation attributes
//! only, so the CSP's `style-src 'self'` holds). All bars are one `<path>` and each hour of the
//! chart one hover area with its figures: a few dozen elements where a rectangle and a tooltip
//! per minute made nearly 3,000, which the browser had to parse, style and lay out.

use std::fmt::Write as _;

use jiff::Timestamp;
use maud::{Markup, html};

use crate::event::format_timestamp;
use crate::gui::layout::number;

/// Minutes the chart covers.
const MINUTES: i64 = 24 * 60;
/// Minutes per hover area.
const HOUR: i64 = 60;
/// Drawing height of the tallest bar.
const HEIGHT: u64 = 120;

/// The chart for `per_minute` (each minute's start and its events, as the store's rollups return
/// them), the first minute being the one holding `start`.
pub(super) fn per_minute(per_minute: &[(Timestamp, u64)], start: Timestamp) -> Markup {
    let first_minute = start.as_second().div_euclid(60);
    let bars: Vec<(i64, u64)> = per_minute
        .iter()
        .filter_map(|(minute, count)| {
            let offset = minute.as_second().div_euclid(60) - first_minute;
            (0..MINUTES).contains(&offset).then_some((offset, *count))
        })
        .collect();
    let largest = bars.iter().map(|(_, count)| *count).max().unwrap_or(0);
    let total: u64 = bars.iter().map(|(_, count)| *count).sum();
    html! {
        svg.chart viewBox={ "0 0 " (MINUTES) " " (HEIGHT) } preserveAspectRatio="none"
            role="img" aria-label={ (total) " events in the last 24 hours, at most " (largest) " in a minute" } {
            rect x="0" y="0" width=(MINUTES) height=(HEIGHT) fill="#f4f6f8" {}
            path d=(bars_path(&bars, largest)) fill="#c0392b" {}
            @for (hour, events, busiest) in hours(&bars) {
                rect x=(hour * HOUR) y="0" width=(HOUR) height=(HEIGHT) fill="transparent" {
                    title { (hour_label(first_minute, hour)) ": " (number(events)) " events, busiest minute " (number(busiest)) }
                }
            }
        }
        p.caption { (total) " events; busiest minute: " (largest) }
    }
}

/// One path of a bar per minute (`offset`, `count`), scaled to `largest`.
fn bars_path(bars: &[(i64, u64)], largest: u64) -> String {
    let mut path = String::with_capacity(bars.len() * 20);
    for (offset, count) in bars {
        let height = (count * HEIGHT).div_ceil(largest.max(1));
        if height > 0 {
            // Writing to a String cannot fail.
            let _ = write!(path, "M{offset} {HEIGHT}v-{height}h1v{height}z");
        }
    }
    path
}

/// Each hour of the chart (its index from the start) with its events and busiest minute.
fn hours(bars: &[(i64, u64)]) -> impl Iterator<Item = (i64, u64, u64)> + '_ {
    (0..MINUTES / HOUR).map(move |hour| {
        let minutes = bars
            .iter()
            .filter(move |(offset, _)| offset / HOUR == hour)
            .map(|(_, count)| *count);
        (hour, minutes.clone().sum(), minutes.max().unwrap_or(0))
    })
}

/// "HH:MM–HH:MM UTC" of hour `hour` of a chart whose first minute is `first_minute`.
fn hour_label(first_minute: i64, hour: i64) -> String {
    let at = |minute: i64| {
        let text = Timestamp::from_second(minute * 60)
            .map(format_timestamp)
            .unwrap_or_default();
        text.get(11..16).unwrap_or_default().to_owned()
    };
    let from = first_minute + hour * HOUR;
    format!("{}–{} UTC", at(from), at(from + HOUR - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fall_on_their_minute_and_hours_carry_their_figures() {
        let start: Timestamp = "2026-12-04T10:00:30Z".parse().expect("timestamp");
        let at = |text: &str| text.parse::<Timestamp>().expect("timestamp");
        let svg = per_minute(
            &[
                (at("2026-12-04T10:05:00Z"), 4),
                (at("2026-12-04T10:06:00Z"), 2),
                (at("2026-12-04T11:30:00Z"), 1),
                (at("2026-12-05T10:00:00Z"), 9),
            ],
            start,
        )
        .into_string();
        // Heights scale to the busiest minute (4 → 120); the minute after the chart is left out.
        assert!(
            svg.contains(r#"d="M5 120v-120h1v120zM6 120v-60h1v60zM90 120v-30h1v30z""#),
            "{svg}"
        );
        assert!(
            svg.contains("10:00–10:59 UTC: 6 events, busiest minute 4"),
            "{svg}"
        );
        assert!(
            svg.contains("11:00–11:59 UTC: 1 events, busiest minute 1"),
            "{svg}"
        );
        assert!(
            svg.contains("09:00–09:59 UTC: 0 events, busiest minute 0"),
            "{svg}"
        );
        assert_eq!(svg.matches("<title>").count(), 24, "{svg}");
        assert!(svg.contains("7 events; busiest minute: 4"), "{svg}");
    }
}
