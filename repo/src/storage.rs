//! Where metadata and artifacts are kept and served from, by key (`metadata/<file>`,
//! `targets/<path>`): a local folder (the default: the data folder, files written and fsynced
//! under temporary names, then renamed) or an S3-compatible object store through `object_store`
//! (`s3://bucket/prefix`), whose writes are atomic per object. Several service processes share
//! an object store; a local folder belongs to one.

use crate::error::{Error, Result};
use bytes::Bytes;
use object_store::{path::Path as Key, ObjectStore, PutPayload};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The storage of one repository.
#[derive(Clone)]
pub enum Storage {
    /// A local folder.
    Local(PathBuf),
    /// An S3-compatible object store (`object_store`), under an optional prefix.
    Object {
        /// The bucket.
        store: Arc<dyn ObjectStore>,
        /// Keys start with this (no trailing `/`; may be empty).
        prefix: String,
        /// What `--storage` said, for messages.
        url: String,
    },
}

/// Files written but not yet in place: staged while the new state is verified, put in place
/// once it has (see [`Storage::stage`]).
pub enum Staged<'a> {
    /// Written and fsynced under temporary names.
    Local(Vec<(&'a String, tempfile::NamedTempFile)>),
    /// Uploaded when persisted (an object appears whole or not at all).
    Object(&'a [(String, Vec<u8>)]),
}

impl Storage {
    /// The storage `url` names: `s3://bucket[/prefix]` (options as query parameters, by their
    /// `object_store` names: `endpoint`, `region`, `allow_http`, ...; credentials from the
    /// environment, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`), or a local folder.
    pub fn open(url: Option<&str>, data_dir: &Path) -> Result<Self> {
        let Some(url) = url else {
            return Ok(Self::Local(data_dir.to_path_buf()));
        };
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(Self::Local(path.into()));
        }
        let bad = |why: String| Error::State(format!("storage {url}: {why}"));
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(bad("a storage URL is s3://bucket/prefix or file:///folder".into()));
        };
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket".into()));
        }
        let mut builder =
            object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
            let key: object_store::aws::AmazonS3ConfigKey = k
                .parse()
                .map_err(|_| bad(format!("unknown option {k}")))?;
            builder = builder.with_config(key, v);
        }
        let store = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(Self::Object {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            url: url.split('?').next().unwrap_or(url).to_string(),
        })
    }

    /// Whether several processes can share it.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Object { .. })
    }

    /// The local folder of `dir` (`metadata`, `targets`), created.
    pub fn local_dir(&self, dir: &str) -> Option<PathBuf> {
        match self {
            Self::Local(root) => Some(root.join(dir)),
            Self::Object { .. } => None,
        }
    }

    /// The object's key under the prefix, as it is (`Key::from` would percent-encode
    /// non-ASCII names, which other S3 clients, devices among them, would then not find).
    fn key(prefix: &str, key: &str) -> Result<Key, object_store::path::Error> {
        if prefix.is_empty() {
            Key::parse(key)
        } else {
            Key::parse(format!("{prefix}/{key}"))
        }
    }

    fn at(&self, prefix: &str, key: &str) -> Result<Key> {
        Self::key(prefix, key).map_err(|e| self.failed(key)(e.into()))
    }

    fn failed(&self, key: &str) -> impl FnOnce(object_store::Error) -> Error + '_ {
        let key = key.to_string();
        move |e| Error::Storage {
            key,
            url: match self {
                Self::Object { url, .. } => url.clone(),
                Self::Local(p) => p.display().to_string(),
            },
            error: e.to_string(),
        }
    }

    /// Makes the folders of a local storage.
    pub fn create(&self) -> Result<()> {
        if let Self::Local(root) = self {
            for d in [root.clone(), root.join("metadata"), root.join("targets")] {
                std::fs::create_dir_all(&d).map_err(Error::io(d.display()))?;
            }
            // Files a crash left staged were never referenced.
            let metadata = root.join("metadata");
            for entry in std::fs::read_dir(&metadata)
                .map_err(Error::io(metadata.display()))?
                .flatten()
            {
                if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    /// The object at `key`, if there is one.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Self::Local(root) => match std::fs::read(root.join(key)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(key)(e)),
            },
            Self::Object { store, prefix, .. } => {
                let at = self.at(prefix, key)?;
                crate::blocking::run(async {
                    match store.get(&at).await {
                        Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())),
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .map_err(self.failed(key))
            }
        }
    }

    /// Whether there is an object at `key`.
    pub fn exists(&self, key: &str) -> Result<bool> {
        match self {
            Self::Local(root) => Ok(root.join(key).exists()),
            Self::Object { store, prefix, .. } => {
                let at = self.at(prefix, key)?;
                crate::blocking::run(async {
                    match store.head(&at).await {
                        Ok(_) => Ok(true),
                        Err(object_store::Error::NotFound { .. }) => Ok(false),
                        Err(e) => Err(e),
                    }
                })
                .map_err(self.failed(key))
            }
        }
    }

    /// Replaces the object at `key` with `bytes`, atomically: readers see the old object or
    /// the new one, never a part.
    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Self::Local(root) => {
                let path = root.join(key);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(Error::io(dir.display()))?;
                }
                crate::publish::write_atomic(&path, bytes)
            }
            Self::Object { store, prefix, .. } => {
                let at = self.at(prefix, key)?;
                let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
                crate::blocking::run(store.put(&at, payload))
                    .map(|_| ())
                    .map_err(self.failed(key))
            }
        }
    }

    /// Puts the local file `from` at `key` (an upload staged on local disk), then removes it.
    pub async fn put_file(&self, key: &str, from: tempfile::NamedTempFile) -> Result<()> {
        match self {
            Self::Local(root) => {
                let path = root.join(key);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(Error::io(dir.display()))?;
                }
                from.persist(&path).map_err(|e| Error::Io {
                    path: path.display().to_string(),
                    source: e.error,
                })?;
                Ok(())
            }
            Self::Object { store, prefix, .. } => {
                use tokio::io::AsyncReadExt;
                let at = self.at(prefix, key)?;
                let mut file = tokio::fs::File::open(from.path())
                    .await
                    .map_err(Error::io(key))?;
                let upload = store.put_multipart(&at).await.map_err(self.failed(key))?;
                let mut writer = object_store::WriteMultipart::new(upload);
                let mut buf = vec![0; 1 << 20];
                loop {
                    let n = file.read(&mut buf).await.map_err(Error::io(key))?;
                    if n == 0 {
                        break;
                    }
                    writer.write(&buf[..n]);
                }
                writer.finish().await.map_err(self.failed(key))?;
                Ok(())
            }
        }
    }

    /// Removes the object at `key` (nothing if there is none).
    pub fn delete(&self, key: &str) -> Result<()> {
        match self {
            Self::Local(root) => match std::fs::remove_file(root.join(key)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(key)(e)),
                _ => Ok(()),
            },
            Self::Object { store, prefix, .. } => {
                let at = self.at(prefix, key)?;
                crate::blocking::run(async {
                    match store.delete(&at).await {
                        Err(object_store::Error::NotFound { .. }) => Ok(()),
                        r => r,
                    }
                })
                .map_err(self.failed(key))
            }
        }
    }

    /// The names of the objects directly in `dir` (`metadata`).
    pub fn list(&self, dir: &str) -> Result<Vec<String>> {
        match self {
            Self::Local(root) => {
                let path = root.join(dir);
                Ok(std::fs::read_dir(&path)
                    .map_err(Error::io(path.display()))?
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| !n.starts_with(".tmp-"))
                    .collect())
            }
            Self::Object { store, prefix, .. } => {
                let at = self.at(prefix, dir)?;
                crate::blocking::run(async {
                    store
                        .list_with_delimiter(Some(&at))
                        .await
                        .map(|l| l.objects.into_iter().filter_map(|o| o.location.filename().map(String::from)).collect())
                })
                .map_err(self.failed(dir))
            }
        }
    }

    /// The objects directly in `dir`, with when each was last written.
    pub fn list_modified(&self, dir: &str) -> Result<Vec<(String, std::time::SystemTime)>> {
        match self {
            Self::Local(root) => {
                let path = root.join(dir);
                Ok(std::fs::read_dir(&path)
                    .map_err(Error::io(path.display()))?
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().into_string().ok()?;
                        let modified = e.metadata().ok()?.modified().ok()?;
                        (!name.starts_with(".tmp-")).then_some((name, modified))
                    })
                    .collect())
            }
            Self::Object { store, prefix, .. } => {
                use futures_util::stream::TryStreamExt;
                let at = self.at(prefix, dir)?;
                crate::blocking::run(async {
                    store
                        .list(Some(&at))
                        .map_ok(|o| {
                            let secs = o.last_modified.timestamp().max(0) as u64;
                            let name = o.location.filename().unwrap_or_default().to_string();
                            (o.location, name, std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
                        })
                        .try_collect::<Vec<_>>()
                        .await
                })
                .map(|all| {
                    // Directly in `dir` only (list is recursive).
                    all.into_iter()
                        .filter(|(loc, _, _)| loc.prefix_match(&at).is_some_and(|mut p| p.next().is_some() && p.next().is_none()))
                        .map(|(_, n, t)| (n, t))
                        .collect()
                })
                .map_err(self.failed(dir))
            }
        }
    }

    /// Stages `files` (`(key, bytes)`): a local folder writes and fsyncs them, in parallel, under
    /// temporary names; an object store keeps them for [`persist`](Self::persist).
    pub fn stage<'a>(&self, dir: &str, files: &'a [(String, Vec<u8>)]) -> Result<Staged<'a>> {
        match self {
            Self::Local(root) => crate::publish::stage_durably(&root.join(dir), files).map(Staged::Local),
            Self::Object { .. } => Ok(Staged::Object(files)),
        }
    }

    /// Puts staged files in place under their names in `dir`. Nothing refers to them until
    /// `timestamp.json` is replaced afterwards, so a crash in between leaves the old state intact.
    pub fn persist(&self, dir: &str, staged: Staged<'_>) -> Result<()> {
        match (self, staged) {
            (Self::Local(root), Staged::Local(files)) => {
                crate::publish::persist_staged(&root.join(dir), files)
            }
            (Self::Object { store, prefix, .. }, Staged::Object(files)) => {
                use futures_util::stream::{StreamExt, TryStreamExt};
                crate::blocking::run(
                    futures_util::stream::iter(files.iter().map(|(name, bytes)| {
                        let at = Self::key(prefix, &format!("{dir}/{name}"));
                        let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
                        async move {
                            let at = at.map_err(|e| (name, e.into()))?;
                            store.put(&at, payload).await.map(|_| ()).map_err(|e| (name, e))
                        }
                    }))
                    .buffer_unordered(32)
                    .try_collect::<Vec<()>>(),
                )
                .map(|_| ())
                .map_err(|(name, e)| self.failed(&format!("{dir}/{name}"))(e))
            }
            _ => Err(Error::State("staged on another storage".into())),
        }
    }

    /// `GET /metadata/<name>` or `/targets/<path>` from an object store: the object, streamed.
    pub async fn serve(&self, key: &str) -> axum::response::Response {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let Self::Object { store, prefix, .. } = self else {
            return StatusCode::NOT_FOUND.into_response();
        };
        if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
            return StatusCode::NOT_FOUND.into_response();
        }
        let Ok(at) = Self::key(prefix, key) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        match store.get(&at).await {
            Ok(r) => {
                let length = r.meta.size;
                let body = axum::body::Body::from_stream(r.into_stream());
                (
                    [
                        (axum::http::header::CONTENT_LENGTH, length.to_string()),
                        (
                            axum::http::header::CONTENT_TYPE,
                            if key.ends_with(".json") { "application/json" } else { "application/octet-stream" }.to_string(),
                        ),
                    ],
                    body,
                )
                    .into_response()
            }
            Err(object_store::Error::NotFound { .. }) => StatusCode::NOT_FOUND.into_response(),
            Err(e) => {
                tracing::error!("storage: {key}: {e}");
                StatusCode::BAD_GATEWAY.into_response()
            }
        }
    }
}
