//! The seam alone: parts reporting into readings, the health tree with its `null` sections, and
//! the Prometheus text.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde_json::json;

use super::{Count, Histogram, Readings, Registry, Report};

/// A part with one labelled counter family, a gauge kept out of `/metrics`, and a histogram.
#[derive(Debug, Default)]
struct Doors {
    opened: [AtomicU64; 2],
    latency: Histogram,
}

impl Report for Doors {
    fn report(&self, out: &mut Readings) {
        for (side, opened) in ["front", "back"].into_iter().zip(self.opened.count()) {
            out.counter("test_doors_opened_total", "Doors opened.", opened)
                .label("side", side)
                .health(&["doors", "opened", side]);
        }
        out.gauge("test_doors_open", "Doors open now.", 1)
            .health(&["doors", "open"])
            .in_metrics(false);
        out.histogram("test_door_seconds", "How long a door took.", &self.latency);
    }

    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["doors"]]
    }
}

/// A part that reports into the doors' section, as the pipeline does into `p2p`.
#[derive(Debug, Default)]
struct Bell;

impl Report for Bell {
    fn report(&self, out: &mut Readings) {
        out.counter("test_bell_rings_total", "Rings.", 3)
            .label("tone", "a \"low\" \\ one\n")
            .health(&["bell", "rings"]);
        out.health(&["doors", "rung"], 3);
    }
}

fn doors() -> Arc<Doors> {
    let doors = Doors::default();
    doors.opened[0].fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    doors.latency.observe(Duration::from_micros(100));
    doors.latency.observe(Duration::from_millis(7));
    doors.latency.observe(Duration::from_secs(9));
    Arc::new(doors)
}

#[test]
fn health_puts_each_value_at_its_path_in_the_order_written() {
    let registry = Registry::default()
        .with(Some(Arc::new(Bell)))
        .with(Some(doors()));
    let health = serde_json::Value::Object(Readings::of(&registry).health_details());
    assert_eq!(
        health,
        json!({
            "bell": {"rings": 3},
            "doors": {"rung": 3, "opened": {"front": 2, "back": 0}, "open": 1},
        })
    );
    let keys: Vec<&String> = health["doors"]
        .as_object()
        .expect("object")
        .keys()
        .collect();
    assert_eq!(keys, ["rung", "opened", "open"]);
}

#[test]
fn a_part_that_is_off_is_null_even_where_another_part_reports_into_it() {
    for registry in [
        Registry::default()
            .with(Some(Arc::new(Bell)))
            .off::<Doors>(),
        Registry::default()
            .off::<Doors>()
            .with(Some(Arc::new(Bell))),
    ] {
        let readings = Readings::of(&registry);
        assert_eq!(
            serde_json::Value::Object(readings.health_details()),
            json!({"bell": {"rings": 3}, "doors": null})
        );
        let text = readings.prometheus_text();
        assert!(!text.contains("test_door"), "{text}");
    }
}

#[test]
fn prometheus_text_has_one_family_per_name_with_help_type_and_escaped_labels() {
    let registry = Registry::default()
        .with(Some(doors()))
        .with(Some(Arc::new(Bell)));
    let text = Readings::of(&registry).prometheus_text();
    let expected = [
        "# HELP test_doors_opened_total Doors opened.",
        "# TYPE test_doors_opened_total counter",
        "test_doors_opened_total{side=\"front\"} 2",
        "test_doors_opened_total{side=\"back\"} 0",
        "# HELP test_door_seconds How long a door took.",
        "# TYPE test_door_seconds histogram",
        "test_door_seconds_bucket{le=\"0.0001\"} 1",
        "test_door_seconds_bucket{le=\"0.005\"} 1",
        "test_door_seconds_bucket{le=\"0.01\"} 2",
        "test_door_seconds_bucket{le=\"2.5\"} 2",
        "test_door_seconds_bucket{le=\"+Inf\"} 3",
        "test_door_seconds_sum 9.0071",
        "test_door_seconds_count 3",
        "# TYPE test_bell_rings_total counter",
        "test_bell_rings_total{tone=\"a \\\"low\\\" \\\\ one\\n\"} 3",
    ];
    let lines: Vec<&str> = text.lines().collect();
    let mut at = 0;
    for line in expected {
        let found = lines[at..].iter().position(|seen| *seen == line);
        let found = found.unwrap_or_else(|| panic!("{line:?} in order in:\n{text}"));
        at += found + 1;
    }
    assert!(!text.contains("test_doors_open "), "kept out: {text}");
    assert_eq!(text.matches("# TYPE").count(), 3, "{text}");
}

#[test]
fn a_duration_on_a_bound_falls_in_that_bucket_and_a_longer_one_only_in_the_count() {
    let histogram = Histogram::default();
    histogram.observe(Duration::from_millis(1));
    histogram.observe(Duration::from_secs(3));
    let totals = histogram.totals();
    assert_eq!(totals.count, 2);
    let in_buckets: Vec<(f64, u64)> = totals
        .buckets
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .collect();
    assert_eq!(in_buckets, [(0.001, 1)]);
    assert!((totals.sum - 3.001).abs() < 1e-9, "{}", totals.sum);
}
