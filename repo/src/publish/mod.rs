//! Publication: artifacts in the database become signed metadata. Only the bins an addition or
//! removal touched are re-signed, then snapshot and timestamp. Before anything is written,
//! otuf-core verifies the new state from the trusted root down, exactly as a device will; a state
//! that does not verify is never published. Versions are reserved in the database before files
//! are written (a crash never reuses a version number), versioned files are written first and
//! `timestamp.json` last, each atomically, so a client never sees a half-published state.

pub mod expires;

use crate::error::{Error, Result};
use crate::sign::{envelope, hex, SigningKey};
use crate::store::{RoleState, Store};
use otuf_core::client::{Client, Next};
use otuf_core::limits::Limits;
use otuf_core::metadata::{bin_name, delegations_for_target};
use otuf_core::time::UnixTime;
use otuf_core::trusted::{Input, NoReader};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Days each online role stays valid.
#[derive(Clone, Copy, Debug)]
pub struct Expiry {
    /// Top-level targets.
    pub targets: i64,
    /// Snapshot.
    pub snapshot: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// Hash bins.
    pub bins: i64,
}

/// The repository: its keys, layout and state.
pub struct Repo {
    /// State database.
    pub store: Store,
    /// `<data dir>/metadata`, served under `/metadata/`.
    pub metadata_dir: PathBuf,
    /// `<data dir>/targets`, served under `/targets/`.
    pub targets_dir: PathBuf,
    online: SigningKey,
    /// Bits of TAP 15 succinct bins.
    pub bit_length: u32,
    expiry: Expiry,
}

