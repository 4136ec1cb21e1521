//! Fuzz target: records and gossip batches from peers (body and invariants in `sentrypeer::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentrypeer::fuzzing::p2p_record(data));
