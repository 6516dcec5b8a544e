//! Fuzz target: see `jurisgate_fuzz::audit_record`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jurisgate_fuzz::audit_record(data));
