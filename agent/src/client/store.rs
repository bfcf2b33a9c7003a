//! The local metadata store: the exact bytes of every trusted file, under non-versioned names
//! (`root.json`, `timestamp.json`, `snapshot.json`, `targets.json`, `<percent-encoded role>.json`),
//! written atomically and only after verification. Nothing else with a `.json` name lives there.

use crate::error::{Error, Result};
use crate::persist::write_atomic;
use std::path::{Path, PathBuf};

/// A metadata folder.
pub struct MetadataStore {
    dir: PathBuf,
}

/// The file name of a role (`root` -> `root.json`, `a/b` -> `a%2Fb.json`).
pub fn file_name(role: &str, version: Option<u64>) -> String {
    let mut name = String::new();
    // Writing to a String cannot fail.
    let _ = otuf_core::metadata::write_file_name(&mut name, role, version);
    name
}

impl MetadataStore {
    /// The store in `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The path of a role's file.
    pub fn path(&self, role: &str) -> PathBuf {
        self.dir.join(file_name(role, None))
    }

    /// The trusted bytes of `role`, if stored.
    pub fn read(&self, role: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(role)).ok()
    }

    /// Stores verified bytes of `role`.
    pub fn write(&self, role: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path(role), bytes)
    }
}
