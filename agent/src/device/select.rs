//! Which artifact this device installs, from the `custom` fields the signed metadata gives each
//! target (otuf's conventions): `version` (semver), `hardware`, `channel` (none: `stable`),
//! `min_version` (the lowest installed version it may be installed over), and for a downgrade
//! `rollback: true`, narrowed by `rollback_devices` / `rollback_tags` when present.
//!
//! The device takes the highest version for its hardware and channel. If that is lower than
//! what is installed (the newer one was withdrawn), it is installed only when the metadata
//! allows this device the rollback and the configuration does not forbid downgrades.

use super::config::{Device, Downgrade};
use semver::Version;
use serde_json::Value;

/// A target the metadata lists, with its `custom` object.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Target path.
    pub path: String,
    /// Its `custom` (canonical JSON as signed), or null.
    pub custom: Value,
}

/// What the device should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Install this target (a newer version, or an allowed rollback).
    Install {
        /// Target path.
        path: String,
        /// Its version.
        version: Version,
        /// Whether it goes down from the installed version.
        rollback: bool,
    },
    /// Nothing to do: the installed version is the newest for this device.
    UpToDate,
    /// The newest version for this device is lower than the installed one and may not be
    /// installed over it (why).
    Refused(String),
    /// No artifact is meant for this device.
    NothingForThisDevice,
}

fn text<'a>(custom: &'a Value, field: &str) -> Option<&'a str> {
    custom.get(field).and_then(Value::as_str)
}

/// Whether the metadata allows `device` to go down to this artifact.
fn rollback_allowed(custom: &Value, device: &Device) -> bool {
    if custom.get("rollback") != Some(&Value::Bool(true)) {
        return false;
    }
    let listed = |field: &str, wanted: &[String]| {
        custom.get(field).map(|v| {
            v.as_array().is_some_and(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|n| wanted.iter().any(|w| w == n))
            })
        })
    };
    let by_id = listed("rollback_devices", std::slice::from_ref(&device.id));
    let by_tag = listed("rollback_tags", &device.tags);
    match (by_id, by_tag) {
        (None, None) => true,
        (a, b) => a == Some(true) || b == Some(true),
    }
}

