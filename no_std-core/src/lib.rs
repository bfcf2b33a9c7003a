#![no_std]
#![forbid(unsafe_code)]
// The core must not panic on any input and must not reach for std or a heap by accident.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::std_instead_of_core,
        clippy::alloc_instead_of_core
    )
)]
#![doc = include_str!("../README.md")]
#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod anchor;
pub mod client;
pub mod crypto;
pub mod error;
pub(crate) mod hashes;
pub mod json;
pub mod limits;
pub mod metadata;
pub mod search;
#[cfg(feature = "general")]
pub mod signing;
pub mod time;
pub mod trusted;

pub use error::{Error, ErrorKind, Field, Result, RoleKind};

#[cfg(all(feature = "general", any(test, feature = "fuzzing")))]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod test_fixtures {
    extern crate std;

    /// A file of a fixture repository (`tests/fixtures/repos`, made by its committed generator).
    pub(crate) fn fixture(case: &str, name: &str) -> std::vec::Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/repos/");
        std::fs::read(std::format!("{dir}{case}/{name}")).unwrap()
    }
}
#[cfg(test)]
pub(crate) use test_fixtures::fixture;

/// Sizes of the core's state, for footprint reports and tests.
pub mod footprint {
    use crate::crypto::Verifiers;
    use crate::json::lexer::{Canonical, Lexer};
    use crate::json::source::ReadSource;
    use crate::metadata::envelope::{StreamCanon, StreamSource};
    use crate::metadata::snapshot::SnapshotBody;
    use core::mem::size_of;

    /// Bytes of the signature checks of one file (one per authorised key that signed).
    pub const VERIFIERS: usize = size_of::<Verifiers<'static>>();
    /// Bytes of the streaming tokenizer: the chunk reader with its digests, the canonical
    /// output with its key-order stack, and the tokenizer that borrows both.
    pub const STREAM_LEXER: usize = size_of::<ReadSource<'static>>()
        + size_of::<Canonical<'static, Verifiers<'static>>>()
        + size_of::<Lexer<StreamSource<'static, 'static>, StreamCanon<'static, 'static, 'static>>>(
        );
    /// Bytes of a root's keys and roles.
    pub const ROOT: usize = size_of::<crate::metadata::Root>();
    /// Bytes of one target's info (hashes, `custom`).
    pub const TARGET_FILE: usize = size_of::<crate::metadata::TargetFile>();
    /// Bytes of the delegations a targets role continues a search with.
    pub const MATCHES: usize = size_of::<crate::metadata::Matches>();
    /// Bytes of the trusted set (root, timestamp, snapshot, targets, retained roles).
    pub const TRUSTED_SET: usize = size_of::<crate::trusted::TrustedSet>();
    /// Bytes of the refresh state machine (includes the trusted set).
    pub const CLIENT: usize = size_of::<crate::client::Client>();
    /// Bytes of a target search (stack, keys, visited roles, found target).
    pub const SEARCH: usize = size_of::<crate::search::Search<'static>>();
    /// Bytes a streaming verification holds while it runs (tokenizer with its key-order stack,
    /// signature verifiers, the role body being read), besides the caller's chunk buffer.
    pub const STREAM_SNAPSHOT: usize =
        STREAM_LEXER + VERIFIERS + size_of::<SnapshotBody<'static>>();
    /// The same for a targets role, whose body reads into a target's info and delegations.
    pub const STREAM_TARGETS: usize = STREAM_LEXER + VERIFIERS + TARGET_FILE + MATCHES;
}
