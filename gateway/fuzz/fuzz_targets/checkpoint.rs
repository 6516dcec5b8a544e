//! Fuzz target: see `jurisgate_fuzz::checkpoint`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::checkpoint(data));
