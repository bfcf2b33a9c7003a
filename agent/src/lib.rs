//! otuf-agent: polls a TUF repository, verifies everything through otuf-core, and installs
//! firmware safely. Today: the `client` command (refresh and verified download).

pub mod cli;
pub mod client;
pub mod device;
pub mod error;
pub mod install;
pub mod persist;
