//! The core's errors: which check failed, in which role, at which field.
//!
//! `Error` is eight bytes and `Copy`; inside the core its readers pass a four-byte
//! [`fault::Fault`] instead, whose offset the tokenizer keeps. A user sees the role (which
//! file), the check (what went wrong) and the field or byte offset (where). Fields are a
//! table ([`Field`]) rather than strings: a device's code then stores one byte per error site
//! instead of a pointer and a length.

use core::fmt;

/// [`Names`] of string literals, in order.
macro_rules! packed_names {
    ($($name:literal),* $(,)?) => {
        Names::new(concat!($($name),*), [$($name.len()),*])
    };
}

/// Declares [`ErrorKind`] and its stable names in one table.
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The check that failed. Stable snake_case names (`ErrorKind::name`) are used by
        /// fixtures, logs and the agent's exit messages.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $($(#[$doc])* $variant,)*
        }

        /// Every check's name, packed in declaration order (two bytes of flash each).
        const KIND_NAMES: Names<{ [$(stringify!($variant)),*].len() }> =
            packed_names!($($name),*);
    };
}

kinds! {
    // --- JSON ---
    /// Malformed JSON.
    Syntax => "syntax",
    /// A number with a fraction or exponent: canonical JSON has integers only.
    Float => "float",
    /// The same key twice in one object.
    DuplicateKey => "duplicate_key",
    /// A `\u` escape that is a lone or misordered UTF-16 surrogate.
    Surrogate => "surrogate",
    /// Bytes that are not valid UTF-8.
    Utf8 => "utf8",
    /// Bytes after the top-level value.
    Trailing => "trailing",
    /// Nesting deeper than the limit.
    Depth => "depth",
    /// A count or size over one of the core's limits.
    Limit => "limit",
    /// Streaming mode needs object keys in canonical order.
    NotCanonical => "not_canonical",
    // --- schema ---
    /// A required field is absent.
    MissingField => "missing_field",
    /// A field has the wrong JSON type.
    WrongType => "wrong_type",
    /// A field's value is malformed (bad hex, date, version, name...).
    BadValue => "bad_value",
    // --- TUF checks ---
    /// `_type` is not the role that was expected.
    RoleType => "role_type",
    /// `spec_version` is not of major version 1.
    SpecVersion => "spec_version",
    /// The metadata expired at the reference time.
    Expired => "expired",
    /// Fewer valid signatures by distinct authorised keys than the threshold.
    Threshold => "threshold",
    /// A key ID is not the SHA-256 of its canonical key object.
    KeyidMismatch => "keyid_mismatch",
    /// A version lower than one already trusted (rollback attack).
    VersionRollback => "version_rollback",
    /// A version other than the one the parent role declared.
    VersionMismatch => "version_mismatch",
    /// The file's length differs from the parent role's meta.
    MetaLength => "meta_length",
    /// The file's hash differs from the parent role's meta.
    MetaHash => "meta_hash",
    /// The file is longer than the maximum the client accepts (endless data attack).
    LengthExceeded => "length_exceeded",
    /// The snapshot has no entry for a role it must list.
    MetaMissing => "meta_missing",
    /// No role delegated to the target path lists it.
    TargetNotFound => "target_not_found",
    /// A target file's length differs from its signed length.
    TargetLength => "target_length",
    /// A target file's hash differs from its signed hash.
    TargetHash => "target_hash",
    /// The byte source failed.
    Io => "io",
    /// The caller used the API out of order (a bug in the caller, not hostile input).
    Misuse => "misuse",
}

impl ErrorKind {
    /// The stable name of this check.
    pub fn name(self) -> &'static str {
        KIND_NAMES.get(self as usize)
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

/// Names packed into one string and found by where each one ends: two bytes of flash per name
/// instead of a pointer and a length (a device carries every field's name).
struct Names<const N: usize> {
    all: &'static str,
    ends: [u16; N],
}

impl<const N: usize> Names<N> {
    /// `all` is the names concatenated; `lengths` their lengths, in the same order.
    // Evaluated at compile time: an index out of bounds fails the build, never a device.
    #[allow(clippy::indexing_slicing)]
    const fn new(all: &'static str, lengths: [usize; N]) -> Self {
        let (mut ends, mut end, mut i) = ([0u16; N], 0, 0);
        while i < N {
            end += lengths[i];
            ends[i] = end as u16;
            i += 1;
        }
        assert!(end == all.len() && end <= u16::MAX as usize);
        Self { all, ends }
    }

