//! Publication: artifacts in the database become signed metadata. Only the bins an addition or
//! removal touched are re-signed, then snapshot and timestamp. Before anything is written,
//! otuf-core verifies the new state from the trusted root down, exactly as a device will; a state
//! that does not verify is never published. Versions are reserved in the database before files
//! are written (a crash never reuses a version number), versioned files are written first and
//! `timestamp.json` last, each atomically, so a client never sees a half-published state.

pub mod bins;
pub mod delegations;
pub mod expires;

pub use bins::Layout;
pub use delegations::{Custom, CustomRole, Delegations};

use crate::error::{Error, Result};
use crate::sign::{envelope, hex, SigningKey};
use crate::storage::Storage;
use crate::store::{RoleState, Store};
use otuf_core::client::{Client, Next};
use otuf_core::limits::Limits;
use otuf_core::metadata::{delegated_role, delegations_for_target};
use otuf_core::time::UnixTime;
use otuf_core::trusted::{Input, NoReader};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Days each role stays valid (RSTUF's `<role>_expiration` settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// Root (offline: informative, the ceremony sets it).
    pub root: i64,
    /// Top-level targets.
    pub targets: i64,
    /// Snapshot.
    pub snapshot: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// Hash bins.
    pub bins: i64,
}

impl Default for Expiry {
    /// RSTUF's CLI defaults.
    fn default() -> Self {
        Self {
            root: 365,
            targets: 365,
            snapshot: 1,
            timestamp: 1,
            bins: 1,
        }
    }
}

/// What online signing needs: the key root lists for the online roles, the delegations, the
/// expiries.
pub struct Online {
    /// The online key.
    pub key: SigningKey,
    /// Top-level targets' delegations: hash bins or custom roles.
    pub delegations: Delegations,
    /// Validity of each role.
    pub expiry: Expiry,
    /// The `delegations` object top-level targets carries, which artifact paths are searched in.
    pub rendered: Vec<u8>,
    /// The delegated roles the online key signs (every bin, or the custom roles without keys
    /// of their own).
    pub signed_roles: BTreeSet<String>,
}

impl Online {
    /// The signer of these delegations with `key`.
    pub fn new(key: SigningKey, delegations: Delegations, expiry: Expiry) -> Result<Self> {
        let rendered = serde_json::to_vec(&delegations.render(&key.keyid, &key.public))?;
        let signed_roles = delegations.online_names().into_iter().collect();
        Ok(Self {
            key,
            delegations,
            expiry,
            rendered,
            signed_roles,
        })
    }

    /// The delegated role an artifact path belongs to (`None`: no role is trusted for it).
    pub fn role_for(&self, path: &str) -> Result<Option<String>> {
        self.delegations.role_for(&self.rendered, path)
    }

    /// Whether the online key signs `role` now: the top-level online roles, and the delegated
    /// ones it signs (a deleted delegation stays in the role table, signed by nobody).
    pub fn signs(&self, role: &str) -> bool {
        matches!(role, "targets" | "snapshot" | "timestamp") || self.signed_roles.contains(role)
    }

    /// Days a version of `role` is valid.
    pub fn days(&self, role: &str) -> i64 {
        match role {
            "targets" => self.expiry.targets,
            "snapshot" => self.expiry.snapshot,
            "timestamp" => self.expiry.timestamp,
            _ => self.delegations.days(role, self.expiry.bins),
        }
    }
}

/// Where a repository stands in its bootstrap (RSTUF's `BOOTSTRAP` setting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Nothing yet: a bootstrap may be sent.
    Available,
    /// A bootstrap task was accepted and not yet processed.
    Pre(String),
    /// Root v1 waits for more signatures.
    Signing(String),
    /// Bootstrapped (by this task).
    Finished(String),
}

impl Bootstrap {
    /// The state's name in RSTUF's `GET /bootstrap` (`None` when available).
    pub fn name(&self) -> Option<&'static str> {
        match self {
            Self::Available => None,
            Self::Pre(_) => Some("pre"),
            Self::Signing(_) => Some("signing"),
            Self::Finished(_) => Some("finished"),
        }
    }

    /// The bootstrap task's id.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Available => None,
            Self::Pre(id) | Self::Signing(id) | Self::Finished(id) => Some(id),
        }
    }
}

