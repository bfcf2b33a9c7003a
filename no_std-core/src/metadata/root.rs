//! `root.json`: the keys and thresholds of the top-level roles.

use super::envelope::hash_canonical;
use super::{Body, Common, RoleKeys};
use crate::crypto::{parse_key, parse_keyid, Key, KeySet};
use crate::error::{Error, ErrorKind, Result};
use crate::json::lexer::{Canon, Lexer};
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
    keys: &mut KeySet,
) -> Result<()> {
    let mut id = Text::<64>::default();
    lx.begin_object().map_err(|e| e.in_field("keys"))?;
    while lx.next_member(&mut id)? {
        let (key, digest) = hash_canonical(lx, |lx| parse_key(lx))?;
        let keyid = id
            .get()
            .and_then(parse_keyid)
            .ok_or(Error::new(ErrorKind::KeyidMismatch, "keys"))?;
        if keyid != digest && Some(keyid) != key.bare_id {
            return Err(Error::new(ErrorKind::KeyidMismatch, "keys"));
        }
        if keys.iter().any(|k| k.keyid == keyid) {
            return Err(Error::new(ErrorKind::DuplicateKey, "keys"));
        }
        keys.push(Key {
            keyid,
            public: key.public,
        })
        .map_err(|_| Error::new(ErrorKind::Limit, "keys"))?;
    }
    Ok(())
}

/// Reads the members of a role object besides `keyids` and `threshold`; `Ok(false)` to have
/// one skipped. Behind `dyn`, so that `parse_role` exists once.
pub(crate) type OtherMembers<'o, S, K> = dyn FnMut(&mut Lexer<S, K>, &[u8]) -> Result<bool> + 'o;

/// Reads a role object's `keyids` and `threshold`; other members go to `other`.
pub(crate) fn parse_role<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    other: &mut OtherMembers<'_, S, K>,
) -> Result<RoleKeys> {
    let mut role = RoleKeys::default();
    let (mut has_ids, mut has_threshold) = (false, false);
    let mut key = Text::<32>::default();
    lx.begin_object().map_err(|e| e.in_field("roles"))?;
    while lx.next_member(&mut key)? {
        match key.get() {
            Some(b"keyids") => {
                role.parse_keyids(lx)?;
                has_ids = true;
            }
            Some(b"threshold") => {
                role.parse_threshold(lx)?;
                has_threshold = true;
            }
            Some(k) => {
                if !other(lx, k)? {
                    lx.skip()?;
                }
            }
            None => lx.skip()?,
        }
    }
    if !has_ids {
        return Err(Error::new(ErrorKind::MissingField, "roles.keyids"));
    }
    if !has_threshold {
        return Err(Error::new(ErrorKind::MissingField, "roles.threshold"));
    }
    Ok(role)
}

/// Reads straight into the caller's [`Root`] (no copy of it on the way), noting what was
/// present.
pub(crate) struct RootBody<'r> {
    pub(crate) root: &'r mut Root,
    consistent_snapshot: bool,
    keys: bool,
    roles: [bool; 4],
    has_roles: bool,
}

const ROLE_NAMES: [&[u8]; 4] = [b"root", b"timestamp", b"snapshot", b"targets"];

impl Body for RootBody<'_> {
    const TYPE: &'static [u8] = b"root";

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, key: &[u8]) -> Result<bool> {
        match key {
            b"consistent_snapshot" => {
                self.root.consistent_snapshot = lx
                    .boolean()
                    .map_err(|e| e.in_field("consistent_snapshot"))?;
                self.consistent_snapshot = true;
            }
            b"keys" => {
                self.root.keys.clear();
                parse_keys(lx, &mut self.root.keys)?;
                self.keys = true;
            }
            b"roles" => {
                self.has_roles = true;
                let mut name = Text::<16>::default();
                lx.begin_object().map_err(|e| e.in_field("roles"))?;
                while lx.next_member(&mut name)? {
                    let i = ROLE_NAMES
                        .iter()
                        .position(|n| name.is(n))
                        .ok_or(Error::new(
                            ErrorKind::BadValue,
                            "roles (only the top-level roles)",
                        ))?;
                    let r = &mut *self.root;
                    let slot = match i {
                        0 => &mut r.root,
                        1 => &mut r.timestamp,
                        2 => &mut r.snapshot,
                        _ => &mut r.targets,
                    };
                    *slot = parse_role(lx, &mut |_, _| Ok(false))?;
                    if let Some(seen) = self.roles.get_mut(i) {
                        *seen = true;
                    }
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        let missing = |f| Error::new(ErrorKind::MissingField, f);
        if !self.consistent_snapshot {
            return Err(missing("consistent_snapshot"));
        }
        if !self.keys {
            return Err(missing("keys"));
        }
        if !self.has_roles {
            return Err(missing("roles"));
        }
        for (seen, name) in self.roles.iter().zip([
            "roles.root",
            "roles.timestamp",
            "roles.snapshot",
            "roles.targets",
        ]) {
            if !seen {
                return Err(missing(name));
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

    fn member<S: Source, K: Canon>(&mut self, _: &mut Lexer<S, K>, _: &[u8]) -> Result<bool> {
        Ok(false)
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<'r> RootBody<'r> {
    /// Reads into `root` (its contents are replaced member by member).
    pub(crate) fn new(root: &'r mut Root) -> Self {
        Self {
            root,
            consistent_snapshot: false,
            keys: false,
            roles: [false; 4],
            has_roles: false,
        }
    }

    /// Completes the root in place with the common fields `parse_signed` returned (`finish`
    /// has checked that every member was present).
    pub(crate) fn complete(&mut self, common: Common) {
        self.root.common = common;
    }
}