    /// Name `i` (`""` past the end).
    fn get(&self, i: usize) -> &'static str {
        let end = |i: usize| usize::from(self.ends.get(i).copied().unwrap_or(0));
        let start = i.checked_sub(1).map_or(0, end);
        self.all.get(start..end(i)).unwrap_or("")
    }
}

/// Declares [`Field`] and its dotted names in one table.
macro_rules! fields {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Where in a file (or in the API) a check failed: a JSON field as a dotted path, or,
        /// for [`ErrorKind::Misuse`] and [`ErrorKind::Io`], what was out of order or missing.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        #[non_exhaustive]
        #[repr(u8)]
        pub enum Field {
            /// No field applies.
            #[default]
            None,
            $($(#[$doc])* #[doc = concat!("`", $name, "`")] $variant,)*
        }

        /// Every field's name, packed (`None`'s is empty), in declaration order.
        const FIELD_NAMES: Names<{ [$(stringify!($variant)),*].len() + 1 }> =
            Names::new(concat!($($name),*), [0, $($name.len()),*]);

        impl Field {
            /// The field's dotted name (`""` for [`Field::None`]).
            pub fn name(self) -> &'static str {
                FIELD_NAMES.get(self as usize)
            }
        }
    };
}

fields! {
    // the envelope
    Signatures => "signatures",
    SignatureKeyid => "signatures.keyid",
    SignatureSig => "signatures.sig",
    Signed => "signed",
    // every role
    Type => "_type",
    SpecVersion => "spec_version",
    Version => "version",
    Expires => "expires",
    Length => "length",
    // root
    ConsistentSnapshot => "consistent_snapshot",
    Keys => "keys",
    KeyType => "keys.keytype",
    KeyScheme => "keys.scheme",
    KeyVal => "keys.keyval",
    KeyPublic => "keys.keyval.public",
    Roles => "roles",
    RolesTopLevel => "roles (only the top-level roles)",
    RoleRoot => "roles.root",
    RoleTimestamp => "roles.timestamp",
    RoleSnapshot => "roles.snapshot",
    RoleTargets => "roles.targets",
    RoleKeyids => "roles.keyids",
    RoleThreshold => "roles.threshold",
    Keyids => "keyids",
    KeyidsDuplicate => "keyids (duplicate)",
    Threshold => "threshold",
    // timestamp and snapshot
    Meta => "meta",
    MetaRetained => "meta (retained)",
    MetaVersion => "meta.version",
    MetaLength => "meta.length",
    MetaHashes => "meta.hashes",
    MetaSnapshot => "meta.snapshot.json",
    MetaSnapshotVersion => "meta.snapshot.json.version",
    MetaTargets => "meta.targets.json",
    MetaTargetsVersion => "meta.targets.json.version",
    SnapshotMeta => "snapshot meta",
    // targets
    Targets => "targets",
    TargetLength => "targets.length",
    TargetHashes => "targets.hashes",
    TargetCustom => "targets.custom",
    Hashes => "hashes",
    Delegations => "delegations",
    DelegationKeys => "delegations.keys",
    DelegationRoles => "delegations.roles",
    DelegationOneOf => "delegations (exactly one of roles, succinct_roles)",
    DelegatedName => "delegations.roles.name",
    DelegatedTerminating => "delegations.roles.terminating",
    DelegatedPaths => "delegations.roles.paths",
    DelegatedPathsOneOf => "delegations.roles (exactly one of paths, path_hash_prefixes)",
    PathHashPrefixes => "path_hash_prefixes",
    Paths => "paths",
    Succinct => "delegations.succinct_roles",
    SuccinctBitLength => "succinct_roles.bit_length",
    SuccinctNamePrefix => "succinct_roles.name_prefix",
    BitLength => "bit_length",
    NamePrefix => "name_prefix",
    // the API and the caller's side
    /// A trust anchor ([`crate::anchor`]) this build cannot hold.
    TrustAnchor => "trust anchor",
    RoleName => "role name",
    RetainedRoles => "retained roles",
    DelegationsVisited => "delegations visited",
    DelegationsPending => "delegations pending",
    DelegationKeysHeld => "delegation keys",
    ChunkBuffer => "chunk buffer is empty",
    RootChanged => "root changed between reads",
    RootAfterTimestamp => "root after timestamp",
    TimestampAfterSnapshot => "timestamp after snapshot",
    SnapshotAfterTargets => "snapshot after targets",
    NoTimestamp => "no timestamp",
    NoSnapshot => "no snapshot",
    NotFetchingRoot => "not fetching root",
    UseRootStream => "use handle_root_stream for root",
    NotFoundEndsRoot => "only a missing root version ends a step",
    NothingToHandle => "nothing to handle",
    /// `Client::next` before `Client::trust_root`.
    NoTrustedRoot => "no trusted root yet",
    /// `Client::trust_root` on a client that has one.
    RootAlreadyTrusted => "the root is already trusted",
    SearchBeforeTargets => "search before targets is trusted",
    AlreadyFound => "the target is already found",
    GeneralNotBuilt => "general mode is not built",
    /// A file the caller could not find.
    NotFound => "not found",
    /// A target file the caller could not read.
    Target => "target",
}

