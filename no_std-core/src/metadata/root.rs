//! `root.json`: the keys and thresholds of the top-level roles.

use super::envelope::hash_canonical;
use super::{Body, Common, RoleKeys};
use crate::crypto::{parse_key, parse_keyid, Key, KeySet};
use crate::error::{Error, ErrorKind, Result};
use crate::json::lexer::{Canon, Lexer};
use crate::json::source::Source;
use crate::json::Text;

/// A root role's trusted content.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Reads a role object's `keyids` and `threshold`; other members go to `other`.
pub(crate) fn parse_role<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    mut other: impl FnMut(&mut Lexer<S, K>, &[u8]) -> Result<bool>,
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

#[derive(Default)]
pub(crate) struct RootBody {
    consistent_snapshot: Option<bool>,
    keys: Option<KeySet>,
    roles: [Option<RoleKeys>; 4],
    has_roles: bool,
}

const ROLE_NAMES: [&[u8]; 4] = [b"root", b"timestamp", b"snapshot", b"targets"];

impl Body for RootBody {
    const TYPE: &'static [u8] = b"root";

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, key: &[u8]) -> Result<bool> {
        match key {
            b"consistent_snapshot" => {
                self.consistent_snapshot = Some(
                    lx.boolean()
                        .map_err(|e| e.in_field("consistent_snapshot"))?,
                );
            }
            b"keys" => {
                let mut keys = KeySet::new();
                parse_keys(lx, &mut keys)?;
                self.keys = Some(keys);
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
                    let role = parse_role(lx, |_, _| Ok(false))?;
                    if let Some(slot) = self.roles.get_mut(i) {
                        *slot = Some(role);
                    }
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        let missing = |f| Error::new(ErrorKind::MissingField, f);
        self.consistent_snapshot
            .ok_or(missing("consistent_snapshot"))?;
        self.keys.as_ref().ok_or(missing("keys"))?;
        if !self.has_roles {
            return Err(missing("roles"));
        }
        for (role, name) in self.roles.iter().zip([
            "roles.root",
            "roles.timestamp",
            "roles.snapshot",
            "roles.targets",
        ]) {
            role.as_ref().ok_or(missing(name))?;
        }
        Ok(())
    }
}

impl RootBody {
    pub(crate) fn into_root(self, common: Common) -> Result<Root> {
        let [Some(root), Some(timestamp), Some(snapshot), Some(targets)] = self.roles else {
            return Err(Error::new(ErrorKind::MissingField, "roles"));
        };
        Ok(Root {
            common,
            consistent_snapshot: self.consistent_snapshot.unwrap_or(false),
            keys: self.keys.unwrap_or_default(),
            root,
            timestamp,
            snapshot,
            targets,
        })
    }
}
