//! Region-aware upstream pools.
