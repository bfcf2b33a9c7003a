//! The trusted metadata set: what the client has verified so far, and the checks of the client
//! workflow (TUF §5.3–§5.6) for each new file. It takes bytes (general mode) or a reader
//! (streaming mode) and never does I/O itself; python-tuf's `TrustedMetadataSet` is the model.
//!
//! Like python-tuf, a file is stored before its *final* checks (expiry, version against its
//! parent) so that an expired local timestamp still guards against rollback, and
//! fast-forward recovery falls out: after a key rotation the cached timestamp and snapshot no
//! longer verify, so they are never loaded and cannot pin old versions.

use crate::crypto::Key;
use crate::error::{Error, ErrorKind, Field, Result, RoleKind};
use crate::json::source::ReadChunk;
use crate::limits::{Limits, MAX_RETAINED_META};
use crate::metadata::delegation::Keep;
#[cfg(feature = "general")]
use crate::metadata::envelope::General;
use crate::metadata::envelope::{self, AnyBody, Authority};
use crate::metadata::root::{RootBody, RootSignaturesOnly};
use crate::metadata::snapshot::SnapshotBody;
use crate::metadata::targets::TargetsBody;
use crate::metadata::timestamp::TimestampBody;
use crate::metadata::{
    Common, Matches, MetaFile, RoleKeys, RoleName, Root, Snapshot, TargetFile, Targets, Timestamp,
};
use crate::time::UnixTime;

/// A metadata file to verify: all of it in memory, or a reader to stream it from.
pub enum Input<'a, R> {
    /// General mode: the whole file (any valid JSON).
    Bytes(&'a [u8]),
    /// Streaming mode: a canonical-order file read once through `chunk`.
    Stream {
        /// The file.
        reader: R,
        /// The caller's read buffer (its size is the I/O chunk size).
        chunk: &'a mut [u8],
    },
}

/// An `Input` that is never a stream.
pub type NoReader = &'static [u8];

/// A reader past its type: each step's code exists once, whatever the caller reads from (code
/// size on a device; one indirect call per chunk).
pub(crate) type AnyReader<'r> = &'r mut dyn ReadChunk;

impl<R: embedded_io::Read> Input<'_, R> {
    /// Calls `f` with this input, its reader's type erased.
    pub(crate) fn erased<T>(self, f: impl FnOnce(Input<'_, AnyReader<'_>>) -> T) -> T {
        match self {
            Input::Bytes(bytes) => f(Input::Bytes(bytes)),
            Input::Stream { mut reader, chunk } => f(Input::Stream {
                reader: &mut reader,
                chunk,
            }),
        }
    }
}

impl<'a> Input<'a, NoReader> {
    /// Wraps bytes for general mode.
    pub fn bytes(b: &'a [u8]) -> Self {
        Self::Bytes(b)
    }
}

/// Whether a verified timestamp is new (persist it) or the same version as the trusted one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// A newer version: now trusted.
    Updated,
    /// The trusted version again: nothing changed.
    Unchanged,
}

/// Verified metadata, top-level roles only (delegated roles are verified during a search).
#[derive(Clone)]
pub struct TrustedSet {
    now: UnixTime,
    limits: Limits,
    root: Root,
    timestamp: Option<Timestamp>,
    snapshot: Option<Snapshot>,
    targets: Option<Common>,
    interest: heapless::Vec<RoleName, MAX_RETAINED_META>,
}

/// Reads and verifies one file against an authority and, when given, its parent's meta entry.
fn load(
    input: Input<'_, AnyReader<'_>>,
    body: &mut dyn AnyBody,
    authority: Authority<'_>,
    max_length: u64,
    meta: Option<&MetaFile>,
) -> Result<Common> {
    match input {
        #[cfg(feature = "general")]
        Input::Bytes(bytes) => {
            if bytes.len() as u64 > max_length {
                return Err(Error::new(ErrorKind::LengthExceeded, Field::Length));
            }
            if let Some(meta) = meta {
                meta.check_bytes(bytes)?;
            }
            let file = General::parse(bytes, body.general())?;
            file.verify(&[authority])?;
            Ok(file.common)
        }
        // Without general mode, a buffer is streamed too (its keys must be in canonical order).
        #[cfg(not(feature = "general"))]
        Input::Bytes(mut bytes) => load(
            Input::Stream {
                reader: &mut bytes,
                chunk: &mut [0; BYTES_CHUNK],
            },
            body,
            authority,
            max_length,
            meta,
        ),
        Input::Stream { reader, chunk } => {
            let expect = envelope::Expect {
                max_length,
                meta,
                sha256: false,
            };
            envelope::stream_checked(reader, chunk, expect, body.streamed(), authority)
        }
    }
}

