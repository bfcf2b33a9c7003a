//! Shared helpers for otuf's cross-crate and interop tests.

use std::path::PathBuf;

/// The repository's `tests/fixtures` folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
