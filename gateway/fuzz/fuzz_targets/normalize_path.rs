//! Fuzz target: see `jurisgate_fuzz::normalize_path`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::normalize_path(data));
