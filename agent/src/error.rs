//! The agent's one error type: which file or URL, which check, and what to do about it.

use std::path::PathBuf;

/// Why an agent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A metadata file or target failed verification (the core names the check and field).
    #[error("{what} refused: {error}")]
    Verify {
        /// The file, e.g. `3.snapshot.json` or a target path.
        what: String,
        /// The check that failed.
        error: otuf_core::Error,
    },
    /// The server refused or failed a request.
    #[error("{url}: HTTP {status}")]
    Http {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The transfer failed (connection refused, reset...).
    #[error("{url}: {message}")]
    Transfer {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server sent more than the signed (or configured) length: endless-data attack.
    #[error("{url}: more than {max} bytes (the most this file may have); download abandoned")]
    TooLarge {
        /// The URL.
        url: String,
        /// The bound.
        max: u64,
    },
    /// The server stopped sending or sends too slowly: slow-retrieval attack or a dead link.
    #[error("{url}: {why}; download abandoned (see --stall-timeout and --min-speed)")]
    TooSlow {
        /// The URL.
        url: String,
        /// Stalled, or the average speed.
        why: String,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Missing set-up or arguments (for example no trusted root yet).
    #[error("{0}")]
    Usage(String),
    /// The configuration file is wrong (the message names the file, the line and the key).
    #[error("{0}")]
    Config(String),
    /// No trusted role lists the target.
    #[error("{0}: no trusted role lists this target")]
    TargetNotFound(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// A verification error on `what`.
    pub fn verify(what: impl Into<String>) -> impl FnOnce(otuf_core::Error) -> Self {
        let what = what.into();
        move |error| Self::Verify { what, error }
    }
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;
