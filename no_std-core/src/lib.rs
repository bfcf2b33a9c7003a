#![no_std]
#![doc = include_str!("../README.md")]
#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod crypto;
pub mod error;
pub mod json;
pub mod limits;
pub mod metadata;
pub mod search;
pub mod time;
pub mod trusted;

pub use error::{Error, ErrorKind, Result, RoleKind};
