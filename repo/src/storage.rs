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
    Local(LocalStaged<'a>),
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
            return Err(bad(
                "a storage URL is s3://bucket/prefix or file:///folder".into()
            ));
        };
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket".into()));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
            let key: object_store::aws::AmazonS3ConfigKey =
                k.parse().map_err(|_| bad(format!("unknown option {k}")))?;
            builder = builder.with_config(key, v);
        }
        let store = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(Self::Object {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            url: url.split('?').next().unwrap_or(url).to_string(),
        })
    }

    /// The local folder of `dir` (`metadata`, `targets`), for a local storage.
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
                write_atomic(&path, bytes)
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

    /// The objects directly in `dir` (`metadata`), with when each was last written.
    pub fn list(&self, dir: &str) -> Result<Vec<(String, std::time::SystemTime)>> {
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
                let at = self.at(prefix, dir)?;
                let listed = crate::blocking::run(store.list_with_delimiter(Some(&at)))
                    .map_err(self.failed(dir))?;
                Ok(listed
                    .objects
                    .into_iter()
                    .filter_map(|o| {
                        let secs = u64::try_from(o.last_modified.timestamp()).unwrap_or(0);
                        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                        Some((o.location.filename()?.to_string(), at))
                    })
                    .collect())
            }
        }
    }

    /// Stages `files` (`(key, bytes)`): a local folder writes and fsyncs them, in parallel, under
    /// temporary names; an object store keeps them for [`persist`](Self::persist).
    pub fn stage<'a>(&self, dir: &str, files: &'a [(String, Vec<u8>)]) -> Result<Staged<'a>> {
        match self {
            Self::Local(root) => stage_durably(&root.join(dir), files).map(Staged::Local),
            Self::Object { .. } => Ok(Staged::Object(files)),
        }
    }

    /// Puts staged files in place under their names in `dir`. Nothing refers to them until
    /// `timestamp.json` is replaced afterwards, so a crash in between leaves the old state intact.
    pub fn persist(&self, dir: &str, staged: Staged<'_>) -> Result<()> {
        match (self, staged) {
            (Self::Local(root), Staged::Local(files)) => persist_staged(&root.join(dir), files),
            (Self::Object { store, prefix, .. }, Staged::Object(files)) => {
                use futures_util::stream::{StreamExt, TryStreamExt};
                crate::blocking::run(
                    futures_util::stream::iter(files.iter().map(|(name, bytes)| {
                        let at = Self::key(prefix, &format!("{dir}/{name}"));
                        let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
                        async move {
                            let at = at.map_err(|e| (name, e.into()))?;
                            store
                                .put(&at, payload)
                                .await
                                .map(|_| ())
                                .map_err(|e| (name, e))
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

    /// `GET /metadata/<name>` or `/targets/<path>` from an object store: the object, streamed,
    /// or the part a `Range: bytes=...` header asks for (a device resuming a download).
    pub async fn serve(&self, key: &str, range: Option<&str>) -> axum::response::Response {
        use axum::http::{header, StatusCode};
        use axum::response::IntoResponse;
        let Self::Object { store, prefix, .. } = self else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let Ok(at) = Self::key(prefix, key) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let wanted = range.and_then(byte_range);
        let options = object_store::GetOptions {
            range: wanted.clone(),
            ..Default::default()
        };
        let kind = if key.ends_with(".json") {
            "application/json"
        } else {
            "application/octet-stream"
        };
        match store.get_opts(&at, options).await {
            Ok(r) => {
                let (total, part) = (r.meta.size, r.range.clone());
                let mut headers = vec![
                    (header::CONTENT_LENGTH, (part.end - part.start).to_string()),
                    (header::CONTENT_TYPE, kind.to_string()),
                    (header::ACCEPT_RANGES, "bytes".to_string()),
                ];
                let status = if wanted.is_some() {
                    let last = part.end.saturating_sub(1);
                    headers.push((
                        header::CONTENT_RANGE,
                        format!("bytes {}-{last}/{total}", part.start),
                    ));
                    StatusCode::PARTIAL_CONTENT
                } else {
                    StatusCode::OK
                };
                let body = axum::body::Body::from_stream(r.into_stream());
                let mut response = (status, body).into_response();
                for (name, value) in headers {
                    if let Ok(v) = value.parse() {
                        response.headers_mut().insert(name, v);
                    }
                }
                response
            }
            Err(object_store::Error::NotFound { .. }) => StatusCode::NOT_FOUND.into_response(),
            // A range past the end (S3 answers 416; object_store reports it as a bad range).
            Err(e) if wanted.is_some() && e.to_string().contains("ange") => {
                StatusCode::RANGE_NOT_SATISFIABLE.into_response()
            }
            Err(e) => {
                tracing::error!("storage: {key}: {e}");
                StatusCode::BAD_GATEWAY.into_response()
            }
        }
    }
}

/// New versioned files, written and fsynced in parallel under temporary names (concurrent
/// fsyncs share journal commits); nothing refers to them yet.
type LocalStaged<'a> = Vec<(&'a String, tempfile::NamedTempFile)>;

fn stage_durably<'a>(dir: &Path, files: &'a [(String, Vec<u8>)]) -> Result<LocalStaged<'a>> {
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
    Ok(staged)
}

/// Renames staged files into place, then one directory fsync. Nothing refers to them until
/// `timestamp.json` is replaced afterwards, so a crash in between leaves the old state intact.
fn persist_staged(dir: &Path, staged: LocalStaged<'_>) -> Result<()> {
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

/// A `Range` header's single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); `None` for
/// anything else, which is then served whole, as HTTP allows.
fn byte_range(header: &str) -> Option<object_store::GetRange> {
    use object_store::GetRange;
    let spec = header.trim().strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    match (first.trim(), last.trim()) {
        ("", n) => n.parse().ok().filter(|n| *n > 0).map(GetRange::Suffix),
        (a, "") => a.parse().ok().map(GetRange::Offset),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some(GetRange::Bounded(a..b.checked_add(1)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use object_store::GetRange;

    #[test]
    fn byte_ranges_are_read_as_http_means_them() {
        assert_eq!(
            super::byte_range("bytes=0-99"),
            Some(GetRange::Bounded(0..100))
        );
        assert_eq!(super::byte_range("bytes=100-"), Some(GetRange::Offset(100)));
        assert_eq!(super::byte_range("bytes=-5"), Some(GetRange::Suffix(5)));
        for bad in [
            "bytes=9-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=-0",
            "bytes=a-",
        ] {
            assert_eq!(super::byte_range(bad), None, "{bad}");
        }
    }
}
