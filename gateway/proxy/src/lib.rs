//! jurisgate's request path: normalise, attribute, classify, decide, audit,
//! route, forward, apply obligations.

pub mod normalize;
pub mod obligations;
