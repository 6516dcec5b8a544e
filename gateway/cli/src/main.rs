//! The `jurisgate` binary.
fn main() {}