/// The bins of a repository with `bit_length` bits, in order.
pub fn bin_names(bit_length: u32) -> Vec<String> {
    let width = ((1u64 << bit_length) - 1).max(1).ilog2() as usize / 4 + 1;
    (0..1u64 << bit_length)
        .map(|i| format!("bins-{i:0width$x}"))
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A role's file name: `V.<role>.json`, or `timestamp.json`.
fn file_name(role: &str, version: u64) -> String {
    if role == "timestamp" {
        "timestamp.json".into()
    } else {
        format!("{version}.{role}.json")
    }
}

impl Repo {
    /// The repository in `data_dir`, with its online key.
    pub fn open(
        data_dir: &Path,
        store: Store,
        online: SigningKey,
        bit_length: u32,
        expiry: Expiry,
    ) -> Result<Self> {
        let metadata_dir = data_dir.join("metadata");
        let targets_dir = data_dir.join("targets");
        for d in [&metadata_dir, &targets_dir] {
            std::fs::create_dir_all(d).map_err(Error::io(d.display()))?;
        }
        Ok(Self {
            store,
            metadata_dir,
            targets_dir,
            online,
            bit_length,
            expiry,
        })
    }

    /// The bin an artifact path belongs to.
    pub fn bin_for(&self, path: &str) -> Result<String> {
        bin_name("bins", self.bit_length, path)
            .map(|n| n.as_str().to_string())
            .map_err(|e| Error::State(format!("bin for {path}: {e}")))
    }

    /// The trusted root's bytes (the newest `N.root.json`).
    pub fn root_bytes(&self) -> Result<Vec<u8>> {
        let version: u64 = self
            .store
            .setting("root_version")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let path = self.metadata_dir.join(format!("{version}.root.json"));
        std::fs::read(&path).map_err(Error::io(path.display()))
    }

    fn targets_signed(&self, version: u64, expires: i64) -> Value {
        json!({
            "_type": "targets", "spec_version": "1.0.31", "version": version, "expires": expires::format(expires),
            "targets": {},
            "delegations": {
                "keys": {self.online.keyid.clone(): self.online.public.clone()},
                "succinct_roles": {"bit_length": self.bit_length, "name_prefix": "bins",
                                   "keyids": [self.online.keyid.clone()], "threshold": 1},
            },
        })
    }

    fn bin_signed(&self, bin: &str, version: u64, expires: i64) -> Result<Value> {
        let targets: Map<String, Value> = self.store.artifacts_in(bin)?.into_iter().collect();
        Ok(
            json!({"_type": "targets", "spec_version": "1.0.31", "version": version,
                  "expires": expires::format(expires), "targets": targets}),
        )
    }

    /// Re-signs `bins` (and top-level targets when `targets` is set), then snapshot and timestamp.
    /// Returns the versions written.
    pub fn publish(&self, bins: &BTreeSet<String>, targets: bool) -> Result<BTreeMap<String, u64>> {
        let now = now();
        let mut state: BTreeMap<String, RoleState> = self.store.roles()?.into_iter().collect();
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut sign = |role: &str,
                        signed: Value,
                        expires: i64,
                        state: &mut BTreeMap<String, RoleState>|
         -> Result<Vec<u8>> {
            let bytes = envelope(&signed, &[&self.online])?;
            let version = signed["version"].as_u64().unwrap_or(1);
            state.insert(
                role.into(),
                RoleState {
                    version,
                    expires,
                    length: bytes.len() as u64,
                    sha256: hex(&Sha256::digest(&bytes)),
                },
            );
            files.push((file_name(role, version), bytes.clone()));
            Ok(bytes)
        };
        let next = |state: &BTreeMap<String, RoleState>, role: &str| {
            state.get(role).map_or(1, |s| s.version + 1)
        };
        let day = 86_400;
        let targets_bytes = if targets || !state.contains_key("targets") {
            let (v, exp) = (next(&state, "targets"), now + self.expiry.targets * day);
            Some(sign(
                "targets",
                self.targets_signed(v, exp),
                exp,
                &mut state,
            )?)
        } else {
            None
        };
        let mut bin_files = Vec::new();
        for bin in bins {
            let (v, exp) = (next(&state, bin), now + self.expiry.bins * day);
            bin_files.push((
                bin.clone(),
                sign(bin, self.bin_signed(bin, v, exp)?, exp, &mut state)?,
            ));
        }
        let meta: Map<String, Value> = state
            .iter()
            .filter(|(name, _)| name.as_str() == "targets" || name.starts_with("bins-"))
            .map(|(name, s)| (format!("{name}.json"), json!({"version": s.version, "length": s.length, "hashes": {"sha256": s.sha256}})))
            .collect();
        let (v, exp) = (next(&state, "snapshot"), now + self.expiry.snapshot * day);
        let snapshot = json!({"_type": "snapshot", "spec_version": "1.0.31", "version": v, "expires": expires::format(exp), "meta": meta});
        let snapshot_bytes = sign("snapshot", snapshot, exp, &mut state)?;
        let sn = &state["snapshot"];
        let (v, exp) = (next(&state, "timestamp"), now + self.expiry.timestamp * day);
        let timestamp = json!({"_type": "timestamp", "spec_version": "1.0.31", "version": v, "expires": expires::format(exp),
            "meta": {"snapshot.json": {"version": sn.version, "length": sn.length, "hashes": {"sha256": sn.sha256}}}});
        let timestamp_bytes = sign("timestamp", timestamp, exp, &mut state)?;

        let targets_bytes = match targets_bytes {
            Some(b) => b,
            None => {
                let path = self
                    .metadata_dir
                    .join(file_name("targets", state["targets"].version));
                std::fs::read(&path).map_err(Error::io(path.display()))?
            }
        };
        self.verify(
            &timestamp_bytes,
            &snapshot_bytes,
            &targets_bytes,
            &bin_files,
            now,
        )?;

        self.store.set_roles(
            &state
                .iter()
                .map(|(n, s)| (n.clone(), s.clone()))
                .collect::<Vec<_>>(),
        )?;
        let (timestamp_file, versioned): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(name, _)| name == "timestamp.json");
        write_all_durably(&self.metadata_dir, &versioned)?;
        for (name, bytes) in &timestamp_file {
            write_atomic(&self.metadata_dir.join(name), bytes)?; // last: it makes the new state current
        }
        Ok(state.into_iter().map(|(n, s)| (n, s.version)).collect())
    }

    /// Verifies the new state as a device would: root, timestamp, snapshot, targets, each bin.
    fn verify(
        &self,
        timestamp: &[u8],
        snapshot: &[u8],
        targets: &[u8],
        bins: &[(String, Vec<u8>)],
        now: i64,
    ) -> Result<()> {
        let fail = |what: &str| {
            let what = what.to_string();
            move |error| Error::SelfVerify { what, error }
        };
        let root = self.root_bytes()?;
        let mut client =
            Client::new(&root, UnixTime(now), Limits::default()).map_err(fail("root"))?;
        client.not_found().map_err(fail("root"))?;
        for (what, bytes) in [
            ("timestamp", timestamp),
            ("snapshot", snapshot),
            ("targets", targets),
        ] {
            client.handle(bytes).map_err(fail(what))?;
        }
        if client.next().map_err(fail("targets"))? != Next::Ready {
            return Err(Error::State(
                "self-verification did not reach targets".into(),
            ));
        }
        let delegations = serde_json::to_vec(
            &serde_json::from_slice::<Value>(targets)?["signed"]["delegations"],
        )?;
        let matches =
            delegations_for_target(&delegations, "").map_err(fail("targets delegations"))?;
        let role = matches
            .roles
            .first()
            .ok_or_else(|| Error::State("targets delegate to no bins".into()))?;
        for (bin, bytes) in bins {
            client
                .trusted()
                .verify_targets(
                    Input::<NoReader>::Bytes(bytes),
                    bin,
                    (&matches.keys, &role.role),
                    None,
                )
                .map_err(fail(bin))?;
        }
        Ok(())
    }

    /// Roles that expire within a quarter of their validity (at most an hour ahead): to re-sign.
    pub fn expiring(&self) -> Result<(BTreeSet<String>, bool, bool)> {
        let now = now();
        let (mut bins, mut targets, mut any) = (BTreeSet::new(), false, false);
        for (name, s) in self.store.roles()? {
            let days = match name.as_str() {
                "targets" => self.expiry.targets,
                "snapshot" => self.expiry.snapshot,
                "timestamp" => self.expiry.timestamp,
                _ => self.expiry.bins,
            };
            let margin = (days * 86_400 / 4).min(3600);
            if s.expires - now <= margin {
                any = true;
                match name.as_str() {
                    "targets" => targets = true,
                    "snapshot" | "timestamp" => {}
                    _ => {
                        bins.insert(name);
                    }
                }
            }
        }
        Ok((bins, targets, any))
    }
}

