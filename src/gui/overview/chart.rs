//! The events-per-minute chart: an SVG of one bar per minute, drawn on the server (no script;
//! presentation attributes only, so the CSP's `style-src 'self'` holds).

use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};

use crate::event::format_timestamp;

/// Minutes the chart covers.
const MINUTES: i64 = 24 * 60;
/// Drawing height of the tallest bar.
const HEIGHT: u64 = 120;

/// Bars for `per_minute` (`YYYY-MM-DD HH:MM` and counts, as the store returns them), the first
/// minute being the one holding `start`.
pub(super) fn per_minute(per_minute: &[(String, u64)], start: Timestamp) -> Markup {
    let first_minute = minute_of(start);
    let largest = per_minute
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0);
    let total: u64 = per_minute.iter().map(|(_, count)| *count).sum();
    let bars = per_minute.iter().filter_map(|(minute, count)| {
        let offset = minutes_between(&first_minute, minute)?;
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

/// `YYYY-MM-DD HH:MM` of `at`.
fn minute_of(at: Timestamp) -> String {
    format_timestamp(at).chars().take(16).collect()
}

/// Whole minutes from `from` to `to` (both `YYYY-MM-DD HH:MM`); `None` when either is not one.
fn minutes_between(from: &str, to: &str) -> Option<i64> {
    let parse = |text: &str| -> Option<Timestamp> {
        format!("{}:00Z", text.replacen(' ', "T", 1)).parse().ok()
    };
    let span: SignedDuration = parse(to)?.duration_since(parse(from)?);
    Some(span.as_secs() / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_between_counts_whole_minutes() {
        assert_eq!(
            minutes_between("2026-12-04 10:00", "2026-12-04 11:30"),
            Some(90)
        );
        assert_eq!(
            minutes_between("2026-12-04 23:59", "2026-12-05 00:01"),
            Some(2)
        );
        assert_eq!(minutes_between("2026-12-04 10:00", "garbage"), None);
    }

    #[test]
    fn bars_fall_on_their_minute() {
        let start: Timestamp = "2026-12-04T10:00:30Z".parse().expect("timestamp");
        let svg = per_minute(&[("2026-12-04 10:05".into(), 4)], start).into_string();
        assert!(svg.contains(r#"x="5""#), "{svg}");
        assert!(svg.contains("4 events"), "{svg}");
    }
}
