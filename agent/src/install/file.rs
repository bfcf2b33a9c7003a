//! The `file` installer: the image replaces one file atomically (temporary file, fsync,
//! rename, fsync directory), so after a power cut at any instant the file is the old image or
//! the new one, whole. The old one is kept as `<file>.previous` first, for a rollback.

use crate::error::{Error, Result};
use crate::persist::{copy_atomic, move_into_place};
use std::path::{Path, PathBuf};

/// Where the image replaced by the last installation is kept.
pub fn previous(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".previous");
    PathBuf::from(p)
}

/// Installs the verified, staged image `staged` as `path`.
pub fn install(staged: &Path, path: &Path) -> Result<()> {
    if path.exists() {
        keep_previous(path)?;
    }
    move_into_place(staged, path)
}

/// Puts the kept previous image back (after a failed post-install hook or health check).
pub fn roll_back(path: &Path) -> Result<()> {
    let prev = previous(path);
    if !prev.exists() {
        return Err(Error::Usage(format!(
            "{}: no previous image to roll back to",
            prev.display()
        )));
    }
    // Copied, not moved: the kept image stays until the next installation replaces it.
    copy_atomic(&prev, path)
}

/// Copies the installed image to `<path>.previous` (atomically: a power cut leaves the old
/// kept image or the new one).
fn keep_previous(path: &Path) -> Result<()> {
    copy_atomic(path, &previous(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_replaces_the_file_and_the_old_one_can_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let fw = dir.path().join("firmware.bin");
        let staged = dir.path().join("staged");
        std::fs::write(&staged, b"v1").unwrap();
        install(&staged, &fw).unwrap();
        assert_eq!(std::fs::read(&fw).unwrap(), b"v1");
        assert!(!previous(&fw).exists(), "nothing was there before");
        std::fs::write(&staged, b"v2").unwrap();
        install(&staged, &fw).unwrap();
        assert_eq!(std::fs::read(&fw).unwrap(), b"v2");
        assert_eq!(std::fs::read(previous(&fw)).unwrap(), b"v1");
        roll_back(&fw).unwrap();
        assert_eq!(std::fs::read(&fw).unwrap(), b"v1");
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with(".otuf-")), "{names:?}");
        let other = dir.path().join("other.bin");
        assert!(roll_back(&other)
            .unwrap_err()
            .to_string()
            .contains("no previous image"));
    }
}
