//! Fuzz target: see `jurisgate_fuzz::bearer_jwt`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::bearer_jwt(data));