/// The repository: its state, its storage and, once bootstrapped, its online signer.
pub struct Repo {
    /// State database.
    pub store: Store,
    /// Metadata (`metadata/…`, served under `/metadata/`) and artifacts (`targets/…`, under
    /// `/targets/`).
    pub storage: Storage,
    /// This process's own folder (the local storage's too, by default): uploads are staged here.
    pub data_dir: PathBuf,
    /// Where `fn:` online key URIs point.
    pub keys_dir: PathBuf,
    online: RwLock<Option<Arc<Online>>>,
    /// The role table, read from the store and kept current by each publication. Other
    /// processes sharing the store publish too: it is read again under the publication lock
    /// whenever the store's generation moved (see [`Repo::catch_up`]).
    roles: std::sync::Mutex<Option<BTreeMap<String, RoleState>>>,
    /// The store's generation the caches (role table, online signer) reflect.
    generation: std::sync::atomic::AtomicI64,
    /// What `/metrics` reports.
    pub metrics: crate::metrics::Metrics,
    /// What housekeeping keeps.
    pub housekeeping: crate::housekeeping::Policy,
}

/// The system clock, in UNIX seconds.
pub fn now() -> i64 {
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

/// The online key root lists: the one key of timestamp, snapshot and targets (RSTUF shares one
/// online key between them), with its `x-rstuf-online-key-uri`.
fn online_key_of(root_signed: &Value) -> Result<(String, Value, String)> {
    let bad = |why: String| Error::State(format!("root: {why}"));
    let ids = |role: &str| root_signed["roles"][role]["keyids"].clone();
    let keyids = ids("timestamp");
    let Some([keyid]) = keyids.as_array().map(Vec::as_slice) else {
        return Err(bad(
            "roles.timestamp.keyids must list exactly one online key".into(),
        ));
    };
    for role in ["snapshot", "targets"] {
        if ids(role) != keyids {
            return Err(bad(format!(
                "roles.{role}.keyids must be the timestamp's online key"
            )));
        }
    }
    let keyid = keyid.as_str().unwrap_or_default().to_string();
    let key = root_signed["keys"][&keyid].clone();
    let uri = key["x-rstuf-online-key-uri"]
        .as_str()
        .ok_or_else(|| {
            bad(format!(
                "keys.{keyid}: the online key has no x-rstuf-online-key-uri"
            ))
        })?
        .to_string();
    Ok((keyid, key, uri))
}

impl Repo {
    /// The repository in `data_dir` (created if new), its online key files in `keys_dir`, on
    /// SQLite and the data folder unless `state` and `storage` name others (see
    /// [`Store::open`], [`Storage::open`]).
    pub fn open(
        data_dir: &Path,
        keys_dir: &Path,
        state: Option<&str>,
        storage: Option<&str>,
    ) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(Error::io(data_dir.display()))?;
        let storage = Storage::open(storage, data_dir)?;
        storage.create()?;
        let repo = Self {
            store: Store::open(state, data_dir)?,
            storage,
            data_dir: data_dir.to_path_buf(),
            keys_dir: keys_dir.to_path_buf(),
            online: RwLock::new(None),
            roles: std::sync::Mutex::new(None),
            generation: std::sync::atomic::AtomicI64::new(i64::MIN),
            metrics: crate::metrics::Metrics::default(),
            housekeeping: crate::housekeeping::Policy::default(),
        };
        {
            let _lock = repo.store.lock_publication()?;
            repo.recover_root()?;
        }
        repo.reload()?;
        repo.note_generation()?;
        Ok(repo)
    }

    /// Under the publication lock: brings what this process caches up to date with what
    /// others published or changed since (a no-op on a store no other process shares).
    pub fn catch_up(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if !self.store.is_shared() {
            return Ok(());
        }
        let now = self.store.generation()?;
        if now != self.generation.load(Ordering::Acquire) {
            *self
                .roles
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            self.reload()?;
            self.generation.store(now, Ordering::Release);
        }
        Ok(())
    }

    /// Under the publication lock, once this process's caches reflect its own changes: the
    /// store's generation they are current for.
    pub fn note_generation(&self) -> Result<()> {
        if self.store.is_shared() {
            let now = self.store.generation()?;
            self.generation
                .store(now, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// A metadata file (`metadata/<name>`), if there is one.
    pub fn metadata(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.storage.get(&format!("metadata/{name}"))
    }

    /// Writes a metadata file atomically.
    pub fn put_metadata(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.storage.put(&format!("metadata/{name}"), bytes)
    }

    /// The online signer; fails until the bootstrap is finished.
    pub fn online(&self) -> Result<Arc<Online>> {
        self.online
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or_else(|| Error::State("It requires bootstrap finished".into()))
    }

    /// Where the bootstrap stands.
    pub fn bootstrap(&self) -> Result<Bootstrap> {
        Ok(match self.store.setting("bootstrap")? {
            None => Bootstrap::Available,
            Some(s) => {
                if let Some(id) = s.strip_prefix("pre-") {
                    Bootstrap::Pre(id.into())
                } else if let Some(id) = s.strip_prefix("signing-") {
                    Bootstrap::Signing(id.into())
                } else {
                    Bootstrap::Finished(s)
                }
            }
        })
    }

    /// `f` over the role table, as the last publication left it.
    pub fn with_role_table<T>(
        &self,
        f: impl FnOnce(&BTreeMap<String, RoleState>) -> T,
    ) -> Result<T> {
        let table = self.role_table()?;
        Ok(f(&table))
    }

    /// The role table, locked (read from the store the first time).
    fn role_table(&self) -> Result<RoleTable<'_>> {
        let mut current = self
            .roles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.is_none() {
            *current = Some(self.store.roles()?.into_iter().collect());
        }
        Ok(RoleTable(current))
    }

    /// The trusted root's version.
    pub fn root_version(&self) -> Result<u64> {
        Ok(self
            .store
            .setting("root_version")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(1))
    }

    /// The trusted root's bytes (the newest `N.root.json`).
    pub fn root_bytes(&self) -> Result<Vec<u8>> {
        let name = format!("{}.root.json", self.root_version()?);
        self.metadata(&name)?
            .ok_or_else(|| Error::State(format!("metadata/{name}: missing")))
    }

    /// The trusted root, as otuf-core reads it (its own threshold checked).
    pub fn trusted_root(&self) -> Result<otuf_core::metadata::Root> {
        let set = otuf_core::trusted::TrustedSet::new(
            &self.root_bytes()?,
            UnixTime(0),
            Limits::default(),
        )
        .map_err(|error| Error::SelfVerify {
            what: "trusted root".into(),
            error,
        })?;
        Ok(set.root().clone())
    }

    /// A JSON setting, or its default.
    pub fn json_setting<T: serde::de::DeserializeOwned + Default>(&self, key: &str) -> Result<T> {
        Ok(match self.store.setting(key)? {
            Some(s) => serde_json::from_str(&s)?,
            None => T::default(),
        })
    }

    /// The file an online key URI names: `fn:<file>`, relative to the key directory.
    pub fn key_path(&self, uri: &str) -> Result<PathBuf> {
        let file = uri.strip_prefix("fn:").ok_or_else(|| {
            Error::Key(format!(
                "online key URI '{uri}': otuf-repo reads fn:<file> URIs (files in {})",
                self.keys_dir.display()
            ))
        })?;
        if file.is_empty() || file.split(['/', '\\']).any(|s| s == "..") {
            return Err(Error::Key(format!(
                "online key URI '{uri}': not a file name"
            )));
        }
        Ok(self.keys_dir.join(file))
    }

    /// The online signer for `root` (its signed part) with these delegations and expiries.
    pub fn online_for(
        &self,
        root_signed: &Value,
        delegations: Delegations,
        expiry: Expiry,
    ) -> Result<Online> {
        let (keyid, public, uri) = online_key_of(root_signed)?;
        let key = SigningKey::load_for(&self.key_path(&uri)?, &keyid, &public)?;
        Online::new(key, delegations, expiry)
    }

    /// The delegations the bootstrap (and later delegation changes) recorded: hash bins
    /// (setting `layout`) or custom roles (setting `delegations`).
    pub fn delegations_setting(&self) -> Result<Option<Delegations>> {
        if let Some(layout) = self.store.setting("layout")? {
            return Ok(Some(Delegations::Bins(serde_json::from_str(&layout)?)));
        }
        Ok(match self.store.setting("delegations")? {
            Some(custom) => Some(Delegations::Custom(serde_json::from_str(&custom)?)),
            None => None,
        })
    }

    /// Loads the online signer from the trusted root and the settings (after a bootstrap, a
    /// root rotation or a settings change).
    pub fn reload(&self) -> Result<()> {
        let online = match self.bootstrap()? {
            Bootstrap::Finished(_) => {
                let root: Value = serde_json::from_slice(&self.root_bytes()?)?;
                self.online_from_settings(&root["signed"])?.map(Arc::new)
            }
            _ => None,
        };
        *self
            .online
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = online;
        Ok(())
    }

    /// The online signer for `root_signed` with the delegations and expiries the bootstrap
    /// recorded (`None` before a bootstrap has recorded them).
    pub fn online_from_settings(&self, root_signed: &Value) -> Result<Option<Online>> {
        let Some(delegations) = self.delegations_setting()? else {
            return Ok(None);
        };
        let expiry = self.json_setting("expiration")?;
        self.online_for(root_signed, delegations, expiry).map(Some)
    }

    /// A root whose rotation was committed but whose file a crash kept from being written is
    /// written now, from the signing event kept until then.
    fn recover_root(&self) -> Result<()> {
        let version = self.root_version()?;
        let name = format!("{version}.root.json");
        if self.storage.exists(&format!("metadata/{name}"))? {
            return Ok(());
        }
        if let Some(pending) = self.store.setting("root_signing")? {
            let root: Value = serde_json::from_str(&pending)?;
            if root["signed"]["version"].as_u64() == Some(version) {
                self.put_metadata(&name, &serde_json::to_vec(&root)?)?;
                self.store.set_settings(&[("root_signing", None)])?;
            }
        }
        Ok(())
    }

    /// The delegated role an artifact path belongs to (`None`: no role is trusted for it).
    pub fn role_for(&self, path: &str) -> Result<Option<String>> {
        self.online()?.role_for(path)
    }

    fn targets_signed(online: &Online, version: u64, expires: i64) -> Value {
        json!({
            "_type": "targets", "spec_version": "1.0.31", "version": version, "expires": expires::format(expires),
            "targets": {},
            "delegations": online.delegations.render(&online.key.keyid, &online.key.public),
        })
    }

    /// Re-signs `bins` (and top-level targets when `targets` is set), then snapshot and timestamp.
    /// Returns the versions written.
    pub fn publish(&self, bins: &BTreeSet<String>, targets: bool) -> Result<BTreeMap<String, u64>> {
        self.publish_with(&*self.online()?, bins, targets, None, &[], &[])
    }

    /// [`publish`](Self::publish) with `online`; for a root rotation the new root (written just
    /// before `timestamp.json`); the settings that make it current (committed with the new
    /// versions); and delegated roles signed offline (`(role, file)`), published as they are.
    pub fn publish_with(
        &self,
        online: &Online,
        bins: &BTreeSet<String>,
        targets: bool,
        new_root: Option<&[u8]>,
        settings: &[(&str, Option<&str>)],
        presigned: &[(String, Vec<u8>)],
    ) -> Result<BTreeMap<String, u64>> {
        let (now, started) = (now(), std::time::Instant::now());
        // The publication holds the role table for its whole length: it is the only writer.
        let mut table = self.role_table()?;
        let base: &BTreeMap<String, RoleState> = &table;
        let t_roles = started.elapsed();
        let mut new = Changes::new(base);
        let day = 86_400;

        let targets_bytes = if targets || !base.contains_key("targets") {
            let (v, exp) = (new.next("targets"), now + online.days("targets") * day);
            let bytes = envelope(&Self::targets_signed(online, v, exp), &[&online.key])?;
            new.record("targets", v, exp, bytes.clone());
            bytes
        } else {
            let name = file_name("targets", base["targets"].version);
            self.metadata(&name)?
                .ok_or_else(|| Error::State(format!("metadata/{name}: missing")))?
        };
        // Bins are signed on every core; each lists its artifacts from one read of the store.
        let mut contents = self.store.artifacts_in_roles(bins)?;
        let jobs: Vec<BinJob<'_>> = bins
            .iter()
            .map(|b| {
                let listed = contents.remove(b).unwrap_or_default();
                (b, new.next(b), now + online.days(b) * day, listed)
            })
            .collect();
        let signed_bins = par_map(&jobs, |(_, v, exp, listed)| -> Result<_> {
            let targets: Map<String, Value> = listed.iter().cloned().collect();
            let first = targets.keys().next().cloned();
            let signed = json!({"_type": "targets", "spec_version": "1.0.31", "version": v,
                                "expires": expires::format(*exp), "targets": targets});
            Ok((envelope(&signed, &[&online.key])?, first))
        });
        let mut bin_files = Vec::with_capacity(jobs.len() + presigned.len());
        for ((bin, v, exp, _), signed) in jobs.iter().zip(signed_bins) {
            let (bytes, first) = signed?;
            new.record(bin, *v, *exp, bytes.clone());
            bin_files.push(((*bin).clone(), bytes, first));
        }
        for (role, bytes) in presigned {
            let doc: Value = serde_json::from_slice(bytes)?;
            let signed = &doc["signed"];
            let exp = otuf_core::time::UnixTime::parse_expires(
                signed["expires"].as_str().unwrap_or_default().as_bytes(),
            )
            .map_err(|_| Error::State(format!("{role}: signed.expires")))?
            .0;
            let version = signed["version"].as_u64().unwrap_or_default();
            let first = signed["targets"]
                .as_object()
                .and_then(|t| t.keys().next().cloned());
            new.record(role, version, exp, bytes.clone());
            bin_files.push((role.clone(), bytes.clone(), first));
        }
        let t_bins = started.elapsed();

        let (v, exp) = (new.next("snapshot"), now + online.days("snapshot") * day);
        let snapshot_bytes = snapshot_envelope(&new.snapshot_meta(), v, exp, &online.key);
        new.record("snapshot", v, exp, snapshot_bytes.clone());
        let t_snapshot = started.elapsed();
        let sn = new
            .get("snapshot")
            .cloned()
            .ok_or_else(|| Error::State("snapshot".into()))?;
        let (v, exp) = (new.next("timestamp"), now + online.days("timestamp") * day);
        let timestamp = json!({"_type": "timestamp", "spec_version": "1.0.31", "version": v, "expires": expires::format(exp),
            "meta": {"snapshot.json": {"version": sn.version, "length": sn.length, "hashes": {"sha256": sn.sha256}}}});
        let timestamp_bytes = envelope(&timestamp, &[&online.key])?;
        new.record("timestamp", v, exp, timestamp_bytes.clone());
        let t_signed = started.elapsed();
        let Changes { states, files, .. } = new;

        // Versioned files are staged (written and fsynced under temporary names) while
        // otuf-core verifies the new state; they are renamed into place only once it has.
        let (timestamp_file, versioned): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(name, _)| name == "timestamp.json");
        let (staged, verified) = std::thread::scope(|s| {
            let staging = s.spawn(|| {
                let t = std::time::Instant::now();
                let r = self.storage.stage("metadata", &versioned);
                tracing::debug!("staged {} file(s) in {:?}", versioned.len(), t.elapsed());
                r
            });
            let t = std::time::Instant::now();
            let verified = self.verify(
                new_root,
                [&timestamp_bytes, &snapshot_bytes, &targets_bytes],
                &bin_files,
                now,
            );
            tracing::debug!("verified in {:?}", t.elapsed());
            let staged = staging
                .join()
                .unwrap_or_else(|_| Err(Error::State("staging thread panicked".into())));
            (staged, verified)
        });
        verified?;
        let staged = staged?;
        let signed = started.elapsed();
        // Only the roles re-signed now: the others' rows are unchanged.
        let rows: Vec<(String, RoleState)> = states.into_iter().collect();
        // With processes sharing the store, one that finds this mark was left by a publisher
        // that died before its files were all written, and writes them (see `to_refresh`).
        let shared = self.store.is_shared();
        let mut settings = settings.to_vec();
        if shared {
            settings.push((PUBLISHING, Some("1")));
        }
        self.store.commit(&rows, &settings)?;
        self.storage.persist("metadata", staged)?;
        if let Some(root) = new_root {
            let version = serde_json::from_slice::<Value>(root)?["signed"]["version"]
                .as_u64()
                .unwrap_or_default();
            self.put_metadata(&format!("{version}.root.json"), root)?;
        }
        for (name, bytes) in &timestamp_file {
            self.put_metadata(name, bytes)?; // last: it makes the new state current
        }
        if shared {
            self.store.set_settings(&[(PUBLISHING, None)])?;
        }
        let versions: BTreeMap<String, u64> =
            rows.iter().map(|(n, s)| (n.clone(), s.version)).collect();
        self.metrics.published(started.elapsed());
        table.extend(rows);
        tracing::debug!(
            "published {} file(s): signed and verified in {:?} (roles read {:?}, bins {:?}, snapshot {:?}, signed {:?}), written in {:?}",
            versions.len(),
            signed,
            t_roles, t_bins, t_snapshot, t_signed,
            started.elapsed() - signed
        );
        Ok(versions)
    }

    /// Verifies the new state as a device would: root (and a new root), timestamp, snapshot,
    /// targets, each bin.
    fn verify(
        &self,
        new_root: Option<&[u8]>,
        [timestamp, snapshot, targets]: [&[u8]; 3],
        bins: &[(String, Vec<u8>, Option<String>)],
        now: i64,
    ) -> Result<()> {
        let fail = |what: &str| {
            let what = what.to_string();
            move |error| Error::SelfVerify { what, error }
        };
        let root = self.root_bytes()?;
        let mut client =
            Client::new(&root, UnixTime(now), Limits::default()).map_err(fail("root"))?;
        if let Some(new_root) = new_root {
            client.handle(new_root).map_err(fail("new root"))?;
        }
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
        let trusted = client.trusted();
        let checks = par_map(bins, |(bin, bytes, first)| -> Result<()> {
            // Signed as targets delegates the role, and found where a device looks first for
            // the artifacts it lists (checked on the first).
            let matches = delegated_role(&delegations, bin)
                .map_err(fail("targets delegations"))?
                .ok_or_else(|| Error::State(format!("targets does not delegate to {bin}")))?;
            let role = matches
                .roles
                .first()
                .ok_or_else(|| Error::State(format!("targets does not delegate to {bin}")))?;
            if let Some(path) = first {
                let found = delegations_for_target(&delegations, path)
                    .map_err(fail("targets delegations"))?;
                if found.roles.first().map(|r| r.name.as_str()) != Some(bin.as_str()) {
                    return Err(Error::State(format!(
                        "{path}: a device would look for it in another role than {bin}"
                    )));
                }
            }
            let verified = trusted
                .verify_targets(
                    Input::<NoReader>::Bytes(bytes),
                    bin,
                    (&matches.keys, &role.role),
                    first.as_deref(),
                )
                .map_err(fail(bin))?;
            if let (Some(path), None) = (first, verified.target) {
                return Err(Error::State(format!("{bin}: does not list {path}")));
            }
            Ok(())
        });
        checks.into_iter().collect::<Result<()>>()?;
        Ok(())
    }

    /// The earliest expiry (UNIX seconds) of the roles signed online, if any is published.
    pub fn earliest_expiry(&self) -> Option<i64> {
        let online = self.online().ok()?;
        self.with_role_table(|roles| {
            roles
                .iter()
                .filter(|(n, _)| online.signs(n))
                .map(|(_, s)| s.expires)
                .min()
        })
        .ok()
        .flatten()
    }

    /// Roles to re-sign: those that expire within a quarter of their validity (at most an hour
    /// ahead) and, with `check_files` (at start-up), those whose file is missing (a crash
    /// between recording a publication and writing its files). Returns `(bins, targets,
    /// anything)`.
    pub fn to_refresh(&self, check_files: bool) -> Result<(BTreeSet<String>, bool, bool)> {
        let Ok(online) = self.online() else {
            return Ok((BTreeSet::new(), false, false));
        };
        let now = now();
        // A shared store: files are checked when a publisher died mid-way too. One listing
        // answers for every role.
        let check_files = check_files || self.store.setting(PUBLISHING)?.is_some();
        let present: BTreeSet<String> = if check_files {
            self.storage
                .list("metadata")?
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        } else {
            BTreeSet::new()
        };
        let delegated = &online.signed_roles;
        self.with_role_table(|roles| {
            if !roles.contains_key("timestamp") {
                // Bootstrapped but never published: everything.
                return (delegated.clone(), true, true);
            }
            let (mut bins, mut targets, mut any) = (BTreeSet::new(), false, false);
            for (name, s) in roles {
                if !online.signs(name) {
                    continue; // a deleted delegation: listed in snapshot, never looked up again
                }
                let margin = (online.days(name) * 86_400 / 4).min(3600);
                let missing = check_files && !present.contains(&file_name(name, s.version));
                if s.expires - now <= margin || missing {
                    any = true;
                    match name.as_str() {
                        "targets" => targets = true,
                        "snapshot" | "timestamp" => {}
                        _ => {
                            bins.insert(name.clone());
                        }
                    }
                }
            }
            (bins, targets, any)
        })
    }
}

/// The setting a publication on a shared store holds from its commit until its files are all
/// written.
const PUBLISHING: &str = "publishing";

/// A bin to sign: its name, version, expiry and the artifacts it lists.
type BinJob<'a> = (&'a String, u64, i64, Vec<(String, Value)>);

