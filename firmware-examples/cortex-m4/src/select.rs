//! What to install, decided from the target's signed `custom` fields, read with otuf-core's
//! [`TargetFile::custom_str`]: the selection needs no JSON parser of its own and no heap.

use otuf_core::metadata::TargetFile;

/// A `MAJOR.MINOR.PATCH` version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Parses `MAJOR.MINOR.PATCH` (no pre-release: a device installs releases).
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = [0u32; 3];
        let mut n = 0;
        for part in s.split('.') {
            let slot = parts.get_mut(n)?;
            if part.is_empty() || part.len() > 9 {
                return None;
            }
            for b in part.bytes() {
                if !b.is_ascii_digit() {
                    return None;
                }
                *slot = *slot * 10 + u32::from(b - b'0');
            }
            n += 1;
        }
        (n == 3).then_some(Version(parts[0], parts[1], parts[2]))
    }
}

/// The device's decision about a verified target.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Newer and meant for this device: download and install it.
    Install(Version),
    /// Not newer than what runs: nothing to do (a downgrade is never taken here).
    UpToDate(Version),
    /// Refused, with the field and the reason.
    Refuse(&'static str),
}

/// Decides from `target`'s `custom` for a device of `hardware` running `installed`.
pub fn decide(target: &TargetFile, hardware: &str, installed: Version) -> Decision {
    let (Some(version), Some(built_for)) =
        (target.custom_str("version"), target.custom_str("hardware"))
    else {
        return Decision::Refuse("custom: no string version and hardware");
    };
    if built_for != hardware {
        return Decision::Refuse("custom.hardware: built for another hardware model");
    }
    let Some(version) = Version::parse(version) else {
        return Decision::Refuse("custom.version: not MAJOR.MINOR.PATCH");
    };
    if let Some(min) = target.custom_str("min_version") {
        match Version::parse(min) {
            Some(min) if installed >= min => {}
            Some(_) => return Decision::Refuse("custom.min_version: newer than what runs"),
            None => return Decision::Refuse("custom.min_version: not MAJOR.MINOR.PATCH"),
        }
    }
    if version > installed {
        Decision::Install(version)
    } else {
        Decision::UpToDate(version)
    }
}
