//! The one seam between the modules that count and the pages that show the counts: each module's
//! stats type implements [`Report`] and names every counter once, beside its atomics (its
//! Prometheus name, help text, labels, and where it sits in `/api/v1/health`); `app` fills a
//! [`Registry`] with the running parts (and the parts that are off, which show `null`);
//! `/api/v1/health` and `/metrics` each render the whole registry once through [`Readings`].
//!
//! Model: hickory-dns `bin/src/metrics.rs`, where each component declares its own metrics. Unlike
//! there, the counters stay our own atomics (read by health, shutdown lines and tests as well as
//! by Prometheus), and nothing here is process-global.
//!
//! Adding a counter touches one file: the stats type that counts it, in its `Report::report`.

mod health;
mod histogram;
#[cfg(feature = "api")]
mod prometheus;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use histogram::Histogram;
#[cfg(feature = "api")]
pub use prometheus::CONTENT_TYPE;

/// A part that counts: writes each of its counters once into [`Readings`].
pub trait Report: fmt::Debug + Send + Sync {
    /// Writes every counter's current value.
    fn report(&self, out: &mut Readings);

    /// Where this part shows in `/api/v1/health` as `null` when it is off (paths of keys).
    fn sections_when_off() -> &'static [&'static [&'static str]]
    where
        Self: Sized,
    {
        &[]
    }
}

/// Reads an atomic counter (or an array of them, one per label value). Relaxed: counters are
/// read for reporting, never to order other memory.
pub trait Count {
    /// A number, or an array of numbers.
    type Value;
    /// The current value.
    fn count(&self) -> Self::Value;
}

impl Count for AtomicU64 {
    type Value = u64;
    fn count(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }
}

impl<const N: usize> Count for [AtomicU64; N] {
    type Value = [u64; N];
    fn count(&self) -> [u64; N] {
        self.each_ref().map(Count::count)
    }
}

/// The parts of the daemon that report, in the order they show.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Running(Arc<dyn Report>),
    Off(&'static [&'static [&'static str]]),
}

impl Registry {
    /// Adds a part: running (`Some`) or off (`None`, shown as `null` where it would be).
    #[must_use]
    pub fn with<R: Report + 'static>(mut self, part: Option<Arc<R>>) -> Self {
        self.parts.push(match part {
            Some(part) => Part::Running(part),
            None => Part::Off(R::sections_when_off()),
        });
        self
    }

    /// Adds a part that is off.
    #[must_use]
    pub fn off<R: Report + 'static>(self) -> Self {
        self.with(None::<Arc<R>>)
    }

    /// Adds a part this binary was built without, by its sections (its type's
    /// [`Report::sections_when_off`], which does not exist here): `null` as when it is off.
    #[must_use]
    pub fn not_built(mut self, sections: &'static [&'static [&'static str]]) -> Self {
        self.parts.push(Part::Off(sections));
        self
    }
}

impl Report for Registry {
    fn report(&self, out: &mut Readings) {
        for part in &self.parts {
            match part {
                Part::Running(part) => part.report(out),
                Part::Off(sections) => {
                    for path in *sections {
                        out.health(path, serde_json::Value::Null);
                    }
                }
            }
        }
    }
}

/// A value and what it is in Prometheus terms.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Counter(u64),
    Gauge(u64),
    GaugeFloat(f64),
    Histogram(histogram::Totals),
}

impl Value {
    /// Its form in the health details (a histogram shows its count).
    fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Counter(value) | Self::Gauge(value) => (*value).into(),
            Self::GaugeFloat(value) => (*value).into(),
            Self::Histogram(totals) => totals.count.into(),
        }
    }
}

/// One metric sample.
#[derive(Debug, Clone)]
struct Sample {
    name: &'static str,
    #[cfg_attr(
        not(feature = "api"),
        allow(dead_code, reason = "written into /metrics, which the API serves")
    )]
    help: &'static str,
    labels: Vec<(&'static str, Cow<'static, str>)>,
    value: Value,
    /// Shown in `/metrics` (health-only samples are not).
    in_metrics: bool,
}

