//! Every bound in one place. The core holds nothing whose size depends on a document's size:
//! each collection has a fixed capacity from here, and exceeding one is `ErrorKind::Limit`.
//!
//! Built with `--cfg otuf_small` (for example in a firmware's `.cargo/config.toml` rustflags),
//! the capacities are a device's: enough for a repository made for devices (a root with a few
//! holders, one online key, hash bins, short paths) and one bin path (targets, then the
//! device's bin: two pending roles, their keys, one retained snapshot entry), in a fraction of
//! the RAM and stack. Each
//! pair below reads `(default, otuf_small)`. It is a cfg, not a feature, because features add up
//! across a build: one crate asking for small capacities would shrink them for all.

/// Deepest JSON nesting accepted (containers, the outermost counts 1). TUF metadata nests 7
/// deep; the rest is for `custom`.
pub const MAX_DEPTH: usize = pick(32, 12);
/// Keys stored for one root or one set of delegations (a device's: as many root key holders
/// as a role may list, [`MAX_ROLE_KEYS`], and the online key).
pub const MAX_KEYS: usize = pick(16, 4);
/// Key IDs authorised for one role.
pub const MAX_ROLE_KEYS: usize = pick(8, 3);
/// Signatures on one metadata file that are checked (others are ignored).
pub const MAX_SIGNATURES: usize = pick(16, 3);
/// Longest role name.
pub const MAX_ROLE_NAME: usize = pick(96, 48);
/// Longest target path the search accepts, and longest object key read as data.
pub const MAX_PATH: usize = pick(256, 128);
/// Sum of the lengths of the object keys on the current path, in streaming mode (the sort check
/// keeps the previous key of every open object).
pub const MAX_KEY_STACK: usize = pick(640, 256);
/// Canonical bytes of a target's `custom` object kept for the caller.
pub const MAX_CUSTOM: usize = pick(1024, 128);
/// Delegated roles pending on the search stack.
pub const MAX_SEARCH_STACK: usize = pick(16, 2);
/// Keys held for pending delegated roles (shared by the stack entries).
pub const MAX_SEARCH_KEYS: usize = pick(16, 2);
/// Delegated roles one target search visits (each remembered by a 128-bit hash of its name).
pub const MAX_VISITED: usize = pick(32, 4);
/// Snapshot meta entries (besides `targets.json`) kept for later checks without `alloc`.
pub const MAX_RETAINED_META: usize = pick(8, 1);

/// Canonical bytes gathered before they are hashed into every signature check at once (fewer,
/// longer hash updates when a file carries several signatures).
pub const VERIFY_BATCH: usize = pick(512, 64);

const fn pick(default: usize, small: usize) -> usize {
    if cfg!(otuf_small) {
        small
    } else {
        default
    }
}
/// Longest signature accepted: ed25519 is 64 bytes, DER ECDSA P-256 at most 72, RSA up to 4096 bits.
pub const MAX_SIGNATURE: usize = if cfg!(feature = "std") { 512 } else { 72 };

/// Per-file length bounds and search budgets (python-tuf's `UpdaterConfig` defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes accepted for `N.root.json`.
    pub root_max_length: u64,
    /// Most bytes accepted for `timestamp.json`.
    pub timestamp_max_length: u64,
    /// Most bytes for `snapshot.json` when timestamp declares no length.
    pub snapshot_max_length: u64,
    /// Most bytes for a targets role when snapshot declares no length.
    pub targets_max_length: u64,
    /// Root versions fetched in one refresh.
    pub max_root_rotations: u32,
    /// Delegated roles visited in one target search.
    pub max_delegations: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            root_max_length: 512_000,
            timestamp_max_length: 16_384,
            snapshot_max_length: 2_000_000,
            targets_max_length: 5_000_000,
            max_root_rotations: 256,
            max_delegations: 32,
        }
    }
}
