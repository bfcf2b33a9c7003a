//! One error type for the whole core: which check failed, in which role, at which field.
//!
//! `Error` is small and `Copy` so that it can travel through a heap-free state machine. A user
//! sees the role (which file), the check (what went wrong) and the field or byte offset (where).

use core::fmt;

/// The check that failed. Stable snake_case names (`ErrorKind::name`) are used by fixtures,
/// logs and the agent's exit messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    // --- JSON ---
    /// Malformed JSON.
    Syntax,
    /// A number with a fraction or exponent: canonical JSON has integers only.
    Float,
    /// The same key twice in one object.
    DuplicateKey,
    /// A `\u` escape that is a lone or misordered UTF-16 surrogate.
    Surrogate,
    /// Bytes that are not valid UTF-8.
    Utf8,
    /// Bytes after the top-level value.
    Trailing,
    /// Nesting deeper than the limit.
    Depth,
    /// A count or size over one of the core's limits.
    Limit,
    /// Streaming mode needs object keys in canonical order.
    NotCanonical,
    // --- schema ---
    /// A required field is absent.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A field's value is malformed (bad hex, date, version, name...).
    BadValue,
    // --- TUF checks ---
    /// `_type` is not the role that was expected.
    RoleType,
    /// `spec_version` is not of major version 1.
    SpecVersion,
    /// The metadata expired at the reference time.
    Expired,
    /// Fewer valid signatures by distinct authorised keys than the threshold.
    Threshold,
    /// A key ID is not the SHA-256 of its canonical key object.
    KeyidMismatch,
    /// A version lower than one already trusted (rollback attack).
    VersionRollback,
    /// A version other than the one the parent role declared.
    VersionMismatch,
    /// The file's length differs from the parent role's meta.
    MetaLength,
    /// The file's hash differs from the parent role's meta.
    MetaHash,
    /// The file is longer than the maximum the client accepts (endless data attack).
    LengthExceeded,
    /// The snapshot has no entry for a role it must list.
    MetaMissing,
    /// No role delegated to the target path lists it.
    TargetNotFound,
    /// A target file's length differs from its signed length.
    TargetLength,
    /// A target file's hash differs from its signed hash.
    TargetHash,
    /// The byte source failed.
    Io,
    /// The caller used the API out of order (a bug in the caller, not hostile input).
    Misuse,
}

impl ErrorKind {
    /// The stable name of this check.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Float => "float",
            Self::DuplicateKey => "duplicate_key",
            Self::Surrogate => "surrogate",
            Self::Utf8 => "utf8",
            Self::Trailing => "trailing",
            Self::Depth => "depth",
            Self::Limit => "limit",
            Self::NotCanonical => "not_canonical",
            Self::MissingField => "missing_field",
            Self::WrongType => "wrong_type",
            Self::BadValue => "bad_value",
            Self::RoleType => "role_type",
            Self::SpecVersion => "spec_version",
            Self::Expired => "expired",
            Self::Threshold => "threshold",
            Self::KeyidMismatch => "keyid_mismatch",
            Self::VersionRollback => "version_rollback",
            Self::VersionMismatch => "version_mismatch",
            Self::MetaLength => "meta_length",
            Self::MetaHash => "meta_hash",
            Self::LengthExceeded => "length_exceeded",
            Self::MetaMissing => "meta_missing",
            Self::TargetNotFound => "target_not_found",
            Self::TargetLength => "target_length",
            Self::TargetHash => "target_hash",
            Self::Io => "io",
            Self::Misuse => "misuse",
        }
    }

    #[cfg_attr(otuf_small, allow(dead_code))]
    const fn describe(self) -> &'static str {
        match self {
            Self::Syntax => "malformed JSON",
            Self::Float => "number is not an integer (canonical JSON allows integers only)",
            Self::DuplicateKey => "duplicate object key",
            Self::Surrogate => "lone UTF-16 surrogate in a \\u escape",
            Self::Utf8 => "invalid UTF-8",
            Self::Trailing => "bytes after the end of the JSON value",
            Self::Depth => "nesting deeper than the limit",
            Self::Limit => "over a size or count limit",
            Self::NotCanonical => {
                "object keys are not in canonical order (streaming mode needs them sorted)"
            }
            Self::MissingField => "required field is missing",
            Self::WrongType => "field has the wrong JSON type",
            Self::BadValue => "field has a malformed value",
            Self::RoleType => "_type is not the expected role",
            Self::SpecVersion => "unsupported spec_version (major version must be 1)",
            Self::Expired => "metadata has expired",
            Self::Threshold => "not signed by a threshold of its authorised keys",
            Self::KeyidMismatch => "key ID is not the SHA-256 of the canonical key",
            Self::VersionRollback => "version is lower than the trusted one (rollback)",
            Self::VersionMismatch => "version differs from the one its parent declared",
            Self::MetaLength => "length differs from the one its parent declared",
            Self::MetaHash => "hash differs from the one its parent declared",
            Self::LengthExceeded => "file is longer than the maximum accepted",
            Self::MetaMissing => "snapshot lacks the entry for this role",
            Self::TargetNotFound => "no trusted role lists this target",
            Self::TargetLength => "target length differs from its signed length",
            Self::TargetHash => "target hash differs from its signed hash",
            Self::Io => "reading the input failed",
            Self::Misuse => "API called out of order",
        }
    }
}

