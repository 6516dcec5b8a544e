//! Fuzz target: see `jurisgate_fuzz::signed_header`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::signed_header(data));
