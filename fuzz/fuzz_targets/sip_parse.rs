//! Fuzz target: sip::parse, the event and its JSON line, the reply (body and invariants in `sentrypeer::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentrypeer::fuzzing::sip_parse(data));