/// Everything the parts reported, in order: renders as the health details or as Prometheus text.
#[derive(Debug, Default)]
pub struct Readings {
    samples: Vec<Sample>,
    /// Health entries: a key path and its value, in the order written.
    health: Vec<(Vec<String>, serde_json::Value)>,
}

impl Readings {
    /// Reads everything `part` reports.
    pub fn of(part: &dyn Report) -> Self {
        let mut readings = Self::default();
        part.report(&mut readings);
        readings
    }

    /// Adds what `part` reports.
    pub fn add(&mut self, part: &dyn Report) {
        part.report(self);
    }

    /// A counter (its name ends in `_total`): only grows.
    pub fn counter(&mut self, name: &'static str, help: &'static str, value: u64) -> Reading<'_> {
        debug_assert!(name.ends_with("_total"), "{name}: counters end in _total");
        self.sample(name, help, Value::Counter(value))
    }

    /// A gauge counted in whole units (connections open now).
    pub fn gauge(&mut self, name: &'static str, help: &'static str, value: u64) -> Reading<'_> {
        self.sample(name, help, Value::Gauge(value))
    }

    /// A gauge with a fraction (seconds).
    pub fn gauge_float(
        &mut self,
        name: &'static str,
        help: &'static str,
        value: f64,
    ) -> Reading<'_> {
        self.sample(name, help, Value::GaugeFloat(value))
    }

    /// A histogram of durations, in seconds.
    pub fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        histogram: &Histogram,
    ) -> Reading<'_> {
        self.sample(name, help, Value::Histogram(histogram.totals()))
    }

    /// Counters with no labels, each also in the health details under `section` (see
    /// [`Reading::health_in`]).
    pub fn counters_in(
        &mut self,
        section: &str,
        help: &'static str,
        counters: &[(&'static str, &AtomicU64)],
    ) {
        for (name, counter) in counters {
            self.counter(name, help, counter.count())
                .health_in(section, &[]);
        }
    }

    /// A value shown only in the health details, at `path`.
    pub fn health(&mut self, path: &[&str], value: impl Into<serde_json::Value>) {
        let path = path.iter().map(|key| (*key).to_owned()).collect();
        self.health.push((path, value.into()));
    }

    fn sample(&mut self, name: &'static str, help: &'static str, value: Value) -> Reading<'_> {
        self.samples.push(Sample {
            name,
            help,
            labels: Vec::new(),
            value,
            in_metrics: true,
        });
        Reading { readings: self }
    }
}

/// The sample just read: give it labels, a place in the health details, or keep it out of
/// `/metrics`.
#[derive(Debug)]
pub struct Reading<'a> {
    readings: &'a mut Readings,
}

impl Reading<'_> {
    fn sample(&mut self) -> &mut Sample {
        self.readings
            .samples
            .last_mut()
            .expect("a Reading exists only right after its sample was pushed")
    }

    /// Adds a Prometheus label.
    pub fn label(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.sample().labels.push((name, value.into()));
        self
    }

    /// Also shows the value in the health details, at `path`.
    pub fn health(mut self, path: &[&str]) -> Self {
        let value = self.sample().value.to_json();
        self.readings.health(path, value);
        self
    }

    /// Also shows the value in the health details under `section`, at the key its metric name
    /// gives (`sentrypeer_<section>_<key>`, less `_total`), then at `below`: the one naming rule
    /// `/api/v1/health` and `/metrics` share, so such a counter is named once.
    pub fn health_in(mut self, section: &str, below: &[&str]) -> Self {
        let name = self.sample().name;
        let key = name
            .strip_prefix("sentrypeer_")
            .and_then(|rest| rest.strip_prefix(section))
            .and_then(|rest| rest.strip_prefix('_'))
            .map(|rest| rest.strip_suffix("_total").unwrap_or(rest));
        debug_assert!(key.is_some(), "{name} is not sentrypeer_{section}_<key>");
        let mut path = vec![section, key.unwrap_or(name)];
        path.extend_from_slice(below);
        self.health(&path)
    }

    /// Leaves the sample out of `/metrics` when `shown` is false (it stays in health).
    pub fn in_metrics(mut self, shown: bool) -> Self {
        self.sample().in_metrics = shown;
        self
    }
}

#[cfg(test)]
mod tests;
