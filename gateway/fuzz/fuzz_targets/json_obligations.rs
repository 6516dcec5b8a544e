//! Fuzz target: see `jurisgate_fuzz::json_obligations`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::json_obligations(data));