/// The chunk a buffer is streamed through when general mode is not built.
#[cfg(not(feature = "general"))]
const BYTES_CHUNK: usize = 64;

fn expired(common: &Common, now: UnixTime) -> bool {
    common.expires <= now
}

impl TrustedSet {
    /// Starts from a root the device already trusts (§5.2): it must be signed by its own
    /// threshold; its expiry is checked only once the root chain is complete.
    pub fn new(trusted_root: &[u8], now: UnixTime, limits: Limits) -> Result<Self> {
        let mut set = Self::empty(now, limits);
        set.trust_root(trusted_root)?;
        Ok(set)
    }

    /// A set that trusts nothing yet (`trust_root` comes next).
    pub(crate) fn empty(now: UnixTime, limits: Limits) -> Self {
        Self {
            now,
            limits,
            root: Root::default(),
            timestamp: None,
            snapshot: None,
            targets: None,
            interest: heapless::Vec::new(),
        }
    }

    /// Reads the trusted root in place (the caller's set: no copy of it on the stack).
    #[inline(never)] // its frame only while it runs
    pub(crate) fn trust_root(&mut self, trusted_root: &[u8]) -> Result<()> {
        Self::self_signed_root(trusted_root, &mut self.root).map_err(|e| e.in_role(RoleKind::Root))
    }

    /// Takes the trusted root from a trust anchor ([`crate::anchor`]), in place.
    pub(crate) fn trust_anchor(&mut self, anchor: &[u8]) -> Result<()> {
        crate::anchor::read(anchor, &mut self.root).map_err(|e| e.in_role(RoleKind::Root))
    }

    /// Reads the trusted root into `root`, checked against its own keys and threshold.
    #[cfg(feature = "general")]
    #[inline(never)] // its frame only while it runs
    fn self_signed_root(bytes: &[u8], root: &mut Root) -> Result<()> {
        let mut body = RootBody::new(root);
        let file = General::parse(bytes, &mut body)?;
        body.complete(file.common);
        file.verify(&[(&body.root.keys, &body.root.root)])
    }

    /// Reads the trusted root into `root`, checked against its own keys and threshold: streamed
    /// twice (its keys are known only once it has been read).
    #[cfg(not(feature = "general"))]
    #[inline(never)] // its frame only while it runs
    fn self_signed_root(bytes: &[u8], root: &mut Root) -> Result<()> {
        let chunk = &mut [0; BYTES_CHUNK];
        let none = RoleKeys::default();
        let expect = envelope::Expect {
            max_length: bytes.len() as u64,
            ..Default::default()
        };
        let mut body = RootBody::new(root);
        let s = envelope::stream(bytes, chunk, expect, &mut body, (&[], &none))?;
        body.complete(s.common);
        // The same bytes again (a slice cannot change between reads): signatures only.
        let own = (&root.keys[..], &root.root);
        let s = envelope::stream(bytes, chunk, expect, &mut RootSignaturesOnly, own)?;
        Ok(envelope::require(own, &s.valid)?)
    }

    /// Declares a delegated role whose snapshot entry must be kept (needed without `alloc`,
    /// where only declared entries are retained; with `alloc` every entry is).
    pub fn retain(&mut self, role: &str) -> Result<()> {
        let name =
            RoleName::try_from(role).map_err(|_| Error::new(ErrorKind::Limit, Field::RoleName))?;
        self.interest
            .push(name)
            .map_err(|_| Error::new(ErrorKind::Limit, Field::RetainedRoles))
    }

    /// The reference time.
    pub fn now(&self) -> UnixTime {
        self.now
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The trusted root.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The trusted timestamp, if any.
    pub fn timestamp(&self) -> Option<&Timestamp> {
        self.timestamp.as_ref()
    }

    /// The trusted snapshot, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// `version` and `expires` of the trusted top-level targets, if any.
    pub fn targets(&self) -> Option<&Common> {
        self.targets.as_ref()
    }

    /// Verifies root N+1 (§5.3.4–5.3.8): signed by a threshold of the trusted root's root keys
    /// and of its own, with version N+1.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<()> {
        self.update_root_inner(bytes)
            .map_err(|e| e.in_role(RoleKind::Root))
    }

