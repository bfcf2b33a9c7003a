//! `root.json`: the keys and thresholds of the top-level roles.

use super::envelope::hash_canonical;
use super::{signed_members, Body, Common, RoleKeys};
use crate::crypto::{parse_key, HexKeyId, Key, KeySet, ParsedKey, PublicKey};
use crate::error::fault::{Fault, Result};
use crate::error::{ErrorKind, Field};
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{map, members, record, MemberTable};
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

/// Reads a `keys` object into `keys[from..]` (only checked when no set is given), checking that
/// every key ID is the hash of its canonical key object (with or without its extension members,
/// as securesystemslib and RSTUF compute it). A key ID a role named first is filled in.
#[inline(never)] // the keys' frame only while they are read
pub(crate) fn parse_keys<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    field: Field,
    mut keys: Option<(&mut KeySet, usize)>,
) -> Result<()> {
    // A loop, not a `map` callback: a key is the deepest read of all (see `parse_key`).
    let named = |e: Fault| e.in_field(field);
    let mut id = HexKeyId::default();
    lx.begin_object().map_err(named)?;
    loop {
        id.clear();
        if !lx.next_key(&mut id).map_err(named)? {
            return Ok(());
        }
        let keyid = id.id().ok_or(Fault::new(ErrorKind::KeyidMismatch, field))?;
        // Read into this frame's one copy (a key returned by value is copied twice on its way).
        let mut key = ParsedKey::default();
        let ((), digest) = hash_canonical(lx, |lx| parse_key(lx, &mut key)).map_err(named)?;
        if keyid != digest && Some(keyid) != key.bare_id {
            return Err(Fault::new(ErrorKind::KeyidMismatch, field));
        }
        // A key ID twice in one object is a duplicate key, which the tokenizer refuses.
        let Some((keys, from)) = keys.as_mut() else {
            continue;
        };
        match crate::crypto::position(keys, *from, &keyid) {
            Some(i) => match keys.get_mut(i) {
                // Swapped, not assigned: an assignment here is a 33-byte memmove (1.5 KiB of
                // compiler-builtins on a device).
                Some(k) if matches!(k.public, PublicKey::Absent) => {
                    core::mem::swap(&mut k.public, &mut key.public)
                }
                _ => return Err(Fault::new(ErrorKind::DuplicateKey, field)),
            },
            None => keys
                .push(Key {
                    keyid,
                    public: key.public,
                })
                .map_err(|_| Fault::new(ErrorKind::Limit, field))?,
        }
    }
}

const ROLE: &MemberTable = members![
    ("keyids", Field::RoleKeyids),
    ("threshold", Field::RoleThreshold),
];

/// Reads a top-level role's `keyids` and `threshold`, its keys positions in `keys`.
fn parse_role<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    role: &mut RoleKeys,
    keys: &mut KeySet,
) -> Result<()> {
    record(lx, Field::Roles, ROLE, 0b11, &mut |lx, i| {
        if i == 0 {
            let ids = RoleKeys::read_keyids(lx)?;
            role.keys = RoleKeys::resolve(&ids, keys, 0)?;
            Ok(())
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
    const MEMBERS: &'static MemberTable = signed_members![
        ("consistent_snapshot", Field::ConsistentSnapshot),
        ("keys", Field::Keys),
        ("roles", Field::Roles),
    ];
    const REQUIRED: u32 = 0b111_0000;

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, i: usize) -> Result<()> {
        let root = &mut *self.root;
        match i {
            4 => root.consistent_snapshot = lx.boolean()?,
            5 => parse_keys(lx, Field::Keys, Some((&mut root.keys, 0)))?,
            _ => {
                let mut seen = 0u8;
                map(
                    lx,
                    Field::Roles,
                    Text::<16>::default().out(),
                    &mut |lx, name| {
                        let i = ROLE_NAMES
                            .iter()
                            .position(|n| name == Some(*n))
                            .ok_or(Fault::new(ErrorKind::BadValue, Field::RolesTopLevel))?;
                        let Root {
                            keys,
                            root: r,
                            timestamp,
                            snapshot,
                            targets,
                            ..
                        } = &mut *root;
                        let slot = match i {
                            0 => r,
                            1 => timestamp,
                            2 => snapshot,
                            _ => targets,
                        };
                        parse_role(lx, slot, keys)?;
                        seen |= 1 << i;
                        Ok(())
                    },
                )?;
                if let Some(missing) = (0..4).find(|i| seen & (1 << i) == 0) {
                    let field = ROLE_FIELDS.get(missing).copied().unwrap_or(Field::Roles);
                    return Err(Fault::new(ErrorKind::MissingField, field));
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
    const MEMBERS: &'static MemberTable = signed_members![];
    const REQUIRED: u32 = 0;

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, _: usize) -> Result<()> {
        lx.skip()
    }
}

impl<'r> RootBody<'r> {
    /// Reads into `root`, emptied first.
    pub(crate) fn new(root: &'r mut Root) -> Self {
        root.keys.clear();
        Self { root }
    }

    /// Completes the root in place with the common fields `parse_signed` returned.
    pub(crate) fn complete(&mut self, common: Common) {
        self.root.common = common;
    }
}
