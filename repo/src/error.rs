//! The service's error type.

/// Why a repository operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The state database failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The PostgreSQL state database failed.
    #[error("database: {0}")]
    Postgres(#[from] postgres::Error),
    /// The object store refused or failed.
    #[error("storage {url}: {key}: {error}")]
    Storage {
        /// The object's key.
        key: String,
        /// The store.
        url: String,
        /// What it said.
        error: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key could not be loaded or used.
    #[error("key {0}")]
    Key(String),
    /// What would be published does not verify as a client would see it: nothing was published.
    #[error("self-verification refused the new metadata ({what}): {error}")]
    SelfVerify {
        /// The file that failed.
        what: String,
        /// The check.
        error: otuf_core::Error,
    },
    /// The repository is not in a state for this operation.
    #[error("{0}")]
    State(String),
    /// JSON (de)serialisation failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_string();
        move |source| Self::Io { path, source }
    }
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;