/// Which metadata file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RoleKind {
    /// Not tied to a role (plain JSON, a target file...).
    #[default]
    None,
    /// `root.json`.
    Root,
    /// `timestamp.json`.
    Timestamp,
    /// `snapshot.json`.
    Snapshot,
    /// The top-level `targets.json`.
    Targets,
    /// A delegated targets role (its name is the one the caller asked for).
    Delegated,
    /// A target file.
    Target,
}

impl RoleKind {
    /// The role's name as used in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Root => "root",
            Self::Timestamp => "timestamp",
            Self::Snapshot => "snapshot",
            Self::Targets => "targets",
            Self::Delegated => "delegated targets",
            Self::Target => "target file",
        }
    }
}

/// A verification failure: the check, the role, the field and (for JSON errors) the byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    role: RoleKind,
    field: &'static str,
    offset: Option<u32>,
}

impl Error {
    /// A new error for `kind` at `field` (`""` when no field applies).
    pub const fn new(kind: ErrorKind, field: &'static str) -> Self {
        Self {
            kind,
            role: RoleKind::None,
            field,
            offset: None,
        }
    }

    pub(crate) const fn at(kind: ErrorKind, offset: usize) -> Self {
        Self {
            kind,
            role: RoleKind::None,
            field: "",
            offset: Some(offset as u32),
        }
    }

    /// The check that failed.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The role whose file failed.
    pub const fn role(&self) -> RoleKind {
        self.role
    }

    /// The JSON field (dotted path) that failed, or `""`.
    pub const fn field(&self) -> &'static str {
        self.field
    }

    /// Byte offset in the file, for errors found while parsing.
    pub const fn offset(&self) -> Option<u32> {
        self.offset
    }

    /// Attributes the error to a role, unless it already names one.
    #[must_use]
    pub const fn in_role(mut self, role: RoleKind) -> Self {
        if matches!(self.role, RoleKind::None) {
            self.role = role;
        }
        self
    }

    /// Attributes the error to a field, unless it already names one.
    #[must_use]
    pub const fn in_field(mut self, field: &'static str) -> Self {
        if self.field.is_empty() {
            self.field = field;
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !matches!(self.role, RoleKind::None) {
            write!(f, "{} metadata: ", self.role.name())?;
        }
        write!(f, "{} check failed", self.kind.name())?;
        // A device build (`otuf_small`) leaves the sentences out of flash: the stable name says
        // which check failed, and `ErrorKind`'s documentation says what it means.
        #[cfg(not(otuf_small))]
        write!(f, ": {}", self.kind.describe())?;
        if !self.field.is_empty() {
            write!(f, " (field `{}`)", self.field)?;
        }
        if let Some(offset) = self.offset {
            write!(f, " at byte {offset}")?;
        }
        Ok(())
    }
}

impl core::error::Error for Error {}

/// Shorthand used throughout the core.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn display_names_role_check_and_field() {
        let e = Error::new(ErrorKind::MetaHash, "meta.snapshot.json.hashes")
            .in_role(RoleKind::Timestamp);
        assert_eq!(
            e.to_string(),
            "timestamp metadata: meta_hash check failed: hash differs from the one its parent declared (field `meta.snapshot.json.hashes`)"
        );
        // The first attribution wins: inner code knows better.
        assert_eq!(e.in_role(RoleKind::Root).role(), RoleKind::Timestamp);
    }
}
