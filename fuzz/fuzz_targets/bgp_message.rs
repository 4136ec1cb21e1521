//! Fuzz target: what a BGP peer sends the blackhole feed (body and invariants in `sentrypeer::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentrypeer::fuzzing::bgp_message(data));
