//! Fuzz target: see `jurisgate_fuzz::jwks`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::jwks(data));
