//! The client workflow as a sans-IO state machine: it says what to fetch next and how many
//! bytes to accept at most; the caller fetches and hands the bytes (or a reader) back.
//!
//! ```text
//!   caller                         Client
//!   ------                         ------
//!   next()            ─────────▶   Fetch { role: Root, version: N+1, max_length }
//!   handle(bytes)     ─────────▶   verified, persist
//!   not_found()       ─────────▶   (404 on N+1.root.json: the chain is complete)
//!   next()            ─────────▶   Fetch { role: Timestamp, .. }
//!   offer_local(..)?  ─────────▶   cached copy: a rollback baseline or, when still
//!                                  current, no download needed
//!   ...               ─────────▶   Ready: targets can be searched (search.rs)
//! ```

use crate::error::{Error, ErrorKind, Field, Result, RoleKind};
use crate::limits::Limits;
use crate::time::UnixTime;
use crate::trusted::{Freshness, Input, NoReader, TrustedSet};

/// A top-level role the refresh asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `N.root.json`.
    Root,
    /// `timestamp.json`.
    Timestamp,
    /// `snapshot.json` (`V.snapshot.json` under consistent snapshots).
    Snapshot,
    /// `targets.json` (`V.targets.json` under consistent snapshots).
    Targets,
}

impl Role {
    /// The role's name, as in its file name (`root`, `timestamp`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Timestamp => "timestamp",
            Self::Snapshot => "snapshot",
            Self::Targets => "targets",
        }
    }
}

/// What the caller does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Fetch this file: accept at most `max_length` bytes.
    Fetch {
        /// Which role.
        role: Role,
        /// The version in the file name (`N.root.json`, or consistent snapshots), if any.
        version: Option<u64>,
        /// Most bytes to accept (endless-data defence).
        max_length: u64,
    },
    /// Metadata is up to date; targets may be searched.
    Ready,
}

/// What `handle` established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// The file verified and is now trusted: persist exactly these bytes.
    Persist,
    /// The file verified but changes nothing (same timestamp version): keep the cached copy.
    Unchanged,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Made by [`Client::untrusted`]: `trust_root` comes first.
    Untrusted,
    Root {
        next: u64,
        fetched: u32,
    },
    Timestamp,
    Snapshot,
    Targets,
    Ready,
}

/// The refresh state machine over a [`TrustedSet`].
pub struct Client {
    set: TrustedSet,
    phase: Phase,
}

impl Client {
    /// Starts a refresh from the trusted root at reference time `now`.
    pub fn new(trusted_root: &[u8], now: UnixTime, limits: Limits) -> Result<Self> {
        let mut client = Self::untrusted(now, limits);
        client.trust_root(trusted_root)?;
        Ok(client)
    }

    /// A client that trusts nothing yet; [`trust_root`](Self::trust_root) comes next. For a
    /// caller that keeps the client where it is made: returned through a `Result` (`new`), the
    /// state is built once more in the callee's frame, 1 KiB more stack on a device.
    #[inline]
    pub fn untrusted(now: UnixTime, limits: Limits) -> Self {
        Self {
            set: TrustedSet::empty(now, limits),
            phase: Phase::Untrusted,
        }
    }

    /// Starts the refresh from a trust anchor ([`crate::anchor`]: a root otuf-core read and
    /// checked on the build host), in a client from [`untrusted`](Self::untrusted). What
    /// [`trust_root`](Self::trust_root) does for `root.json`, without the JSON in flash.
    pub fn trust_anchor(&mut self, anchor: &[u8]) -> Result<()> {
        self.trust(|set| set.trust_anchor(anchor))
    }

    /// Reads the trusted root (checked against its own keys and threshold) into a client from
    /// [`untrusted`](Self::untrusted), in place, and starts the refresh.
    #[inline(never)] // the trusted root's parse frame only while it runs
    pub fn trust_root(&mut self, trusted_root: &[u8]) -> Result<()> {
        self.trust(|set| set.trust_root(trusted_root))
    }

    /// Takes the first trusted root by `read`, once; the next root version is the first file
    /// to fetch.
    fn trust(&mut self, read: impl FnOnce(&mut TrustedSet) -> Result<()>) -> Result<()> {
        if self.phase != Phase::Untrusted {
            return Err(Error::new(ErrorKind::Misuse, Field::RootAlreadyTrusted));
        }
        read(&mut self.set)?;
        let next = self.set.root().common.version.saturating_add(1);
        self.phase = Phase::Root { next, fetched: 0 };
        Ok(())
    }

    /// The verified state.
    pub fn trusted(&self) -> &TrustedSet {
        &self.set
    }

    /// The verified state, to declare retained roles before the snapshot is read.
    pub fn trusted_mut(&mut self) -> &mut TrustedSet {
        &mut self.set
    }

