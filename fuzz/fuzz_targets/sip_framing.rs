//! Fuzz target: sip::check_frame in the TCP/TLS stream loop (body and invariants in `sentrypeer::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentrypeer::fuzzing::sip_framing(data));
