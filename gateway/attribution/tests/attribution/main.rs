//! Attribution against real keys, files and a real GeoIP database: what a
//! caller of the gateway can and cannot make it believe.

mod cache;
mod hostile;
mod identity;
mod mmdb;
mod sources;
mod support;
