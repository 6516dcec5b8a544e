//! Fuzz target: see `jurisgate_fuzz::config_parse`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::config_parse(data));
