//! The TUF client: refresh and verified download, driving otuf-core's state machines over HTTP
//! and a local metadata store. The `client` CLI command and the daemon share it.
//!
//! Requests, in order: `N.root.json` upward until 404/403, `timestamp.json`, then
//! `V.snapshot.json`, `V.targets.json` and `V.<role>.json` (versioned names under consistent
//! snapshots) unless the cached copy is still current. Every file is bounded by the length its
//! parent signed (or the configured maximum), verified, and only then stored.

pub mod fetch;
pub mod store;

use crate::error::{Error, Result};
use crate::persist::move_into_place;
use fetch::Fetcher;
use otuf_core::client::{Client, Handled, Next, Role};
use otuf_core::limits::Limits;
use otuf_core::metadata::{TargetFile, TargetVerifier};
use otuf_core::search::{Search, SearchStep};
use otuf_core::time::UnixTime;
use std::io::Write;
use std::path::{Path, PathBuf};
use store::{file_name, MetadataStore};

/// Where a repository lives and where its files go.
pub struct Updater {
    store: MetadataStore,
    metadata_url: String,
    fetcher: Fetcher,
    limits: Limits,
}

/// Joins a base URL and a relative path, with exactly one `/` between them.
fn join(base: &str, rel: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), rel)
}

/// Percent-encodes a target path for a URL, keeping `/` (non-ASCII, spaces, `?`, `#`, `%`...).
fn encode_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The time now, as the core wants it (faketime-friendly: the libc clock).
pub fn now() -> UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
}

impl Updater {
    /// An updater over `metadata_dir` (which must hold a trusted `root.json`, see `init`).
    pub fn new(
        metadata_dir: &Path,
        metadata_url: &str,
        fetcher: Fetcher,
        limits: Limits,
    ) -> Result<Self> {
        Ok(Self {
            store: MetadataStore::open(metadata_dir)?,
            metadata_url: metadata_url.to_string(),
            fetcher,
            limits,
        })
    }

    /// Trusts `root` from now on (trust on first use: no checks beyond its own signatures).
    pub fn init(metadata_dir: &Path, root: &[u8]) -> Result<()> {
        Client::new(root, now(), Limits::default()).map_err(Error::verify("trusted root"))?;
        MetadataStore::open(metadata_dir)?.write("root", root)
    }

    /// Runs the client workflow up to a trusted top-level targets (TUF §5.3–§5.6).
    pub async fn refresh(&self) -> Result<Client> {
        let root = self.store.read("root").ok_or_else(|| {
            Error::Usage(format!(
                "no trusted root in {}: run `init` first",
                self.store.path("root").display()
            ))
        })?;
        let mut client =
            Client::new(&root, now(), self.limits).map_err(Error::verify("root.json"))?;
        loop {
            let (role, version, max_length) =
                match client.next().map_err(Error::verify("snapshot"))? {
                    Next::Ready => return Ok(client),
                    Next::Fetch {
                        role,
                        version,
                        max_length,
                    } => (role, version, max_length),
                };
            let name = role.name();
            let remote = file_name(
                name,
                if role == Role::Timestamp {
                    None
                } else {
                    version
                },
            );
            if role != Role::Root {
                if let Some(cached) = self.store.read(name) {
                    match client.offer_local(&cached) {
                        Ok(true) => {
                            tracing::debug!("{name}.json: cached copy is current");
                            continue;
                        }
                        Ok(false) => {}
                        Err(e) => tracing::debug!("{name}.json: cached copy not used: {e}"),
                    }
                }
            }
            let url = join(&self.metadata_url, &remote);
            tracing::debug!("fetching {url} (at most {max_length} bytes)");
            let Some(bytes) = self.fetcher.get(&url, max_length).await? else {
                if role == Role::Root {
                    client.not_found().map_err(Error::verify(&remote))?;
                    continue;
                }
                return Err(Error::Http { url, status: 404 });
            };
            match client.handle(&bytes).map_err(Error::verify(&remote))? {
                Handled::Persist => self.store.write(name, &bytes)?,
                Handled::Unchanged => tracing::debug!("{remote}: unchanged"),
            }
        }
    }

    /// Finds `target_path` through the delegations (§5.7), fetching (or reusing) the targets
    /// roles on its path; `None` when no trusted role lists it.
    pub async fn target_info(
        &self,
        client: &Client,
        target_path: &str,
    ) -> Result<Option<TargetFile>> {
        let consistent = client.trusted().root().consistent_snapshot;
        let mut search =
            Search::new(client.trusted(), target_path).map_err(Error::verify(target_path))?;
        loop {
            let pending = search.pending().unwrap_or_default().to_string();
            let (role, version, max_length) =
                match search.next().map_err(Error::verify(&pending))? {
                    SearchStep::Found(info) => return Ok(Some(info.clone())),
                    SearchStep::NotFound => return Ok(None),
                    SearchStep::Fetch {
                        role,
                        version,
                        max_length,
                    } => (role.to_string(), version, max_length),
                };
            if let Some(cached) = self.store.read(&role) {
                if search.handle(&cached).is_ok() {
                    continue;
                }
            }
            let remote = file_name(&role, version.filter(|_| consistent));
            let url = join(&self.metadata_url, &remote);
            let bytes = self
                .fetcher
                .get(&url, max_length)
                .await?
                .ok_or(Error::Http { url, status: 404 })?;
            search.handle(&bytes).map_err(Error::verify(&remote))?;
            self.store.write(&role, &bytes)?;
        }
    }

