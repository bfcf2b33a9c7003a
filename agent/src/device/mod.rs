//! The device side of the agent (issue 5, under way): its configuration, the choice of what to
//! install, maintenance windows and the journal that makes every step survive a power cut. The
//! `run`, `check`, `update` and `status` commands are built on these.

pub mod check;
pub mod config;
pub mod journal;
pub mod select;
pub mod update;
pub mod window;
