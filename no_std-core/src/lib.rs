#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod error;
pub mod json;
pub mod limits;
pub mod time;

pub use error::{Error, ErrorKind, Result, RoleKind};