    fn update_root_inner(&mut self, bytes: &[u8]) -> Result<()> {
        if self.timestamp.is_some() {
            return Err(Error::new(ErrorKind::Misuse, Field::RootAfterTimestamp));
        }
        if bytes.len() as u64 > self.limits.root_max_length {
            return Err(Error::new(ErrorKind::LengthExceeded, Field::Length));
        }
        #[cfg(feature = "general")]
        {
            let mut new = Root::default();
            let mut body = RootBody::new(&mut new);
            let file = General::parse(bytes, &mut body)?;
            body.complete(file.common);
            file.verify(&[(&self.root.keys, &self.root.root), (&new.keys, &new.root)])?;
            self.accept_root(new)
        }
        #[cfg(not(feature = "general"))]
        self.update_root_stream(|| bytes, &mut [0; BYTES_CHUNK])
    }

    /// Streaming variant of [`update_root`](Self::update_root). A new root's own keys are
    /// only known once it has been read, so when signatures by keys the trusted root does not
    /// have are needed, `open` is called a second time to read the file again.
    #[inline(never)] // its frame (whole role bodies) only while it runs
    pub fn update_root_stream<R: embedded_io::Read>(
        &mut self,
        mut open: impl FnMut() -> R,
        chunk: &mut [u8],
    ) -> Result<()> {
        (|| {
            if self.timestamp.is_some() {
                return Err(Error::new(ErrorKind::Misuse, Field::RootAfterTimestamp));
            }
            let expect = envelope::Expect {
                max_length: self.limits.root_max_length,
                meta: None,
                sha256: true,
            };
            let mut new = Root::default();
            let mut body = RootBody::new(&mut new);
            let old = (&self.root.keys[..], &self.root.root);
            let s = envelope::stream(open(), chunk, expect, &mut body, old)?;
            envelope::require(old, &s.valid)?;
            body.complete(s.common);
            if envelope::require((&new.keys, &new.root), &s.valid).is_err() {
                // The second read needs only the signatures; the file's SHA-256 proves it is
                // the same file the first read took the keys from.
                let own = (&new.keys[..], &new.root);
                let s2 = envelope::stream(open(), chunk, expect, &mut RootSignaturesOnly, own)?;
                if s2.sha256 != s.sha256 {
                    return Err(Error::new(ErrorKind::Io, Field::RootChanged));
                }
                envelope::require(own, &s2.valid)?;
            }
            self.accept_root(new)
        })()
        .map_err(|e| e.in_role(RoleKind::Root))
    }

    fn accept_root(&mut self, new: Root) -> Result<()> {
        if Some(new.common.version) != self.root.common.version.checked_add(1) {
            return Err(Error::new(ErrorKind::VersionMismatch, Field::Version));
        }
        self.root = new;
        Ok(())
    }

    fn check_final_root(&self) -> Result<()> {
        if expired(&self.root.common, self.now) {
            return Err(Error::new(ErrorKind::Expired, Field::Expires).in_role(RoleKind::Root));
        }
        Ok(())
    }

    /// Verifies a timestamp (§5.4), local or downloaded.
    pub fn update_timestamp<R: embedded_io::Read>(
        &mut self,
        input: Input<'_, R>,
    ) -> Result<Freshness> {
        input.erased(|input| self.timestamp_step(input))
    }

    #[inline(never)] // its frame (whole role bodies) only while it runs
    fn timestamp_step(&mut self, input: Input<'_, AnyReader<'_>>) -> Result<Freshness> {
        self.check_final_root()?;
        (|| {
            if self.snapshot.is_some() {
                return Err(Error::new(ErrorKind::Misuse, Field::TimestampAfterSnapshot));
            }
            let mut body = TimestampBody::default();
            let authority = (&self.root.keys[..], &self.root.timestamp);
            let common = load(
                input,
                &mut body,
                authority,
                self.limits.timestamp_max_length,
                None,
            )?;
            let snapshot_meta = body
                .snapshot
                .ok_or(Error::new(ErrorKind::MissingField, Field::MetaSnapshot))?;
            if let Some(old) = &self.timestamp {
                if common.version < old.common.version {
                    return Err(Error::new(ErrorKind::VersionRollback, Field::Version));
                }
                if common.version == old.common.version {
                    return Ok(Freshness::Unchanged);
                }
                if snapshot_meta.version < old.snapshot_meta.version {
                    return Err(Error::new(
                        ErrorKind::VersionRollback,
                        Field::MetaSnapshotVersion,
                    ));
                }
            }
            self.timestamp = Some(Timestamp {
                common,
                snapshot_meta,
            });
            self.check_final_timestamp()?;
            Ok(Freshness::Updated)
        })()
        .map_err(|e| e.in_role(RoleKind::Timestamp))
    }