/// The role table under its lock, loaded.
struct RoleTable<'a>(std::sync::MutexGuard<'a, Option<BTreeMap<String, RoleState>>>);

impl std::ops::Deref for RoleTable<'_> {
    type Target = BTreeMap<String, RoleState>;
    fn deref(&self) -> &Self::Target {
        static EMPTY: BTreeMap<String, RoleState> = BTreeMap::new();
        self.0.as_ref().unwrap_or(&EMPTY)
    }
}

impl std::ops::DerefMut for RoleTable<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.get_or_insert_with(BTreeMap::new)
    }
}

/// The roles a publication re-signs, over the current role table.
struct Changes<'a> {
    base: &'a BTreeMap<String, RoleState>,
    states: BTreeMap<String, RoleState>,
    files: Vec<(String, Vec<u8>)>,
}

impl<'a> Changes<'a> {
    fn new(base: &'a BTreeMap<String, RoleState>) -> Self {
        Self {
            base,
            states: BTreeMap::new(),
            files: Vec::new(),
        }
    }

    fn get(&self, role: &str) -> Option<&RoleState> {
        self.states.get(role).or_else(|| self.base.get(role))
    }

    /// The version `role` is published in now.
    fn next(&self, role: &str) -> u64 {
        self.get(role).map_or(1, |s| s.version + 1)
    }

