//! `root.json`: the keys and thresholds of the top-level roles.

use super::envelope::hash_canonical;
use super::{signed_members, Body, Common, RoleKeys};
use crate::crypto::{parse_key, parse_keyid, Key, KeySet};
use crate::error::{Error, ErrorKind, Field, Result};
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{map, record, Member};
use crate::json::source::Source;
use crate::json::Text;

/// A root role's trusted content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Root {
    /// `version` and `expires`.
    pub common: Common,
    /// `consistent_snapshot`.
    pub consistent_snapshot: bool,
    /// `keys`.
    pub keys: KeySet,
    /// `roles.root`.
    pub root: RoleKeys,
    /// `roles.timestamp`.
    pub timestamp: RoleKeys,
    /// `roles.snapshot`.
    pub snapshot: RoleKeys,
    /// `roles.targets`.
    pub targets: RoleKeys,
}

/// Reads a `keys` object, checking that every key ID is the hash of its canonical key object
/// (with or without its extension members, as securesystemslib and RSTUF compute it).
#[inline(never)] // the keys' frame only while they are read
pub(crate) fn parse_keys<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    field: Field,
    keys: &mut KeySet,
) -> Result<()> {
    map(lx, field, &mut Text::<64>::default(), &mut |lx, id| {
        let (key, digest) = hash_canonical(lx, |lx| parse_key(lx))?;
        let keyid = id
            .and_then(parse_keyid)
            .ok_or(Error::new(ErrorKind::KeyidMismatch, field))?;
        if keyid != digest && Some(keyid) != key.bare_id {
            return Err(Error::new(ErrorKind::KeyidMismatch, field));
        }
        if keys.iter().any(|k| k.keyid == keyid) {
            return Err(Error::new(ErrorKind::DuplicateKey, field));
        }
        keys.push(Key {
            keyid,
            public: key.public,
        })
        .map_err(|_| Error::new(ErrorKind::Limit, field))
    })
}

const ROLE: &[Member] = &[
    (b"keyids", Field::RoleKeyids),
    (b"threshold", Field::RoleThreshold),
];

/// Reads a top-level role's `keyids` and `threshold`.
fn parse_role<S: Source, K: Canon>(lx: &mut Lexer<S, K>, role: &mut RoleKeys) -> Result<()> {
    role.keyids.clear();
    record(lx, Field::Roles, ROLE, 0b11, &mut |lx, i| {
        if i == 0 {
            role.read_keyids(lx)
        } else {
            role.read_threshold(lx)
        }
    })
    .map(|_| ())
}

/// Reads straight into the caller's [`Root`] (no copy of it on the way).
pub(crate) struct RootBody<'r> {
    pub(crate) root: &'r mut Root,
}

const ROLE_NAMES: [&[u8]; 4] = [b"root", b"timestamp", b"snapshot", b"targets"];
const ROLE_FIELDS: [Field; 4] = [
    Field::RoleRoot,
    Field::RoleTimestamp,
    Field::RoleSnapshot,
    Field::RoleTargets,
];

impl Body for RootBody<'_> {
    const TYPE: &'static [u8] = b"root";
    const MEMBERS: &'static [Member] = signed_members![
        (b"consistent_snapshot", Field::ConsistentSnapshot),
        (b"keys", Field::Keys),
        (b"roles", Field::Roles),
    ];
    const REQUIRED: u32 = 0b111_0000;

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, i: usize) -> Result<()> {
        let root = &mut *self.root;
        match i {
            4 => root.consistent_snapshot = lx.boolean()?,
            5 => {
                root.keys.clear();
                parse_keys(lx, Field::Keys, &mut root.keys)?;
            }
            _ => {
                let mut seen = 0u8;
                map(
                    lx,
                    Field::Roles,
                    &mut Text::<16>::default(),
                    &mut |lx, name| {
                        let i = ROLE_NAMES
                            .iter()
                            .position(|n| name == Some(*n))
                            .ok_or(Error::new(ErrorKind::BadValue, Field::RolesTopLevel))?;
                        let slot = match i {
                            0 => &mut root.root,
                            1 => &mut root.timestamp,
                            2 => &mut root.snapshot,
                            _ => &mut root.targets,
                        };
                        parse_role(lx, slot)?;
                        seen |= 1 << i;
                        Ok(())
                    },
                )?;
                if let Some(missing) = (0..4).find(|i| seen & (1 << i) == 0) {
                    let field = ROLE_FIELDS.get(missing).copied().unwrap_or(Field::Roles);
                    return Err(Error::new(ErrorKind::MissingField, field));
                }
            }
        }
        Ok(())
    }
}

/// A root read again only for its signatures (a streamed second pass): its members are
/// validated and covered by the signatures but not kept, so no second copy of the keys is held.
pub(crate) struct RootSignaturesOnly;

impl Body for RootSignaturesOnly {
    const TYPE: &'static [u8] = b"root";
    const MEMBERS: &'static [Member] = signed_members![];
    const REQUIRED: u32 = 0;

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, _: usize) -> Result<()> {
        lx.skip()
    }
}

impl<'r> RootBody<'r> {
    /// Reads into `root` (its contents are replaced member by member).
    pub(crate) fn new(root: &'r mut Root) -> Self {
        Self { root }
    }

    /// Completes the root in place with the common fields `parse_signed` returned.
    pub(crate) fn complete(&mut self, common: Common) {
        self.root.common = common;
    }
}
