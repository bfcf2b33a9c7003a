//! Shared helpers for otuf's cross-crate and interop tests: a driver that runs the otuf-core
//! client workflow against a repository laid out in a folder, as a device would over HTTP.

pub mod repo_service;
pub mod server;

use otuf_core::client::{Client, Next, Role};
use otuf_core::limits::Limits;
use otuf_core::metadata::TargetFile;
use otuf_core::search::{Search, SearchStep};
use otuf_core::time::UnixTime;
use otuf_core::{Error, RoleKind};
use std::fs;
use std::path::{Path, PathBuf};

/// The repository's `tests/fixtures` folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// How metadata is handed to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Whole files in memory.
    General,
    /// Read once through a chunk buffer of this many bytes.
    Streaming(usize),
}

/// A failure: the check's name and the role's name (delegated roles by their own name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: String,
    pub role: String,
    pub error: Error,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.error, self.role)
    }
}

fn fail(error: Error, role: &str) -> Failure {
    let role = match error.role() {
        RoleKind::Delegated | RoleKind::None | RoleKind::Target => role.to_string(),
        r => r.name().to_string(),
    };
    Failure {
        kind: error.kind().name().to_string(),
        role,
        error,
    }
}

/// A repository in a folder: `metadata/`, `targets/` and optionally `local/` (the client's cache).
pub struct DirRepo {
    pub dir: PathBuf,
    pub mode: Mode,
}

/// Versions trusted after a refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub root: u64,
    pub timestamp: u64,
    pub snapshot: u64,
    pub targets: u64,
}

impl DirRepo {
    fn read(&self, sub: &str, name: &str) -> Option<Vec<u8>> {
        fs::read(self.dir.join(sub).join(name)).ok()
    }

    fn name(role: &str, version: Option<u64>) -> String {
        let mut name = String::new();
        // Writing to a String cannot fail.
        let _ = otuf_core::metadata::write_file_name(&mut name, role, version);
        name
    }

    fn feed(&self, client: &mut Client, bytes: &[u8]) -> Result<(), Error> {
        match self.mode {
            Mode::General => client.handle(bytes).map(|_| ()),
            Mode::Streaming(n) => client.handle_stream(bytes, &mut vec![0u8; n]).map(|_| ()),
        }
    }

    /// Runs a refresh (root chain, timestamp, snapshot, targets) at time `now`.
    pub fn refresh(&self, trusted_root: &[u8], now: i64) -> Result<Client, Failure> {
        let mut client = Client::new(trusted_root, UnixTime(now), Limits::default())
            .map_err(|e| fail(e, "root"))?;
        loop {
            let next = client.next().map_err(|e| fail(e, "targets"))?;
            let Next::Fetch { role, version, .. } = next else {
                return Ok(client);
            };
            let role_name = role.name();
            let file = Self::name(
                role_name,
                if role == Role::Timestamp {
                    None
                } else {
                    version
                },
            );
            let r = (|| {
                if role == Role::Root {
                    let Some(bytes) = self.read("metadata", &file) else {
                        return client.not_found();
                    };
                    return match self.mode {
                        Mode::General => client.handle(&bytes).map(|_| ()),
                        Mode::Streaming(n) => client
                            .handle_root_stream(|| &bytes[..], &mut vec![0u8; n])
                            .map(|_| ()),
                    };
                }
                if let Some(local) = self.read("local", &format!("{role_name}.json")) {
                    // A cache that no longer verifies is not an error: fetch instead.
                    if client.offer_local(&local).unwrap_or(false) {
                        return Ok(());
                    }
                }
                let bytes = self.read("metadata", &file).ok_or(Error::new(
                    otuf_core::ErrorKind::Io,
                    otuf_core::Field::NotFound,
                ))?;
                self.feed(&mut client, &bytes)
            })();
            r.map_err(|e| fail(e.in_role(client.current_role()), role_name))?;
        }
    }

    /// Searches a target and checks the served file against what the search found. Returns
    /// the role that listed it and its info, or `None` when no role lists it.
    pub fn fetch_target(
        &self,
        client: &Client,
        path: &str,
    ) -> Result<Option<(String, TargetFile)>, Failure> {
        let Some((last_role, info)) = self.find_target(client, path)? else {
            return Ok(None);
        };
        let consistent = client.trusted().root().consistent_snapshot;
        let served = if consistent {
            let (dir, base) = path.rsplit_once('/').map_or(("", path), |(d, b)| (d, b));
            let digest = info.hashes.sha256.map(hex).unwrap_or_default();
            let name = if dir.is_empty() {
                format!("{digest}.{base}")
            } else {
                format!("{dir}/{digest}.{base}")
            };
            self.dir.join("targets").join(name)
        } else {
            self.dir.join("targets").join(path)
        };
        let data = fs::read(&served).map_err(|_| {
            fail(
                Error::new(otuf_core::ErrorKind::Io, otuf_core::Field::Target),
                &last_role,
            )
        })?;
        let mut v = otuf_core::metadata::TargetVerifier::new(&info);
        for chunk in data.chunks(1000) {
            v.update(chunk).map_err(|e| fail(e, &last_role))?;
        }
        v.finish().map_err(|e| fail(e, &last_role))?;
        Ok(Some((last_role, info)))
    }

    /// Searches a target through the delegations: the role that lists it and its info, or
    /// `None` when no role lists it.
    pub fn find_target(
        &self,
        client: &Client,
        path: &str,
    ) -> Result<Option<(String, TargetFile)>, Failure> {
        let mut search = Search::new(client.trusted(), path).map_err(|e| fail(e, "targets"))?;
        let mut last_role = String::from("targets");
        let info = loop {
            let pending = search.pending().unwrap_or("targets").to_string();
            match search.next().map_err(|e| fail(e, &pending))? {
                SearchStep::NotFound => return Ok(None),
                SearchStep::Found(info) => break info.clone(),
                SearchStep::Fetch { role, version, .. } => {
                    last_role = role.to_string();
                    let bytes = self
                        .read("metadata", &Self::name(role, version))
                        .ok_or_else(|| {
                            fail(
                                Error::new(otuf_core::ErrorKind::Io, otuf_core::Field::NotFound),
                                role,
                            )
                        })?;
                    let r = match self.mode {
                        Mode::General => search.handle(&bytes),
                        Mode::Streaming(n) => search.handle_stream(&bytes[..], &mut vec![0u8; n]),
                    };
                    r.map_err(|e| fail(e, &last_role))?;
                }
            }
        };
        Ok(Some((last_role, info)))
    }
}

/// Lower-case hex.
pub fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The versions a client trusts after a refresh.
pub fn versions(client: &Client) -> Versions {
    let t = client.trusted();
    Versions {
        root: t.root().common.version,
        timestamp: t.timestamp().map_or(0, |x| x.common.version),
        snapshot: t.snapshot().map_or(0, |x| x.common.version),
        targets: t.targets().map_or(0, |x| x.version),
    }
}

/// Reads a case's trusted root.
pub fn trusted_root(dir: &Path) -> Vec<u8> {
    fs::read(dir.join("trusted_root.json")).expect("trusted_root.json")
}

/// A workspace binary built beside this test (`cargo build --workspace` builds them).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace` first",
        bin.display()
    );
    bin
}

/// The repository's Python venv interpreter (tests/run.sh creates it).
pub fn python() -> PathBuf {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run tests/run.sh (it creates the venv)",
        py.display()
    );
    py
}
