//! Target search through delegations (§5.7.7): pre-order depth-first from `targets`, each role
//! visited once, `terminating` ends the search at that role, at most `max_delegations` roles.
//! Unlike python-tuf, where the walk lives in the I/O layer, it is a resumable step here, so
//! every shell (agent, firmware) shares it.

use crate::crypto::{Key, KeySet};
use crate::error::{Error, ErrorKind, Field, Result, RoleKind};
use crate::limits::{MAX_SEARCH_KEYS, MAX_SEARCH_STACK, MAX_VISITED};
use crate::metadata::{Delegated, Matches, RoleKeys, RoleName, TargetFile};
use crate::trusted::{AnyReader, Input, NoReader, TrustedSet};
use sha2::{Digest, Sha256};

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

struct Pending {
    delegated: Delegated,
    /// Signed for by root's `targets` keys (the top-level role) rather than delegation keys.
    top_level: bool,
}

/// One target's search, driven like [`Client`](crate::client::Client).
pub struct Search<'t> {
    set: &'t TrustedSet,
    path: &'t str,
    stack: heapless::Vec<Pending, MAX_SEARCH_STACK>,
    keys: KeySet,
    visited: heapless::Vec<[u8; 16], MAX_VISITED>,
    budget: u32,
    found: Option<TargetFile>,
}

fn name_hash(name: &str) -> [u8; 16] {
    let d = Sha256::digest(name.as_bytes());
    let mut h = [0u8; 16];
    h.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    h
}

impl<'t> Search<'t> {
    /// Starts searching for `path` in a refreshed trusted set.
    pub fn new(set: &'t TrustedSet, path: &'t str) -> Result<Self> {
        if set.targets().is_none() {
            return Err(Error::new(ErrorKind::Misuse, Field::SearchBeforeTargets));
        }
        let root = set.root();
        let top = Delegated {
            name: RoleName::try_from("targets")
                .map_err(|_| Error::new(ErrorKind::Limit, Field::None))?,
            role: root.targets.clone(),
            terminating: false,
        };
        let mut stack = heapless::Vec::new();
        let _ = stack.push(Pending {
            delegated: top,
            top_level: true,
        }); // capacity > 0
        Ok(Self {
            set,
            path,
            stack,
            keys: KeySet::new(),
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
            if !self.visited.contains(&name_hash(&top.delegated.name)) {
                break;
            }
            self.stack.pop();
        }
        let Some(top) = self.stack.last().filter(|_| self.budget > 0) else {
            return Ok(SearchStep::NotFound);
        };
        let (meta, max_length) = self.set.targets_meta(&top.delegated.name)?;
        let version = self.set.root().consistent_snapshot.then_some(meta.version);
        Ok(SearchStep::Fetch {
            role: &top.delegated.name,
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

    fn handle_any(&mut self, input: Input<'_, AnyReader<'_>>) -> Result<()> {
        // Verify first: a refused file (a stale cache, say) leaves the search where it was.
        if self.found.is_some() {
            return Err(Error::new(ErrorKind::Misuse, Field::AlreadyFound));
        }
        let top = self
            .stack
            .last()
            .ok_or(Error::new(ErrorKind::Misuse, Field::NothingToHandle))?;
        let keys: &[Key] = if top.top_level {
            &self.set.root().keys
        } else {
            &self.keys
        };
        let role: &RoleKeys = &top.delegated.role;
        // The target's info goes straight into `found` (cleared again on an error), the
        // delegations into one local: no copies of either on the stack.
        let mut children = Matches::default();
        self.set.targets_role_step(
            input,
            &top.delegated.name,
            (keys, role),
            Some(self.path),
            &mut self.found,
            &mut children,
        )?;
        let top = self
            .stack
            .pop()
            .ok_or(Error::new(ErrorKind::Misuse, Field::NothingToHandle))?;
        if self.found.is_some() {
            return Ok(());
        }
        self.visited
            .push(name_hash(&top.delegated.name))
            .map_err(|_| {
                Error::new(ErrorKind::Limit, Field::DelegationsVisited).in_role(RoleKind::Delegated)
            })?;
        self.budget = self.budget.saturating_sub(1);
        if children.roles.last().is_some_and(|r| r.terminating) {
            self.stack.clear();
        }
        while let Some(child) = children.roles.pop() {
            for keyid in &child.role.keyids {
                if self.keys.iter().any(|k| &k.keyid == keyid) {
                    continue;
                }
                if let Some(k) = children.keys.iter().find(|k| &k.keyid == keyid) {
                    self.keys.push(k.clone()).map_err(|_| {
                        Error::new(ErrorKind::Limit, Field::DelegationKeysHeld)
                            .in_role(RoleKind::Delegated)
                    })?;
                }
            }
            self.stack
                .push(Pending {
                    delegated: child,
                    top_level: false,
                })
                .map_err(|_| {
                    Error::new(ErrorKind::Limit, Field::DelegationsPending)
                        .in_role(RoleKind::Delegated)
                })?;
        }
        Ok(())
    }

    /// The role the search asks for next (to name it in an error).
    pub fn pending(&self) -> Option<&str> {
        self.stack.last().map(|p| p.delegated.name.as_str())
    }

    /// The target's info, once found.
    pub fn found(&self) -> Option<&TargetFile> {
        self.found.as_ref()
    }
}

const _: () = assert!(MAX_SEARCH_KEYS <= crate::limits::MAX_KEYS);

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