    fn check_final_timestamp(&self) -> Result<&Timestamp> {
        let ts = self
            .timestamp
            .as_ref()
            .ok_or(Error::new(ErrorKind::Misuse, Field::NoTimestamp))?;
        if expired(&ts.common, self.now) {
            return Err(Error::new(ErrorKind::Expired, Field::Expires).in_role(RoleKind::Timestamp));
        }
        Ok(ts)
    }

    /// Most bytes to accept for the snapshot.
    pub fn snapshot_max_length(&self) -> u64 {
        let meta = self.timestamp.as_ref().map(|t| &t.snapshot_meta);
        meta.and_then(|m| m.length)
            .unwrap_or(self.limits.snapshot_max_length)
    }

    /// Verifies a snapshot (§5.5). `trusted` is for the local copy, which the timestamp's
    /// length and hashes need not match (it may be older): it is a rollback baseline.
    pub fn update_snapshot<R: embedded_io::Read>(
        &mut self,
        input: Input<'_, R>,
        trusted: bool,
    ) -> Result<()> {
        input.erased(|input| self.snapshot_step(input, trusted))
    }

    #[inline(never)] // its frame (whole role bodies) only while it runs
    fn snapshot_step(&mut self, input: Input<'_, AnyReader<'_>>, trusted: bool) -> Result<()> {
        (|| {
            if self.targets.is_some() {
                return Err(Error::new(ErrorKind::Misuse, Field::SnapshotAfterTargets));
            }
            let ts = self.check_final_timestamp()?;
            let meta = (!trusted).then_some(&ts.snapshot_meta);
            let max = if trusted {
                self.limits.snapshot_max_length
            } else {
                self.snapshot_max_length()
            };
            let mut body = SnapshotBody::new(self.snapshot.as_ref(), &self.interest);
            let authority = (&self.root.keys[..], &self.root.snapshot);
            let common = load(input, &mut body, authority, max, meta)?;
            // Stricter than python-tuf (as TUF 1.0.5 and rust-tuf): the snapshot's own version
            // never goes down either, even when no timestamp was cached to pin it.
            if self
                .snapshot
                .as_ref()
                .is_some_and(|old| common.version < old.common.version)
            {
                return Err(Error::new(ErrorKind::VersionRollback, Field::Version));
            }
            self.snapshot = Some(Snapshot {
                common,
                targets_meta: body.targets,
                meta: body.meta,
            });
            self.check_final_snapshot()?;
            Ok(())
        })()
        .map_err(|e| e.in_role(RoleKind::Snapshot))
    }

    fn check_final_snapshot(&self) -> Result<&Snapshot> {
        let sn = self
            .snapshot
            .as_ref()
            .ok_or(Error::new(ErrorKind::Misuse, Field::NoSnapshot))?;
        let ts = self.check_final_timestamp()?;
        let role = RoleKind::Snapshot;
        if expired(&sn.common, self.now) {
            return Err(Error::new(ErrorKind::Expired, Field::Expires).in_role(role));
        }
        if sn.common.version != ts.snapshot_meta.version {
            return Err(Error::new(ErrorKind::VersionMismatch, Field::Version).in_role(role));
        }
        Ok(sn)
    }

    /// The snapshot entry of a targets role, and the most bytes to accept for it.
    pub fn targets_meta(&self, role: &str) -> Result<(&MetaFile, u64)> {
        let sn = self.check_final_snapshot()?;
        let kind = if role == "targets" {
            RoleKind::Targets
        } else {
            RoleKind::Delegated
        };
        let meta = sn
            .meta_for(role)
            .ok_or(Error::new(ErrorKind::MetaMissing, Field::SnapshotMeta).in_role(kind))?;
        Ok((meta, meta.length.unwrap_or(self.limits.targets_max_length)))
    }

    /// Verifies the top-level targets role (§5.6).
    pub fn update_targets<R: embedded_io::Read>(&mut self, input: Input<'_, R>) -> Result<()> {
        input.erased(|input| self.targets_step(input))
    }

