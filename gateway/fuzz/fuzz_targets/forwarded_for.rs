//! Fuzz target: see `jurisgate_fuzz::forwarded_for`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::forwarded_for(data));
