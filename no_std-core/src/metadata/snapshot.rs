//! `snapshot.json`: the version (and length and hashes) of every targets role.
//!
//! A snapshot may list thousands of hash bins. It is read entry by entry: `targets.json` is
//! always kept, other entries only when retained (all of them with `alloc`; without a heap, the
//! roles the caller declared it will need), so the state stays fixed-size. The rollback check
//! against the previous trusted snapshot (§5.5.5) covers every retained entry.

use super::{signed_members, Body, Common, MetaFile, RoleName};
use crate::error::fault::{Fault, Result};
use crate::error::{ErrorKind, Field};
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{map, MemberTable};
use crate::json::source::Source;
use crate::json::Text;
#[cfg(not(feature = "alloc"))]
use crate::limits::MAX_RETAINED_META;
use crate::limits::MAX_ROLE_NAME;

/// Snapshot meta entries kept for later checks, by role name (without `.json`).
///
/// With `alloc`, every entry: names in one string, entries sorted by name (python-tuf and
/// otuf-repo write them sorted, so building is an append), found by binary search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaStore {
    #[cfg(feature = "alloc")]
    names: alloc::string::String,
    #[cfg(feature = "alloc")]
    entries: alloc::vec::Vec<(u32, u32, MetaFile)>,
    #[cfg(feature = "alloc")]
    sorted: bool,
    #[cfg(not(feature = "alloc"))]
    entries: heapless::Vec<(RoleName, MetaFile), MAX_RETAINED_META>,
}

impl MetaStore {
    #[cfg(feature = "alloc")]
    fn name(&self, e: &(u32, u32, MetaFile)) -> &str {
        self.names
            .get(e.0 as usize..e.1 as usize)
            .unwrap_or_default()
    }

    /// The entry for `role`.
    pub fn get(&self, role: &str) -> Option<&MetaFile> {
        #[cfg(feature = "alloc")]
        return self
            .entries
            .binary_search_by(|e| self.name(e).cmp(role))
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(|e| &e.2);
        #[cfg(not(feature = "alloc"))]
        return self
            .entries
            .iter()
            .find(|(n, _)| n.as_str() == role)
            .map(|(_, m)| m);
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn insert(&mut self, role: &str, meta: MetaFile) -> Result<()> {
        #[cfg(feature = "alloc")]
        {
            if self.entries.is_empty() {
                self.sorted = true;
            }
            if self
                .entries
                .last()
                .is_some_and(|last| self.name(last) >= role)
            {
                self.sorted = false;
            }
            let start = self.names.len() as u32;
            self.names.push_str(role);
            self.entries.push((start, self.names.len() as u32, meta));
        }
        #[cfg(not(feature = "alloc"))]
        {
            let name =
                RoleName::try_from(role).map_err(|_| Fault::new(ErrorKind::Limit, Field::Meta))?;
            self.entries
                .push((name, meta))
                .map_err(|_| Fault::new(ErrorKind::Limit, Field::MetaRetained))?;
        }
        Ok(())
    }

    /// Makes lookups work after out-of-order inserts.
    fn seal(&mut self) {
        #[cfg(feature = "alloc")]
        if !self.sorted {
            let names = core::mem::take(&mut self.names);
            self.entries.sort_by(|a, b| {
                let n = |e: &(u32, u32, MetaFile)| {
                    names.get(e.0 as usize..e.1 as usize).unwrap_or_default()
                };
                n(a).cmp(n(b))
            });
            self.names = names;
            self.sorted = true;
        }
    }
}

/// A snapshot role's trusted content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// `version` and `expires`.
    pub common: Common,
    /// `meta["targets.json"]`, when listed.
    pub targets_meta: Option<MetaFile>,
    /// The other retained entries.
    pub meta: MetaStore,
}

impl Snapshot {
    /// The entry for a targets role (`"targets"` or a delegated role's name).
    pub fn meta_for(&self, role: &str) -> Option<&MetaFile> {
        if role == "targets" {
            self.targets_meta.as_ref()
        } else {
            self.meta.get(role)
        }
    }
}

pub(crate) struct SnapshotBody<'p> {
    pub(crate) targets: Option<MetaFile>,
    pub(crate) meta: MetaStore,
    /// The previous trusted snapshot, for the rollback check.
    previous: Option<&'p Snapshot>,
    /// Roles to retain without `alloc`.
    interest: &'p [RoleName],
    seen_previous: usize,
}

impl<'p> SnapshotBody<'p> {
    pub(crate) fn new(previous: Option<&'p Snapshot>, interest: &'p [RoleName]) -> Self {
        Self {
            targets: None,
            meta: MetaStore::default(),
            previous,
            interest,
            seen_previous: 0,
        }
    }

    fn retain(&self, role: &str) -> bool {
        cfg!(feature = "alloc") || self.interest.iter().any(|r| r.as_str() == role)
    }
}

impl Body for SnapshotBody<'_> {
    const TYPE: &'static [u8] = b"snapshot";
    const MEMBERS: &'static MemberTable = signed_members![("meta", Field::Meta)];
    const REQUIRED: u32 = 0b1_0000;

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, _: usize) -> Result<()> {
        let mut name = Text::<{ MAX_ROLE_NAME + 5 }>::default();
        map(lx, Field::Meta, name.out(), &mut |lx, name| {
            let meta = MetaFile::parse(lx)?;
            let Some(role) = name
                .and_then(|n| n.strip_suffix(b".json"))
                .and_then(|r| core::str::from_utf8(r).ok())
            else {
                return Ok(()); // not a role file, or a name longer than any role we can hold
            };
            if role == "targets" {
                if let Some(old) = self.previous.and_then(|p| p.targets_meta.as_ref()) {
                    if meta.version < old.version {
                        return Err(Fault::new(
                            ErrorKind::VersionRollback,
                            Field::MetaTargetsVersion,
                        ));
                    }
                }
                self.targets = Some(meta);
                return Ok(());
            }
            if let Some(old) = self.previous.and_then(|p| p.meta.get(role)) {
                if meta.version < old.version {
                    return Err(Fault::new(ErrorKind::VersionRollback, Field::MetaVersion));
                }
                self.seen_previous += 1;
            }
            if self.retain(role) {
                self.meta.insert(role, meta)?;
            }
            Ok(())
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.meta.seal();
        if let Some(prev) = self.previous {
            if prev.targets_meta.is_some() && self.targets.is_none() {
                return Err(Fault::new(ErrorKind::MetaMissing, Field::MetaTargets));
            }
            if self.seen_previous < prev.meta.len() {
                return Err(Fault::new(ErrorKind::MetaMissing, Field::Meta));
            }
        }
        Ok(())
    }
}