/// Decides among `candidates` for `device`, with `installed` the version on it now.
pub fn decide(
    candidates: &[Candidate],
    device: &Device,
    installed: Option<&Version>,
    policy: Downgrade,
) -> Decision {
    let mut best: Option<(&Candidate, Version)> = None;
    let mut skipped_min = None;
    for c in candidates {
        if text(&c.custom, "hardware") != Some(device.hardware.as_str()) {
            continue;
        }
        if text(&c.custom, "channel").unwrap_or("stable") != device.channel {
            continue;
        }
        let Some(version) = text(&c.custom, "version").and_then(|v| Version::parse(v).ok()) else {
            continue; // not an otuf firmware artifact
        };
        if let Some(min) = text(&c.custom, "min_version").and_then(|v| Version::parse(v).ok()) {
            if installed.is_none_or(|i| *i < min) {
                skipped_min = Some((c.path.clone(), min));
                continue;
            }
        }
        if best.as_ref().is_none_or(|(_, v)| version > *v) {
            best = Some((c, version));
        }
    }
    let Some((c, version)) = best else {
        return match skipped_min {
            Some((path, min)) => Decision::Refused(format!(
                "{path} needs version {min} or later installed first (installed: {})",
                installed.map_or("unknown".into(), Version::to_string)
            )),
            None => Decision::NothingForThisDevice,
        };
    };
    match installed {
        Some(i) if version == *i => Decision::UpToDate,
        Some(i) if version < *i => {
            if policy == Downgrade::Never {
                Decision::Refused(format!(
                    "{} is version {version}, lower than the installed {i}: downgrades are off (downgrade = \"never\")",
                    c.path
                ))
            } else if rollback_allowed(&c.custom, device) {
                Decision::Install {
                    path: c.path.clone(),
                    version,
                    rollback: true,
                }
            } else {
                Decision::Refused(format!(
                    "{} is version {version}, lower than the installed {i}, and its metadata does not allow this device the rollback (custom.rollback)",
                    c.path
                ))
            }
        }
        _ => Decision::Install {
            path: c.path.clone(),
            version,
            rollback: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device() -> Device {
        Device {
            id: "plc-7".into(),
            hardware: "plc-a".into(),
            channel: "stable".into(),
            tags: vec!["hall-b".into()],
            installed_version: None,
        }
    }

    fn c(path: &str, custom: Value) -> Candidate {
        Candidate {
            path: path.into(),
            custom,
        }
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn the_highest_version_for_this_hardware_and_channel_wins() {
        let all = [
            c("a-1.2.0", json!({"version": "1.2.0", "hardware": "plc-a"})),
            c(
                "a-1.10.0",
                json!({"version": "1.10.0", "hardware": "plc-a", "channel": "stable"}),
            ),
            c(
                "a-2.0.0-rc.1",
                json!({"version": "2.0.0-rc.1", "hardware": "plc-a", "channel": "pilot"}),
            ),
            c("b-9.0.0", json!({"version": "9.0.0", "hardware": "plc-b"})),
            c("a-readme", json!({"hardware": "plc-a"})),
        ];
        let d = decide(&all, &device(), Some(&v("1.2.0")), Downgrade::Signed);
        assert_eq!(
            d,
            Decision::Install {
                path: "a-1.10.0".into(),
                version: v("1.10.0"),
                rollback: false
            }
        );
        let mut pilot = device();
        pilot.channel = "pilot".into();
        let d = decide(&all, &pilot, Some(&v("1.2.0")), Downgrade::Signed);
        assert!(
            matches!(d, Decision::Install { ref path, .. } if path == "a-2.0.0-rc.1"),
            "{d:?}"
        );
        assert_eq!(
            decide(&all, &device(), Some(&v("1.10.0")), Downgrade::Signed),
            Decision::UpToDate
        );
        let mut other = device();
        other.hardware = "rtu".into();
        assert_eq!(
            decide(&all, &other, None, Downgrade::Signed),
            Decision::NothingForThisDevice
        );
    }

    #[test]
    fn min_version_needs_that_version_installed_first() {
        let all = [
            c(
                "a-3",
                json!({"version": "3.0.0", "hardware": "plc-a", "min_version": "2.0.0"}),
            ),
            c("a-2", json!({"version": "2.0.0", "hardware": "plc-a"})),
        ];
        let d = decide(&all, &device(), Some(&v("1.0.0")), Downgrade::Signed);
        assert!(
            matches!(d, Decision::Install { ref path, .. } if path == "a-2"),
            "{d:?}"
        );
        let d = decide(&all, &device(), Some(&v("2.1.0")), Downgrade::Signed);
        assert!(
            matches!(d, Decision::Install { ref path, .. } if path == "a-3"),
            "{d:?}"
        );
        let only = &all[..1];
        let d = decide(only, &device(), None, Downgrade::Signed);
        assert!(
            matches!(d, Decision::Refused(ref why) if why.contains("2.0.0 or later") && why.contains("unknown")),
            "{d:?}"
        );
    }

    #[test]
    fn a_downgrade_needs_the_metadata_to_allow_this_device_the_rollback() {
        let plain = [c("a-1", json!({"version": "1.0.0", "hardware": "plc-a"}))];
        let d = decide(&plain, &device(), Some(&v("1.1.0")), Downgrade::Signed);
        assert!(
            matches!(d, Decision::Refused(ref why) if why.contains("custom.rollback")),
            "{d:?}"
        );
        let allowed = [c(
            "a-1",
            json!({"version": "1.0.0", "hardware": "plc-a", "rollback": true}),
        )];
        let d = decide(&allowed, &device(), Some(&v("1.1.0")), Downgrade::Signed);
        assert!(
            matches!(d, Decision::Install { rollback: true, .. }),
            "{d:?}"
        );
        let d = decide(&allowed, &device(), Some(&v("1.1.0")), Downgrade::Never);
        assert!(
            matches!(d, Decision::Refused(ref why) if why.contains("never")),
            "{d:?}"
        );
        for (narrowed, ok) in [
            (json!({"rollback_devices": ["plc-9"]}), false),
            (json!({"rollback_devices": ["plc-7"]}), true),
            (json!({"rollback_tags": ["hall-b"]}), true),
            (
                json!({"rollback_devices": ["plc-9"], "rollback_tags": ["hall-b"]}),
                true,
            ),
            (json!({"rollback_tags": "hall-b"}), false),
        ] {
            let mut custom = json!({"version": "1.0.0", "hardware": "plc-a", "rollback": true});
            for (k, val) in narrowed.as_object().unwrap() {
                custom[k] = val.clone();
            }
            let d = decide(
                &[c("a-1", custom)],
                &device(),
                Some(&v("1.1.0")),
                Downgrade::Signed,
            );
            assert_eq!(
                matches!(d, Decision::Install { .. }),
                ok,
                "{narrowed}: {d:?}"
            );
        }
    }
}