    fn record(&mut self, role: &str, version: u64, expires: i64, bytes: Vec<u8>) {
        let state = RoleState {
            version,
            expires,
            length: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes)),
        };
        self.states.insert(role.into(), state);
        self.files.push((file_name(role, version), bytes));
    }

    /// Snapshot's `meta`: every targets role ever published, a deleted delegation's too
    /// (clients refuse a snapshot that drops a role the previous one listed, python-tuf with
    /// "New snapshot is missing info", and its version must keep rising if the name returns),
    /// sorted by file name (`<role>.json`) as canonical JSON sorts them.
    fn snapshot_meta(&self) -> Vec<(&str, &RoleState)> {
        let listed = |n: &&String| !matches!(n.as_str(), "snapshot" | "timestamp");
        let mut meta: Vec<(&str, &RoleState)> = self
            .base
            .iter()
            .filter(|(n, _)| listed(n))
            .map(|(n, s)| (n.as_str(), self.states.get(n).unwrap_or(s)))
            .chain(
                self.states
                    .iter()
                    .filter(|(n, _)| listed(n) && !self.base.contains_key(*n))
                    .map(|(n, s)| (n.as_str(), s)),
            )
            .collect();
        // Role order and file-name order differ where a name continues another with a byte
        // below '.' ("a" < "a-b", but "a-b.json" < "a.json").
        fn file(n: &str) -> impl Iterator<Item = u8> + '_ {
            n.bytes().chain(*b".json")
        }
        meta.sort_by(|a, b| file(a.0).cmp(file(b.0)));
        meta
    }
}