/// Writes new versioned files: all written, fsynced in parallel (concurrent fsyncs share journal
/// commits), renamed into place, then one directory fsync. Nothing refers to them until
/// `timestamp.json` is replaced afterwards, so a crash in between leaves the old state intact.
fn write_all_durably(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    use std::io::Write;
    let mut staged = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(Error::io(dir.display()))?;
        tmp.write_all(bytes).map_err(Error::io(name))?;
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(Error::io(name))?;
        }
        staged.push((name, tmp));
    }
    let workers = std::thread::available_parallelism()
        .map_or(4, |n| n.get() * 4)
        .min(32);
    let chunk = staged.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = staged
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .try_for_each(|(name, f)| f.as_file().sync_all().map_err(Error::io(name)))
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::State("fsync thread panicked".into())))
        })
    })?;
    for (name, tmp) in staged {
        tmp.persist(dir.join(name)).map_err(|e| Error::Io {
            path: name.clone(),
            source: e.error,
        })?;
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir.display()))
}

/// Atomically replaces `path` with `bytes` (temp file, fsync, rename, fsync dir).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(Error::io(dir.display()))?;
    tmp.write_all(bytes).map_err(Error::io(path.display()))?;
    tmp.as_file()
        .sync_all()
        .map_err(Error::io(path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(Error::io(path.display()))?;
    }
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e.error,
    })?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir.display()))
}
