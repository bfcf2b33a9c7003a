//! Target search through delegations (§5.7.7): pre-order depth-first from `targets`, each role
//! visited once, `terminating` ends the search at that role, at most `max_delegations` roles.
//! Unlike python-tuf, where the walk lives in the I/O layer, it is a resumable step here, so
//! every shell (agent, firmware) shares it.

use crate::crypto::{Key, KeySet, PublicKey};
use crate::error::fault::{self, Fault};
use crate::error::{Error, ErrorKind, Field, Result, RoleKind};
use crate::limits::{MAX_SEARCH_KEYS, MAX_SEARCH_STACK, MAX_VISITED};
use crate::metadata::delegation::Keep;
use crate::metadata::{Delegated, RoleKeys, RoleName, TargetFile};
use crate::trusted::{AnyReader, Input, NoReader, TrustedSet};

/// What the caller does next in a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchStep<'s> {
    /// Fetch this targets role (`V.<role>.json` with `version` under consistent snapshots; a
    /// cached copy may be handed in instead if the caller has one).
    Fetch {
        /// The role's name.
        role: &'s str,
        /// The version in the file name, under consistent snapshots.
        version: Option<u64>,
        /// Most bytes to accept.
        max_length: u64,
    },
    /// The target's verified info: download it against this.
    Found(&'s TargetFile),
    /// No trusted role lists the target.
    NotFound,
}

/// A role the search will visit: its name, its keys (positions in the search's key set) and
/// whether the search stops after it.
#[derive(Clone)]
struct Pending {
    name: RoleName,
    role: RoleKeys,
    terminating: bool,
    /// Signed for by root's `targets` keys (the top-level role) rather than delegation keys.
    top_level: bool,
}

/// The keys the pending roles need, shared by them (a device's search holds one bin's).
type SearchKeys = heapless::Vec<Key, MAX_SEARCH_KEYS>;

/// One target's search, driven like [`Client`](crate::client::Client).
pub struct Search<'t> {
    set: &'t TrustedSet,
    path: &'t str,
    stack: heapless::Vec<Pending, MAX_SEARCH_STACK>,
    /// The keys of the pending roles (those a delegator listed without a key are left out:
    /// they can sign nothing).
    keys: SearchKeys,
    visited: heapless::Vec<[u8; 8], MAX_VISITED>,
    budget: u32,
    found: Option<TargetFile>,
}

/// A role name's 64-bit hash: a collision could only make the search skip a role, never
/// trust one.
fn name_hash(name: &str) -> [u8; 8] {
    let d = crate::hashes::sha256(name.as_bytes());
    let mut h = [0u8; 8];
    h.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    h
}

/// Where a file's delegations are read: its keys into a set of their own, its roles onto the
/// search's stack, above `base` (both dropped again if the file is refused).
struct Incoming<'a> {
    keys: &'a mut KeySet,
    stack: &'a mut heapless::Vec<Pending, MAX_SEARCH_STACK>,
}

impl Keep for Incoming<'_> {
    fn keys(&mut self) -> (&mut KeySet, usize) {
        (self.keys, 0)
    }
    fn role(&mut self, d: Delegated) -> fault::Result<()> {
        self.stack
            .push(Pending {
                name: d.name,
                role: d.role,
                terminating: d.terminating,
                top_level: false,
            })
            .map_err(|_| {
                Fault::new(ErrorKind::Limit, Field::DelegationsPending).in_role(RoleKind::Delegated)
            })
    }
}

impl<'t> Search<'t> {
    /// Starts searching for `path` in a refreshed trusted set.
    pub fn new(set: &'t TrustedSet, path: &'t str) -> Result<Self> {
        if set.targets().is_none() {
            return Err(Error::new(ErrorKind::Misuse, Field::SearchBeforeTargets));
        }
        let mut stack = heapless::Vec::new();
        let top = Pending {
            name: RoleName::try_from("targets")
                .map_err(|_| Error::new(ErrorKind::Limit, Field::None))?,
            role: set.root().targets,
            terminating: false,
            top_level: true,
        };
        let _ = stack.push(top); // capacity > 0
        Ok(Self {
            set,
            path,
            stack,
            keys: SearchKeys::new(),
            visited: heapless::Vec::new(),
            budget: set.limits().max_delegations,
            found: None,
        })
    }