    /// What to fetch next. Fails when the trusted snapshot does not list `targets.json`.
    pub fn next(&self) -> Result<Next> {
        let consistent = self.set.root().consistent_snapshot;
        Ok(match self.phase {
            Phase::Untrusted => return Err(Error::new(ErrorKind::Misuse, Field::NoTrustedRoot)),
            Phase::Root { next, .. } => Next::Fetch {
                role: Role::Root,
                version: Some(next),
                max_length: self.set.limits().root_max_length,
            },
            Phase::Timestamp => Next::Fetch {
                role: Role::Timestamp,
                version: None,
                max_length: self.set.limits().timestamp_max_length,
            },
            Phase::Snapshot => Next::Fetch {
                role: Role::Snapshot,
                version: self
                    .set
                    .timestamp()
                    .filter(|_| consistent)
                    .map(|t| t.snapshot_meta.version),
                max_length: self.set.snapshot_max_length(),
            },
            Phase::Targets => {
                let (meta, max_length) = self.set.targets_meta("targets")?;
                Next::Fetch {
                    role: Role::Targets,
                    version: consistent.then_some(meta.version),
                    max_length,
                }
            }
            Phase::Ready => Next::Ready,
        })
    }

    /// The server has no `N.root.json`: the root chain is complete.
    pub fn not_found(&mut self) -> Result<()> {
        match self.phase {
            Phase::Root { .. } => {
                self.phase = Phase::Timestamp;
                Ok(())
            }
            _ => Err(Error::new(ErrorKind::Misuse, Field::NotFoundEndsRoot)),
        }
    }