/// A JSON string in canonical form (only `"` and `\` escaped; role names have no control
/// characters: the API refuses them).
fn push_canonical_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// The signed snapshot file, written directly in canonical form: with 16,384 bins it is the
/// largest file of a publication, built on every addition. Byte for byte what [`envelope`]
/// makes of the same snapshot (a unit test checks).
///
/// Each entry carries `version` and `length` (the most a device downloads); `hashes` only for
/// top-level targets. Bins and custom roles are signed by the snapshot's own online key, so a
/// hash would guard nothing a version does not (a holder of that key could sign both anew),
/// and leaving it out makes the snapshot every device downloads on every refresh 2.4 times
/// smaller (0.75 MB instead of 1.8 MB with 16,384 bins).
fn snapshot_envelope(
    meta: &[(&str, &RoleState)],
    version: u64,
    expires: i64,
    key: &SigningKey,
) -> Vec<u8> {
    use std::io::Write;
    let mut signed = Vec::with_capacity(128 + meta.len() * 56);
    let _ = write!(
        signed,
        r#"{{"_type":"snapshot","expires":"{}","meta":{{"#,
        expires::format(expires)
    );
    for (i, (role, s)) in meta.iter().enumerate() {
        if i > 0 {
            signed.push(b',');
        }
        push_canonical_str(&mut signed, &format!("{role}.json"));
        if *role == "targets" {
            let _ = write!(signed, r#":{{"hashes":{{"sha256":"{}"}},"#, s.sha256);
        } else {
            signed.extend_from_slice(b":{");
        }
        let _ = write!(signed, r#""length":{},"version":{}}}"#, s.length, s.version);
    }
    let _ = write!(
        signed,
        r#"}},"spec_version":"1.0.31","version":{version}}}"#
    );
    let signature = key.sign(&signed);
    let mut out = Vec::with_capacity(signed.len() + 256);
    out.extend_from_slice(br#"{"signatures":["#);
    out.extend_from_slice(signature.to_string().as_bytes());
    out.extend_from_slice(br#"],"signed":"#);
    out.extend_from_slice(&signed);
    out.push(b'}');
    out
}

/// `f` over `items` on every core; the results in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    if workers < 2 || items.len() < 8 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(workers);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_snapshot_is_byte_for_byte_the_generic_envelope() {
        let key = SigningKey::generate().unwrap();
        let mut base = BTreeMap::new();
        // "bins-0" sorts before "bins-0-1" as a role name, after it as a file name.
        let names = [
            "targets",
            "bins-0",
            "bins-0-1",
            "a_b",
            "Z-role",
            "snapshot",
            "timestamp",
        ];
        for (i, name) in names.iter().enumerate() {
            let state = RoleState {
                version: i as u64 + 1,
                expires: 0,
                length: 100 + i as u64,
                sha256: hex(&Sha256::digest([i as u8])),
            };
            base.insert(name.to_string(), state);
        }
        let mut changes = Changes::new(&base);
        changes.record("new-role", 1, 0, b"x".to_vec());
        changes.record("targets", 9, 0, b"y".to_vec());
        let meta = changes.snapshot_meta();
        let fast = snapshot_envelope(&meta, 7, 1_800_000_000, &key);
        let generic: Map<String, Value> = meta
            .iter()
            .map(|(role, s)| {
                let mut entry = json!({"version": s.version, "length": s.length});
                if *role == "targets" {
                    entry["hashes"] = json!({"sha256": s.sha256});
                }
                (format!("{role}.json"), entry)
            })
            .collect();
        assert_eq!(
            generic.len(),
            6,
            "every targets role, not snapshot or timestamp"
        );
        assert_eq!(generic["targets.json"]["version"], 9);
        let order: Vec<&str> = meta.iter().map(|(r, _)| *r).collect();
        assert_eq!(
            order,
            ["Z-role", "a_b", "bins-0-1", "bins-0", "new-role", "targets"]
        );
        let signed = json!({"_type": "snapshot", "spec_version": "1.0.31", "version": 7,
                            "expires": expires::format(1_800_000_000), "meta": generic});
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(envelope(&signed, &[&key]).unwrap()).unwrap()
        );
    }
}