    /// What to do next.
    #[allow(clippy::should_implement_trait)] // a step of a state machine, like `Client::next`
    pub fn next(&mut self) -> Result<SearchStep<'_>> {
        if self.found.is_some() {
            return Ok(self
                .found
                .as_ref()
                .map_or(SearchStep::NotFound, SearchStep::Found));
        }
        while let Some(top) = self.stack.last() {
            if !self.visited.contains(&name_hash(&top.name)) {
                break;
            }
            self.stack.pop();
        }
        let Some(top) = self.stack.last().filter(|_| self.budget > 0) else {
            return Ok(SearchStep::NotFound);
        };
        let (meta, max_length) = self.set.targets_meta(&top.name)?;
        let version = self.set.root().consistent_snapshot.then_some(meta.version);
        Ok(SearchStep::Fetch {
            role: &top.name,
            version,
            max_length,
        })
    }

    /// Verifies the role `next()` asked for (general mode). A cached copy may be offered first:
    /// when it is refused, the search is unchanged and the downloaded copy can be handed in.
    pub fn handle(&mut self, bytes: &[u8]) -> Result<()> {
        self.handle_input(Input::<NoReader>::Bytes(bytes))
    }

    /// Verifies the role `next()` asked for, streamed from `reader`.
    pub fn handle_stream<R: embedded_io::Read>(
        &mut self,
        reader: R,
        chunk: &mut [u8],
    ) -> Result<()> {
        self.handle_input(Input::Stream { reader, chunk })
    }

    fn handle_input<R: embedded_io::Read>(&mut self, input: Input<'_, R>) -> Result<()> {
        input.erased(|input| self.handle_any(input))
    }

    #[inline(never)] // the incoming keys' frame only while a file is read
    fn handle_any(&mut self, input: Input<'_, AnyReader<'_>>) -> Result<()> {
        // Verify first: a refused file (a stale cache, say) leaves the search where it was.
        if self.found.is_some() {
            return Err(Error::new(ErrorKind::Misuse, Field::AlreadyFound));
        }
        // The role being read leaves the stack while its delegations arrive above it, and
        // comes back if it is refused.
        let Some(top) = self.stack.pop() else {
            return Err(Error::new(ErrorKind::Misuse, Field::NothingToHandle));
        };
        let keys: &[Key] = if top.top_level {
            &self.set.root().keys
        } else {
            &self.keys
        };
        let from = self.stack.len();
        // The target's info goes straight into `found` (cleared again on an error), the
        // delegations onto the stack.
        // The incoming keys stay where they are made (a move would copy them on the stack).
        let mut incoming_keys = KeySet::new();
        let mut incoming = Incoming {
            keys: &mut incoming_keys,
            stack: &mut self.stack,
        };
        let verified = self.set.targets_role_step(
            input,
            &top.name,
            (keys, &top.role),
            Some(self.path),
            &mut self.found,
            Some(&mut incoming),
        );
        if let Err(e) = verified {
            self.stack.truncate(from);
            let _ = self.stack.push(top); // its slot was freed above
            return Err(e);
        }
        self.visited_role(&top, from, &incoming_keys)
    }

    /// After a role verified: the role is visited, its delegations become pending with the keys
    /// they need. Out of line: its temporaries are not in the frame that reads the file.
    #[inline(never)]
    fn visited_role(&mut self, top: &Pending, from: usize, incoming_keys: &KeySet) -> Result<()> {
        if self.found.is_some() {
            return Ok(());
        }
        self.visited.push(name_hash(&top.name)).map_err(|_| {
            Error::new(ErrorKind::Limit, Field::DelegationsVisited).in_role(RoleKind::Delegated)
        })?;
        self.budget = self.budget.saturating_sub(1);
        let mut from = from;
        if self.stack.len() > from && self.stack.last().is_some_and(|r| r.terminating) {
            // A terminating delegation: nothing pending below this role is searched after it.
            for i in 0..self.stack.len() - from {
                set_from(&mut self.stack, i, from + i);
            }
            self.stack.truncate(self.stack.len() - from);
            from = 0;
        }
        // The first delegation is searched first: it goes on top.
        if let Some(children) = self.stack.get_mut(from..) {
            children.reverse();
        }
        for child in self.stack.get_mut(from..).unwrap_or_default() {
            child.role.keys = adopt(&mut self.keys, incoming_keys, child.role.keys)?;
        }
        collect(&mut self.keys, &mut self.stack);
        Ok(())
    }

    /// The role the search asks for next (to name it in an error).
    pub fn pending(&self) -> Option<&str> {
        self.stack.last().map(|p| p.name.as_str())
    }

    /// The target's info, once found.
    pub fn found(&self) -> Option<&TargetFile> {
        self.found.as_ref()
    }
}

