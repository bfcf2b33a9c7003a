//! otuf-repo: a TUF repository service for OT firmware, in the spirit of RSTUF.

pub mod api;
pub mod blocking;
pub mod cli;
pub mod config;
pub mod delegate;
pub mod error;
pub mod housekeeping;
pub mod index;
pub mod metrics;
pub mod portal;
pub mod publish;
pub mod root;
pub mod serve;
pub mod sign;
pub mod storage;
pub mod store;
pub mod tasks;
