//! Benchmark parameters from the environment (`RUNS`, `EVENTS`, ...), each with its default.

/// The number in the environment variable `name`, or `default` when it is unset or not a number.
pub(crate) fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// How many times to measure (`RUNS`, default 3, at least 1).
pub(crate) fn runs() -> usize {
    usize::try_from(setting("RUNS", 3)).unwrap_or(3).max(1)
}
