//! The `ab` installer: two slots (files, or block devices), one running, one free. The image is
//! written to the free slot and read back against its verified hash; only then is the
//! bootloader told to boot it (`switch_command`). After the reboot the health check decides: the
//! slot is confirmed (`confirm_command`), or the bootloader is switched back to the old slot.
//! The running slot is never written, so a power cut at any instant leaves a device that boots.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

/// The slots' names, as `{slot}` stands in the commands.
pub const NAMES: [&str; 2] = ["a", "b"];

/// The other slot.
pub fn other(slot: &str) -> &'static str {
    if slot == "b" {
        "a"
    } else {
        "b"
    }
}

/// `command` with `{slot}` and `{path}` replaced.
pub fn expand(command: &[String], slot: &str, path: &Path) -> Vec<String> {
    command
        .iter()
        .map(|a| {
            a.replace("{slot}", slot)
                .replace("{path}", &path.display().to_string())
        })
        .collect()
}

/// Writes the verified image `staged` to `slot` and reads it back: the first `length` bytes
/// of the slot must have the image's SHA-256 (a block device is larger than the image).
pub fn write_slot(staged: &Path, slot: &Path, length: u64, sha256: &str) -> Result<()> {
    let mut src = std::fs::File::open(staged).map_err(Error::io(staged))?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(slot)
        .map_err(Error::io(slot))?;
    let regular = dst.metadata().map_err(Error::io(slot))?.is_file();
    std::io::copy(&mut src, &mut dst).map_err(Error::io(slot))?;
    if regular {
        dst.set_len(length).map_err(Error::io(slot))?;
    }
    dst.flush().map_err(Error::io(slot))?;
    dst.sync_all().map_err(Error::io(slot))?;
    drop(dst);
    // Read back what the slot holds now, not what was written.
    let mut back = std::fs::File::open(slot)
        .map_err(Error::io(slot))?
        .take(length);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0u64;
    loop {
        let n = back.read(&mut buf).map_err(Error::io(slot))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        read += n as u64;
    }
    let got: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if read != length || got != sha256 {
        return Err(Error::Usage(format!(
            "{}: reading the slot back gave {read} bytes with SHA-256 {got}, not the verified image ({length} bytes, {sha256}); not switched",
            slot.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_holds_exactly_the_image_once_written() {
        let dir = tempfile::tempdir().unwrap();
        let (staged, slot) = (dir.path().join("img"), dir.path().join("slot-b"));
        std::fs::write(&slot, vec![0xff; 4096]).unwrap(); // an old, longer image
        std::fs::write(&staged, b"new image").unwrap();
        let sha: String = Sha256::digest(b"new image")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        write_slot(&staged, &slot, 9, &sha).unwrap();
        assert_eq!(std::fs::read(&slot).unwrap(), b"new image");
        let e = write_slot(&staged, &slot, 9, &"00".repeat(32))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not switched"), "{e}");
        assert_eq!(
            expand(&["sw".into(), "{slot}".into(), "{path}".into()], "b", &slot),
            ["sw".to_string(), "b".into(), slot.display().to_string()]
        );
        assert_eq!((other("a"), other("b")), ("b", "a"));
    }
}