/// Moves the keys `bits` names in `from` into `keys` (once each, keys a role named without a
/// key left out); the bits of the same keys in `keys`.
fn adopt(keys: &mut SearchKeys, from: &KeySet, bits: u32) -> Result<u32> {
    let mut out = 0;
    for (i, key) in from.iter().enumerate() {
        if bits & (1 << i) == 0 || matches!(key.public, PublicKey::Absent) {
            continue;
        }
        let at = match crate::crypto::position(keys, 0, &key.keyid) {
            Some(at) => at,
            None => {
                keys.push(key.clone()).map_err(|_| {
                    Error::new(ErrorKind::Limit, Field::DelegationKeysHeld)
                        .in_role(RoleKind::Delegated)
                })?;
                keys.len() - 1
            }
        };
        out |= 1 << at;
    }
    Ok(out)
}

/// `v[to] = v[from]`, by a copy (swaps and removals would bring a `memmove` into a device's
/// flash).
fn set_from<T: Clone>(v: &mut [T], to: usize, from: usize) {
    if let Some(x) = v.get(from).cloned() {
        if let Some(slot) = v.get_mut(to) {
            *slot = x;
        }
    }
}

/// Removes element `i`, the later ones moving down.
fn remove<T: Clone, const N: usize>(v: &mut heapless::Vec<T, N>, i: usize) {
    for j in i + 1..v.len() {
        set_from(v, j - 1, j);
    }
    if i < v.len() {
        v.pop();
    }
}

/// Drops the keys no pending role needs any more, and renumbers the roles' bits.
fn collect(keys: &mut SearchKeys, stack: &mut [Pending]) {
    let used = stack
        .iter()
        .filter(|p| !p.top_level)
        .fold(0u32, |u, p| u | p.role.keys);
    let mut i = keys.len();
    while i > 0 {
        i -= 1;
        if used & (1 << i) != 0 {
            continue;
        }
        remove(keys, i);
        let low = (1u32 << i) - 1;
        for p in stack.iter_mut().filter(|p| !p.top_level) {
            p.role.keys = (p.role.keys & low) | ((p.role.keys >> 1) & !low);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::client::{Client, Next};
    use crate::limits::Limits;
    use crate::time::UnixTime;
    use crate::ErrorKind;

    use crate::fixture as file;

    #[test]
    fn a_refused_role_that_lists_the_target_leaves_nothing_found() {
        // The `firmware` role lists the target, but one bit of its signature is flipped: its
        // info is read (into the search's own slot) before the signature fails, and must not
        // stay there, in either mode.
        let case = "delegated-bad-signature";
        let mut client = Client::new(
            &file(case, "trusted_root.json"),
            UnixTime(1_767_225_600),
            Limits::default(),
        )
        .unwrap();
        client.not_found().unwrap();
        client.trusted_mut().retain("firmware").unwrap(); // kept without a heap too
        for name in ["timestamp.json", "1.snapshot.json", "1.targets.json"] {
            client
                .handle(&file(case, &std::format!("metadata/{name}")))
                .unwrap();
        }
        assert_eq!(client.next().unwrap(), Next::Ready);
        let tampered = file(case, "metadata/1.firmware.json");
        for stream in [false, true] {
            let mut search = Search::new(client.trusted(), "firmware/plc-a.bin").unwrap();
            search
                .handle(&file(case, "metadata/1.targets.json"))
                .unwrap();
            assert!(matches!(
                search.next().unwrap(),
                SearchStep::Fetch {
                    role: "firmware",
                    ..
                }
            ));
            let mut chunk = [0u8; 37];
            let refused = if stream {
                search.handle_stream(&tampered[..], &mut chunk)
            } else {
                search.handle(&tampered)
            };
            assert_eq!(refused.unwrap_err().kind(), ErrorKind::Threshold);
            assert!(search.found().is_none(), "stream: {stream}");
            // The search is where it was: it asks for the same role again.
            assert!(matches!(
                search.next().unwrap(),
                SearchStep::Fetch {
                    role: "firmware",
                    ..
                }
            ));
        }
    }
}