/// A verification failure: the check, the role, the field and (for JSON errors) the byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    role: RoleKind,
    field: Field,
    /// `NO_OFFSET` when the error is not about a position in a file.
    offset: u32,
}

const NO_OFFSET: u32 = u32::MAX;

impl Error {
    /// A new error for `kind` at `field`.
    pub const fn new(kind: ErrorKind, field: Field) -> Self {
        Self {
            kind,
            role: RoleKind::None,
            field,
            offset: NO_OFFSET,
        }
    }

    /// A JSON error at byte `offset` of the file (files past 4 GiB are refused long before).
    pub(crate) const fn at(kind: ErrorKind, offset: usize) -> Self {
        Self {
            kind,
            role: RoleKind::None,
            field: Field::None,
            offset: fault::clamp(offset),
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
    pub fn field(&self) -> &'static str {
        self.field.name()
    }

    /// The field as a value.
    pub const fn field_id(&self) -> Field {
        self.field
    }

    /// Byte offset in the file, for errors found while parsing.
    pub const fn offset(&self) -> Option<u32> {
        if self.offset == NO_OFFSET {
            None
        } else {
            Some(self.offset)
        }
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
    pub const fn in_field(mut self, field: Field) -> Self {
        if matches!(self.field, Field::None) {
            self.field = field;
        }
        self
    }
}

/// Inside the core: which check failed, in which role, at which field, and whether at a byte
/// offset, in four bytes. Every reader returns it, and a `Result` of it with a value of up to
/// four bytes is returned in two registers on a 32-bit target, where an eight-byte error goes
/// through memory at each `?` (2.3 KiB of flash on a Cortex-M4). The offset itself is kept by
/// the tokenizer that made the fault, and the code that owns the tokenizer turns the fault into
/// an [`Error`] with it ([`Lexer::error`](crate::json::lexer::Lexer::error)); a fault no
/// tokenizer made converts by `From`.
pub(crate) mod fault {
    use super::{Error, ErrorKind, Field, RoleKind, NO_OFFSET};

    /// See [the module](self).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Fault {
        kind: ErrorKind,
        role: RoleKind,
        field: Field,
        /// At a byte offset its tokenizer holds.
        located: bool,
    }

    /// Shorthand for the core's readers.
    pub(crate) type Result<T> = core::result::Result<T, Fault>;

    impl Fault {
        /// A new fault for `kind` at `field`.
        pub(crate) const fn new(kind: ErrorKind, field: Field) -> Self {
            Self {
                kind,
                role: RoleKind::None,
                field,
                located: false,
            }
        }

        /// A JSON fault at the byte offset its tokenizer records.
        pub(crate) const fn located(kind: ErrorKind) -> Self {
            Self {
                kind,
                role: RoleKind::None,
                field: Field::None,
                located: true,
            }
        }

        /// `error` without its offset, which the tokenizer taking it records.
        pub(crate) const fn of(error: Error) -> Self {
            Self {
                kind: error.kind,
                role: error.role,
                field: error.field,
                located: error.offset != NO_OFFSET,
            }
        }

        /// The check that failed.
        pub(crate) const fn kind(&self) -> ErrorKind {
            self.kind
        }

        /// The error, at `offset` if the fault is located.
        pub(crate) const fn at(self, offset: usize) -> Error {
            let mut e = Error::new(self.kind, self.field).in_role(self.role);
            if self.located {
                e.offset = clamp(offset);
            }
            e
        }

        /// See [`Error::in_role`].
        #[must_use]
        pub(crate) const fn in_role(mut self, role: RoleKind) -> Self {
            if matches!(self.role, RoleKind::None) {
                self.role = role;
            }
            self
        }

        /// See [`Error::in_field`].
        #[must_use]
        pub(crate) const fn in_field(mut self, field: Field) -> Self {
            if matches!(self.field, Field::None) {
                self.field = field;
            }
            self
        }
    }

    /// A fault no tokenizer located (a located one reaching here has lost its offset: a bug
    /// the tests catch, not something input can cause).
    impl From<Fault> for Error {
        fn from(f: Fault) -> Self {
            debug_assert!(
                !f.located,
                "a located fault converted without its offset: {f:?}"
            );
            Error::new(f.kind, f.field).in_role(f.role)
        }
    }

    /// Offsets past 4 GiB (refused long before) are kept as the largest one.
    pub(super) const fn clamp(offset: usize) -> u32 {
        if offset < NO_OFFSET as usize {
            offset as u32
        } else {
            NO_OFFSET - 1
        }
    }
}

impl Error {
    /// The message, piece by piece, into `out`: what `Display` writes, for a device console that
    /// carries no `core::fmt` (the offset's digits are made here, with 32-bit division).
    pub fn write_parts(&self, out: &mut dyn FnMut(&str)) {
        if !matches!(self.role, RoleKind::None) {
            out(self.role.name());
            out(" metadata: ");
        }
        out(self.kind.name());
        out(" check failed");
        // A device build (`otuf_small`) leaves the sentences out of flash: the stable name says
        // which check failed, and `ErrorKind`'s documentation says what it means.
        #[cfg(not(otuf_small))]
        {
            out(": ");
            out(self.kind.describe());
        }
        if !matches!(self.field, Field::None) {
            out(" (field `");
            out(self.field.name());
            out("`)");
        }
        if let Some(offset) = self.offset() {
            out(" at byte ");
            write_u32(offset, out);
        }
    }
}

/// `n` in decimal into `out`, with 32-bit division and no `core::fmt`: for a device console
/// (the errors' byte offsets, and whatever else a firmware prints).
pub fn write_u32(mut n: u32, out: &mut dyn FnMut(&str)) {
    let mut digits = [b'0'; 10];
    let mut at = digits.len();
    while at > 0 {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out(core::str::from_utf8(digits.get(at..).unwrap_or_default()).unwrap_or_default());
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut result = Ok(());
        self.write_parts(&mut |part| {
            if result.is_ok() {
                result = f.write_str(part);
            }
        });
        result
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
        let e = Error::new(ErrorKind::MetaHash, Field::MetaHashes).in_role(RoleKind::Timestamp);
        assert_eq!(
            e.to_string(),
            "timestamp metadata: meta_hash check failed: hash differs from the one its parent declared (field `meta.hashes`)"
        );
        // The first attribution wins: inner code knows better.
        assert_eq!(e.in_role(RoleKind::Root).role(), RoleKind::Timestamp);
        assert_eq!(e.in_field(Field::Keys).field(), "meta.hashes");
        assert_eq!(Error::at(ErrorKind::Syntax, 7).offset(), Some(7));
        for (offset, digits) in [
            (0, "0"),
            (7, "7"),
            (1203, "1203"),
            (u32::MAX - 1, "4294967294"),
        ] {
            let e = Error::at(ErrorKind::Syntax, offset as usize);
            assert!(e.to_string().ends_with(&std::format!(
                "check failed: {} at byte {digits}",
                ErrorKind::Syntax.describe()
            )));
        }
    }

    #[test]
    fn an_error_is_eight_bytes_and_a_result_of_nothing_no_more() {
        assert_eq!(core::mem::size_of::<Error>(), 8);
        assert_eq!(core::mem::size_of::<Result<()>>(), 8);
    }
}
