//! Fuzz target: the TOML config parser and validation (body and invariants in `sentrypeer::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentrypeer::fuzzing::config(data));
