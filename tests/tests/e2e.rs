//! The end-to-end suite: the real `jurisgate` binary on real sockets, one
//! module per concern. Run one part with `cargo test -p jurisgate-e2e -- tls::`.

mod attack_paths;
mod attack_smuggling;
mod attack_spoofing;
mod cli;
mod crash;
mod disk_full;
mod faults;
mod limits_and_shutdown;
mod normalization;
mod policy_reload;
mod policy_replay;
mod replicas;
mod report;
mod request_path;
mod resources;
mod runtime;
mod shipping;
mod tls;
mod upstream_connections;
