//! One module per subcommand.

pub(crate) mod audit;
pub(crate) mod certs;
pub(crate) mod demo;
pub(crate) mod policy;
pub(crate) mod serve;