    /// Offers the locally cached copy of the file `next()` asks for. A timestamp is loaded as
    /// the rollback baseline (the remote one is still needed: returns `false`); a snapshot or
    /// targets that is still current makes the download unnecessary (returns `true`). Errors
    /// mean the cache is unusable, which is not fatal: fetch instead.
    pub fn offer_local(&mut self, bytes: &[u8]) -> Result<bool> {
        match self.phase {
            Phase::Timestamp => self
                .set
                .update_timestamp(Input::<NoReader>::Bytes(bytes))
                .map(|_| false),
            Phase::Snapshot => {
                self.set
                    .update_snapshot(Input::<NoReader>::Bytes(bytes), true)?;
                self.phase = Phase::Targets;
                Ok(true)
            }
            Phase::Targets => {
                self.set.update_targets(Input::<NoReader>::Bytes(bytes))?;
                self.phase = Phase::Ready;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Verifies the downloaded file `next()` asked for (general mode).
    pub fn handle(&mut self, bytes: &[u8]) -> Result<Handled> {
        if let Phase::Root { .. } = self.phase {
            return self.handle_root(|set| set.update_root(bytes));
        }
        self.handle_input(Input::<NoReader>::Bytes(bytes))
    }

    /// Verifies the downloaded file `next()` asked for, streamed from `reader` (a root needs
    /// [`handle_root_stream`](Self::handle_root_stream)).
    pub fn handle_stream<R: embedded_io::Read>(
        &mut self,
        reader: R,
        chunk: &mut [u8],
    ) -> Result<Handled> {
        if let Phase::Root { .. } = self.phase {
            return Err(Error::new(ErrorKind::Misuse, Field::UseRootStream));
        }
        self.handle_input(Input::Stream { reader, chunk })
    }

    /// Verifies `N.root.json` streamed from a source `open` can read twice (see
    /// [`TrustedSet::update_root_stream`]).
    pub fn handle_root_stream<R: embedded_io::Read>(
        &mut self,
        open: impl FnMut() -> R,
        chunk: &mut [u8],
    ) -> Result<Handled> {
        self.handle_root(|set| set.update_root_stream(open, chunk))
    }

    fn handle_root(
        &mut self,
        update: impl FnOnce(&mut TrustedSet) -> Result<()>,
    ) -> Result<Handled> {
        let Phase::Root { next, fetched } = self.phase else {
            return Err(Error::new(ErrorKind::Misuse, Field::NotFetchingRoot));
        };
        update(&mut self.set)?;
        let fetched = fetched + 1;
        self.phase = if fetched >= self.set.limits().max_root_rotations {
            Phase::Timestamp
        } else {
            Phase::Root {
                next: next + 1,
                fetched,
            }
        };
        Ok(Handled::Persist)
    }

    fn handle_input<R: embedded_io::Read>(&mut self, input: Input<'_, R>) -> Result<Handled> {
        match self.phase {
            Phase::Timestamp => {
                let fresh = self.set.update_timestamp(input)?;
                self.phase = Phase::Snapshot;
                Ok(if fresh == Freshness::Updated {
                    Handled::Persist
                } else {
                    Handled::Unchanged
                })
            }
            Phase::Snapshot => {
                self.set.update_snapshot(input, false)?;
                self.phase = Phase::Targets;
                Ok(Handled::Persist)
            }
            Phase::Targets => {
                self.set.update_targets(input)?;
                self.phase = Phase::Ready;
                Ok(Handled::Persist)
            }
            Phase::Untrusted | Phase::Root { .. } | Phase::Ready => {
                Err(Error::new(ErrorKind::Misuse, Field::NothingToHandle))
            }
        }
    }

    /// The role a failure in the current step is about.
    pub fn current_role(&self) -> RoleKind {
        match self.phase {
            Phase::Root { .. } => RoleKind::Root,
            Phase::Timestamp => RoleKind::Timestamp,
            Phase::Snapshot => RoleKind::Snapshot,
            Phase::Targets => RoleKind::Targets,
            Phase::Untrusted | Phase::Ready => RoleKind::None,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    use crate::fixture as file;

    const NOW: UnixTime = UnixTime(1_767_225_600);

    #[test]
    fn a_client_made_in_place_trusts_its_root_once_and_nothing_before() {
        let root = file("keys-ed25519", "trusted_root.json");
        let mut c = Client::untrusted(NOW, Limits::default());
        let misuse = |r: Result<()>, field: Field| {
            let e = r.unwrap_err();
            assert_eq!((e.kind(), e.field_id()), (ErrorKind::Misuse, field));
        };
        misuse(c.next().map(drop), Field::NoTrustedRoot);
        misuse(c.handle(&root).map(drop), Field::NothingToHandle);
        // A bad root leaves it untrusted; a good one starts the refresh like `new`.
        let e = c.trust_root(b"{}").unwrap_err();
        assert_eq!(e.role(), RoleKind::Root);
        misuse(c.next().map(drop), Field::NoTrustedRoot);
        c.trust_root(&root).unwrap();
        let made = Client::new(&root, NOW, Limits::default()).unwrap();
        assert_eq!(c.next().unwrap(), made.next().unwrap());
        assert_eq!(c.trusted().root(), made.trusted().root());
        misuse(c.trust_root(&root), Field::RootAlreadyTrusted);
    }

    #[test]
    fn out_of_order_calls_are_misuse_not_hostile_input() {
        let mut c = Client::new(
            &file("keys-ed25519", "trusted_root.json"),
            NOW,
            Limits::default(),
        )
        .unwrap();
        c.not_found().unwrap();
        assert_eq!(c.not_found().unwrap_err().kind(), ErrorKind::Misuse);
        let mut chunk = [0u8; 8];
        assert!(matches!(
            c.next().unwrap(),
            Next::Fetch {
                role: Role::Timestamp,
                version: None,
                max_length: 16_384
            }
        ));
        c.handle_stream(
            &file("keys-ed25519", "metadata/timestamp.json")[..],
            &mut chunk,
        )
        .unwrap();
        // The snapshot's version comes from the timestamp (consistent snapshots).
        assert!(matches!(
            c.next().unwrap(),
            Next::Fetch {
                role: Role::Snapshot,
                version: Some(2),
                ..
            }
        ));
        c.handle(&file("keys-ed25519", "metadata/2.snapshot.json"))
            .unwrap();
        c.handle(&file("keys-ed25519", "metadata/1.targets.json"))
            .unwrap();
        assert_eq!(c.next().unwrap(), Next::Ready);
        assert_eq!(c.handle(b"{}").unwrap_err().kind(), ErrorKind::Misuse);
        assert_eq!(
            c.trusted_mut().update_root(b"{}").unwrap_err().kind(),
            ErrorKind::Misuse
        );
    }

    #[test]
    fn same_timestamp_again_is_unchanged_and_the_cached_snapshot_is_reused() {
        let mut c = Client::new(
            &file("keys-ed25519", "trusted_root.json"),
            NOW,
            Limits::default(),
        )
        .unwrap();
        c.not_found().unwrap();
        let ts = file("keys-ed25519", "metadata/timestamp.json");
        assert!(
            !c.offer_local(&ts).unwrap(),
            "a cached timestamp is only a baseline"
        );
        assert_eq!(c.handle(&ts).unwrap(), Handled::Unchanged);
        assert!(c
            .offer_local(&file("keys-ed25519", "metadata/2.snapshot.json"))
            .unwrap());
        assert!(matches!(
            c.next().unwrap(),
            Next::Fetch {
                role: Role::Targets,
                ..
            }
        ));
    }

    #[test]
    fn the_root_chain_stops_at_max_root_rotations() {
        let limits = Limits {
            max_root_rotations: 2,
            ..Limits::default()
        };
        let case = "root-rotation-chain-1-to-4";
        let mut c = Client::new(&file(case, "trusted_root.json"), NOW, limits).unwrap();
        for v in 2..=3 {
            assert!(
                matches!(c.next().unwrap(), Next::Fetch { role: Role::Root, version: Some(x), .. } if x == v)
            );
            assert_eq!(
                c.handle(&file(case, &std::format!("metadata/{v}.root.json")))
                    .unwrap(),
                Handled::Persist
            );
        }
        assert!(matches!(
            c.next().unwrap(),
            Next::Fetch {
                role: Role::Timestamp,
                ..
            }
        ));
        assert_eq!(c.trusted().root().common.version, 3);
    }

    #[test]
    fn a_root_that_skips_a_version_is_refused() {
        let case = "root-rotation-chain-1-to-4";
        let mut c = Client::new(&file(case, "trusted_root.json"), NOW, Limits::default()).unwrap();
        let e = c.handle(&file(case, "metadata/3.root.json")).unwrap_err();
        // Signed well enough (version 1's key also signed 3), but not version 2.
        assert_eq!(
            (e.role(), e.kind()),
            (RoleKind::Root, ErrorKind::VersionMismatch)
        );
    }
}
