//! The `/metrics` form of the readings: Prometheus text (format 0.0.4), written by
//! `prometheus-client` from a collector that walks the readings once per scrape.
//!
//! Why this way: the counters are our atomics (health, shutdown lines and tests read them too),
//! so the exporter only has to encode values it is handed. `prometheus-client` (the Prometheus
//! project's own Rust client) encodes handed values through its `Collector` seam and writes the
//! 0.0.4 text format with `# TYPE` lines naming the series as scrapers see them, escaped label
//! values, and `# HELP` from the name's one description. The `metrics` facade used before needed
//! a process-wide recorder that every counter was copied into at each scrape, beside the
//! request counters recorded into it directly: two systems, and state shared by every router in
//! a test binary.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::{Readings, Sample, Value};

/// The `Content-Type` of the page.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

impl Readings {
    /// The counters as `/metrics` shows them: one family per metric name, in the order the names
    /// were first reported.
    pub fn prometheus_text(&self) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(Families::of(&self.samples)));
        let mut text = String::new();
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        {
            // Writing to a String does not fail; a value the format cannot hold (a gauge over
            // i64::MAX) would, and the page then ends before it.
            tracing::warn!(%error, "metrics page cut short");
        }
        text
    }
}

/// Samples grouped by metric name.
#[derive(Debug)]
struct Families(Vec<Family>);

#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<Sample>,
}

impl Families {
    fn of(samples: &[Sample]) -> Self {
        let mut families: Vec<Family> = Vec::new();
        for sample in samples.iter().filter(|sample| sample.in_metrics) {
            match families
                .iter_mut()
                .find(|family| family.name == sample.name)
            {
                Some(family) => family.samples.push(sample.clone()),
                None => families.push(Family {
                    name: sample.name,
                    help: sample.help,
                    samples: vec![sample.clone()],
                }),
            }
        }
        Self(families)
    }
}

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        for family in &self.0 {
            let Some(first) = family.samples.first() else {
                continue;
            };
            let metric_type = match first.value {
                Value::Counter(_) => MetricType::Counter,
                Value::Gauge(_) | Value::GaugeFloat(_) => MetricType::Gauge,
                Value::Histogram(_) => MetricType::Histogram,
            };
            // The encoder adds `_total` to counters; we name them whole, as scrapers see them.
            let name = match metric_type {
                MetricType::Counter => family.name.strip_suffix("_total").unwrap_or(family.name),
                _ => family.name,
            };
            let mut metric = encoder.encode_descriptor(name, family.help, None, metric_type)?;
            for sample in &family.samples {
                if sample.labels.is_empty() {
                    encode_value(&mut metric, &sample.value)?;
                } else {
                    encode_value(&mut metric.encode_family(&sample.labels)?, &sample.value)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(metric: &mut MetricEncoder<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::Counter(count) => metric.encode_counter::<NoLabelSet, u64, u64>(count, None),
        Value::Gauge(count) => metric.encode_gauge(count),
        Value::GaugeFloat(value) => metric.encode_gauge(value),
        Value::Histogram(totals) => {
            metric.encode_histogram::<NoLabelSet>(totals.sum, totals.count, &totals.buckets, None)
        }
    }
}
