//! The operator commands on the service's binary. `ceremony` and `keygen` work offline; the
//! others talk to a running service through RSTUF's v1 API, so they work against RSTUF too
//! (but for `publish`, which uses otuf-repo's upload route).

pub mod artifacts;
pub mod bundle;
pub mod ceremony;
pub mod client;
pub mod sign;
pub mod status;
