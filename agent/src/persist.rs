//! Durable, atomic file replacement: write a temporary file beside the target, fsync it,
//! rename it over the target, fsync the directory. After a power cut at any instant the file
//! holds either the old or the new bytes, never a mix.

use crate::error::{Error, Result};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

/// Atomically replaces `path` with `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, |tmp, at| tmp.write_all(bytes).map_err(Error::io(at)))
}

/// Replaces `path` with what `fill` writes into a temporary file beside it: fsync, rename,
/// fsync the directory.
fn replace(path: &Path, fill: impl FnOnce(&mut File, &Path) -> Result<()>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".otuf-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(Error::io(dir))?;
    let at = tmp.path().to_path_buf();
    fill(tmp.as_file_mut(), &at)?;
    readable(tmp.as_file(), &at)?;
    tmp.as_file().sync_all().map_err(Error::io(&at))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dir)
}

/// Moves a complete, already synced file into place atomically (same file system), or copies
/// it there through a temporary file when `from` lives on another file system.
pub fn move_into_place(from: &Path, to: &Path) -> Result<()> {
    if fs::rename(from, to).is_err() {
        copy_atomic(from, to)?;
        let _ = fs::remove_file(from);
        return Ok(());
    }
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

/// Atomically replaces `to` with a copy of `from` (temporary file beside `to`, fsync, rename,
/// fsync directory): a power cut leaves the old `to` or the whole copy.
pub fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let mut src = File::open(from).map_err(Error::io(from))?;
    replace(to, |tmp, at| {
        std::io::copy(&mut src, tmp)
            .map(drop)
            .map_err(Error::io(at))
    })
}

/// Public files are world-readable like any other file the agent writes (temporary files start
/// private).
pub fn readable(file: &File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(Error::io(path))
}

/// Makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

/// Feeds `file` to `f` in 64 KiB chunks, while `f` says to go on; whether it read to the end.
pub fn each_chunk(mut file: File, mut f: impl FnMut(&[u8]) -> bool) -> bool {
    use std::io::Read;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                if !buf.get(..n).is_some_and(&mut f) {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}