    #[inline(never)] // its frame (whole role bodies) only while it runs
    fn targets_step(&mut self, input: Input<'_, AnyReader<'_>>) -> Result<()> {
        let authority = (&self.root.keys[..], &self.root.targets);
        // Read for its version and signatures: its delegations are only checked here.
        let mut target = None;
        let common =
            self.targets_role_step(input, "targets", authority, None, &mut target, None)?;
        self.targets = Some(common);
        Ok(())
    }

    /// Verifies a targets role (top-level or delegated) for one target path, against the
    /// delegator's `authority` and the snapshot's entry (§5.6, §5.7).
    pub fn verify_targets<R: embedded_io::Read>(
        &self,
        input: Input<'_, R>,
        role_name: &str,
        authority: (&[Key], &RoleKeys),
        path: Option<&str>,
    ) -> Result<Targets> {
        let (mut target, mut delegations) = (None, Matches::default());
        let common = self.verify_targets_into(
            input,
            role_name,
            authority,
            path,
            &mut target,
            &mut delegations,
        )?;
        Ok(Targets {
            common,
            target,
            delegations,
        })
    }

    /// [`verify_targets`](Self::verify_targets) into the caller's storage: `path`'s target info
    /// (when listed) and the delegations it continues with. On an error both hold nothing
    /// trusted: `target` is `None` and `delegations` must be discarded.
    pub fn verify_targets_into<R: embedded_io::Read>(
        &self,
        input: Input<'_, R>,
        role_name: &str,
        authority: (&[Key], &RoleKeys),
        path: Option<&str>,
        target: &mut Option<TargetFile>,
        delegations: &mut Matches,
    ) -> Result<Common> {
        delegations.keys.clear();
        delegations.roles.clear();
        input.erased(|input| {
            self.targets_role_step(input, role_name, authority, path, target, Some(delegations))
        })
    }

    #[inline(never)] // its frame (whole role bodies) only while it runs
    pub(crate) fn targets_role_step(
        &self,
        input: Input<'_, AnyReader<'_>>,
        role_name: &str,
        authority: (&[Key], &RoleKeys),
        path: Option<&str>,
        target: &mut Option<TargetFile>,
        delegations: Option<&mut (dyn Keep + '_)>,
    ) -> Result<Common> {
        let kind = if role_name == "targets" {
            RoleKind::Targets
        } else {
            RoleKind::Delegated
        };
        let (meta, max) = self.targets_meta(role_name)?;
        let verified = (|| {
            let mut body = TargetsBody::new(path, target, delegations);
            let common = load(input, &mut body, authority, max, Some(meta))?;
            if common.version != meta.version {
                return Err(Error::new(ErrorKind::VersionMismatch, Field::Version));
            }
            if expired(&common, self.now) {
                return Err(Error::new(ErrorKind::Expired, Field::Expires));
            }
            Ok(common)
        })();
        if verified.is_err() {
            // Read before its signatures were checked: never left where it could be used.
            *target = None;
        }
        verified.map_err(|e| e.in_role(kind))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    use crate::fixture as file;

    #[test]
    fn a_streamed_root_must_be_the_same_file_on_both_reads() {
        // Root 2 is signed by its new keys too, which root 1 does not list: it is read twice,
        // once for the keys, once for their signatures.
        let case = "root-rotation-chain-1-to-4";
        let now = UnixTime(1_767_225_600);
        let trusted = file(case, "trusted_root.json");
        let v2 = file(case, "metadata/2.root.json");
        let mut spaced = v2.clone();
        spaced.push(b' '); // the same JSON, another file
        let mut chunk = [0u8; 64];

        let mut set = TrustedSet::new(&trusted, now, Limits::default()).unwrap();
        let mut reads = 0;
        set.update_root_stream(
            || {
                reads += 1;
                &v2[..]
            },
            &mut chunk,
        )
        .unwrap();
        assert_eq!((reads, set.root().common.version), (2, 2));

        let mut set = TrustedSet::new(&trusted, now, Limits::default()).unwrap();
        let mut reads = 0;
        let e = set
            .update_root_stream(
                || {
                    reads += 1;
                    if reads == 1 {
                        &v2[..]
                    } else {
                        &spaced[..]
                    }
                },
                &mut chunk,
            )
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.role(), e.field()),
            (ErrorKind::Io, RoleKind::Root, "root changed between reads")
        );
        assert_eq!(
            set.root().common.version,
            1,
            "the trusted root is unchanged"
        );
    }
}