    /// Downloads a verified target into `target_dir` (as `quote(path, safe="")`, python-tuf's
    /// naming), unless the file there already matches. Bytes reach `target_dir` only once their
    /// length and hashes are verified.
    pub async fn download(
        &self,
        client: &Client,
        target_path: &str,
        target_base_url: &str,
        target_dir: &Path,
    ) -> Result<PathBuf> {
        self.download_resuming(client, target_path, target_base_url, target_dir, None)
            .await
    }

    /// [`download`](Self::download), keeping what a cut transfer received in `partial_dir`
    /// (as `<sha256>.part`) and resuming from there with an HTTP `Range` request. The bytes
    /// kept are hashed again before anything is added, and trusted only once the whole file
    /// matches.
    pub async fn download_resuming(
        &self,
        client: &Client,
        target_path: &str,
        target_base_url: &str,
        target_dir: &Path,
        partial_dir: Option<&Path>,
    ) -> Result<PathBuf> {
        let info = self
            .target_info(client, target_path)
            .await?
            .ok_or_else(|| Error::TargetNotFound(target_path.to_string()))?;
        std::fs::create_dir_all(target_dir).map_err(Error::io(target_dir))?;
        let local = target_dir.join(file_name(target_path, None).trim_end_matches(".json"));
        if matches_file(&local, &info) {
            tracing::debug!("{target_path}: already downloaded");
            return Ok(local);
        }
        let consistent = client.trusted().root().consistent_snapshot;
        let remote = if consistent {
            let digest = info
                .hashes
                .sha256
                .map(|d| hex(&d))
                .or(info.hashes.sha512.map(|d| hex(&d)))
                .unwrap_or_default();
            match target_path.rsplit_once('/') {
                Some((dir, base)) => format!("{dir}/{digest}.{base}"),
                None => format!("{digest}.{target_path}"),
            }
        } else {
            target_path.to_string()
        };
        let url = join(target_base_url, &encode_path(&remote));
        let mut check = TargetVerifier::new(&info);
        // Staged outside target_dir: unverified bytes never appear there.
        let (mut file, staged_path, kept) = match partial_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
                let digest = info
                    .hashes
                    .sha256
                    .map(|d| hex(&d))
                    .unwrap_or_else(|| info.hashes.sha512.map(|d| hex(&d)).unwrap_or_default());
                let path = dir.join(format!("{digest}.part"));
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .read(true)
                    .open(&path)
                    .map_err(Error::io(&path))?;
                let mut kept = file.metadata().map_err(Error::io(&path))?.len();
                let whole = kept > 0 && kept < info.length && {
                    let reader = std::fs::File::open(&path).map_err(Error::io(&path))?;
                    crate::persist::each_chunk(reader, |chunk| check.update(chunk).is_ok())
                };
                if !whole {
                    file.set_len(0).map_err(Error::io(&path))?;
                    check = TargetVerifier::new(&info);
                    kept = 0;
                }
                (file, path, kept)
            }
            None => {
                let staged =
                    tempfile::NamedTempFile::new().map_err(Error::io(std::env::temp_dir()))?;
                let (file, path) = staged.keep().map_err(|e| Error::Io {
                    path: local.clone(),
                    source: e.error,
                })?;
                (file, path, 0)
            }
        };
        if kept > 0 {
            tracing::info!(
                "{target_path}: resuming from byte {kept} of {}",
                info.length
            );
        }
        let mut on = |event: fetch::Received<'_>| match event {
            fetch::Received::Restart => {
                tracing::info!("{target_path}: the server sent the whole file again");
                file.set_len(0).map_err(Error::io(&staged_path))?;
                check = TargetVerifier::new(&info);
                Ok(())
            }
            fetch::Received::Chunk(chunk) => {
                check.update(chunk).map_err(Error::verify(target_path))?;
                file.write_all(chunk).map_err(Error::io(&staged_path))
            }
        };
        let got = match self
            .fetcher
            .stream_from(&url, kept, info.length, &mut on)
            .await
        {
            Ok(Some(_)) => check.finish().map_err(Error::verify(target_path)),
            Ok(None) => Err(Error::Http { url, status: 404 }),
            Err(e) => Err(e),
        };
        if let Err(e) = got {
            // A cut transfer is kept for a resumption (when there is a partial folder); what
            // does not verify is never kept.
            if partial_dir.is_none() || matches!(e, Error::Verify { .. }) {
                let _ = std::fs::remove_file(&staged_path);
            }
            return Err(e);
        }
        file.sync_all().map_err(Error::io(&staged_path))?;
        move_into_place(&staged_path, &local)?;
        Ok(local)
    }
}

/// Whether `path` holds exactly the target `info` describes.
fn matches_file(path: &Path, info: &TargetFile) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut check = TargetVerifier::new(info);
    // Streamed: a firmware image is never held in memory.
    let ok = crate::persist::each_chunk(file, |chunk| check.update(chunk).is_ok());
    ok && check.finish().is_ok()
}
