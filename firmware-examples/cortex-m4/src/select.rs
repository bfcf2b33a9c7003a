//! What to install, decided from the target's signed `custom` fields: read with
//! serde-json-core into a fixed-size struct, so the whole selection runs without a heap.
//!
//! Strings are taken as they stand between their quotes. otuf-core hands over `custom` in
//! canonical form, where only `"` and `\` are escaped, and no version or hardware name holds
//! either: a name with one simply matches nothing.

use serde::Deserialize;

/// The fields otuf-repo's artifacts carry (others are ignored).
#[derive(Deserialize)]
struct Custom {
    version: heapless::String<24>,
    hardware: heapless::String<32>,
    #[serde(default)]
    min_version: Option<heapless::String<24>>,
}

/// A `MAJOR.MINOR.PATCH` version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Parses `MAJOR.MINOR.PATCH` (no pre-release: a device installs releases).
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('.').map(|p| {
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        });
        let v = Version(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(v)
    }
}

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
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

/// Decides from `custom` (canonical JSON, as otuf-core kept it) for a device of `hardware`
/// running `installed`.
pub fn decide(custom: Option<&[u8]>, hardware: &str, installed: Version) -> Decision {
    let Some(bytes) = custom else {
        return Decision::Refuse("custom: missing (version and hardware are required)");
    };
    let Ok((c, _)) = serde_json_core::from_slice::<Custom>(bytes) else {
        return Decision::Refuse("custom: not an object with string version and hardware");
    };
    if c.hardware != hardware {
        return Decision::Refuse("custom.hardware: built for another hardware model");
    }
    let Some(version) = Version::parse(&c.version) else {
        return Decision::Refuse("custom.version: not MAJOR.MINOR.PATCH");
    };
    if let Some(min) = c.min_version {
        match Version::parse(&min) {
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
