//! The device's configuration: `/etc/otuf/agent.toml` (or `--config`). Every setting is
//! documented here and in the README; `agent/dist/agent.toml` is a complete example. An unknown
//! key or a wrong type is refused with the file, the line and the key, so a typo never leaves a
//! plant's device on a default it did not choose.

use super::window::Windows;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the firmware comes from.
    pub repository: Repository,
    /// Trusted metadata, staging, the journal and the install history live here.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// What this device is.
    pub device: Device,
    /// How often to look for updates.
    #[serde(default)]
    pub poll: Poll,
    /// Download limits.
    #[serde(default)]
    pub download: Download,
    /// How firmware is installed.
    pub install: Install,
    /// Commands run around an installation.
    #[serde(default)]
    pub hooks: Hooks,
    /// How the device proves a new firmware works (A/B installs confirm or fall back on it).
    #[serde(default)]
    pub health: Option<Health>,
    /// When installations (and optionally downloads) may happen.
    #[serde(default)]
    pub maintenance: Option<Windows>,
    /// Whether a lower version than the installed one may be installed.
    #[serde(default)]
    pub downgrade: Downgrade,
}

fn default_boot_id() -> PathBuf {
    "/proc/sys/kernel/random/boot_id".into()
}

fn default_state_dir() -> PathBuf {
    "/var/lib/otuf".into()
}

/// Mirrors, tried in order: a mirror is untrusted (TUF verifies everything it serves), so one
/// that serves tampered or stale files is passed over for the next.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// At least one mirror.
    pub mirrors: Vec<Mirror>,
    /// The root metadata trusted on first configuration (`otuf-agent init` copies it).
    pub root: Option<PathBuf>,
}

/// One mirror: its metadata and targets base URLs.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// Base URL of the metadata (`.../metadata`).
    pub metadata: String,
    /// Base URL of the targets (`.../targets`).
    pub targets: String,
}

/// The device's identity, matched against the artifacts' `custom` fields.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// This device's name (in the install history; `rollback_devices` may list it).
    pub id: String,
    /// The hardware model artifacts must name in `custom.hardware`.
    pub hardware: String,
    /// The release channel artifacts must name in `custom.channel` (none: `stable`).
    #[serde(default = "default_channel")]
    pub channel: String,
    /// Free labels (`rollback_tags` may name them).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The version installed before the agent's first installation (afterwards the journal
    /// knows); without it, artifacts with a `min_version` are not installed.
    pub installed_version: Option<String>,
}

fn default_channel() -> String {
    "stable".into()
}

/// Polling.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// Seconds between checks.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Up to this many seconds are added at random to each wait, so that a fleet does not
    /// poll in step.
    #[serde(default = "default_jitter")]
    pub jitter_secs: u64,
}

fn default_interval() -> u64 {
    3600
}

fn default_jitter() -> u64 {
    300
}

impl Default for Poll {
    fn default() -> Self {
        Self {
            interval_secs: default_interval(),
            jitter_secs: default_jitter(),
        }
    }
}

/// Download limits (the signed length always bounds what is accepted).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Download {
    /// Bandwidth cap in bytes per second (none: no cap).
    pub max_bytes_per_sec: Option<u64>,
    /// Seconds without a byte before a transfer is abandoned (slow-retrieval defence).
    #[serde(default = "default_stall")]
    pub stall_timeout_secs: u64,
    /// Lowest average speed accepted after the first 5 seconds (bytes/s).
    #[serde(default = "default_min_speed")]
    pub min_speed: u64,
    /// Download only inside the maintenance windows too (installs always wait for them).
    #[serde(default)]
    pub within_windows: bool,
}

fn default_stall() -> u64 {
    10
}

fn default_min_speed() -> u64 {
    1024
}

impl Default for Download {
    fn default() -> Self {
        Self {
            max_bytes_per_sec: None,
            stall_timeout_secs: default_stall(),
            min_speed: default_min_speed(),
            within_windows: false,
        }
    }
}

/// How firmware is installed.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
pub enum Install {
    /// Atomic replacement of one file (temporary file, fsync, rename, fsync directory); the
    /// previous file is kept beside it (`<path>.previous`) for a rollback.
    File {
        /// The installed file.
        path: PathBuf,
    },
    /// Two slots (files or block devices): the inactive one is written and read back, then
    /// the bootloader is told to boot it; after the reboot the health check confirms it or
    /// the agent switches back.
    Ab {
        /// Slot A and slot B.
        slots: [PathBuf; 2],
        /// Makes the bootloader boot a slot next (`{slot}` is replaced by `a` or `b`,
        /// `{path}` by its path), for example `["fw_setenv", "boot_slot", "{slot}"]`.
        switch_command: Vec<String>,
        /// Run after a confirmed boot (optional), for example to clear a boot counter.
        confirm_command: Option<Vec<String>>,
        /// Where the kernel's boot id is read: a new slot is confirmed only once it has changed
        /// (the device rebooted into it), never on the slot that wrote it.
        #[serde(default = "default_boot_id")]
        boot_id_file: PathBuf,
        /// Prints the slot the device booted (`a` or `b`), for example from the bootloader's
        /// environment or the kernel command line. With it the free slot is always the other
        /// one and a new slot is confirmed only if it was booted, whatever a power cut did to
        /// the journal; without it the journal says which slot runs.
        current_slot_command: Option<Vec<String>>,
    },
    /// An integrator's script, given the verified file and the artifact in its environment
    /// (`OTUF_FILE`, `OTUF_TARGET`, `OTUF_VERSION`, `OTUF_FROM_VERSION`, `OTUF_HARDWARE`) and
    /// `OTUF_ACTION`: `install` (exit 0: installed; any other status: failed, and the script
    /// must have changed nothing), or `rollback` after a failed post-install hook or health
    /// check (put the previous firmware back). It may be called again for the same image after
    /// a power cut, so it must be idempotent.
    Command {
        /// The program and its arguments.
        command: Vec<String>,
    },
}

/// Commands run around an installation, each with the same environment as the `command`
/// installer. A pre-install hook that fails aborts the installation (nothing changed); a
/// post-install hook that fails rolls the installation back.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Before the installation.
    pub pre_install: Option<Vec<String>>,
    /// After it.
    pub post_install: Option<Vec<String>>,
}

/// The health check: a command that exits 0 when the device works.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Seconds it may take before it counts as failed.
    #[serde(default = "default_health_timeout")]
    pub timeout_secs: u64,
}

fn default_health_timeout() -> u64 {
    120
}

/// Downgrades (a lower version than the installed one).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Downgrade {
    /// Only a downgrade the signed metadata allows for this device (`custom.rollback` true,
    /// narrowed by `rollback_devices` / `rollback_tags` when present).
    #[default]
    Signed,
    /// Never, whatever the metadata says.
    Never,
}

impl Config {
    /// Reads and checks the file. Relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let mut c: Self = toml::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.to_string().trim())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        absolute(&mut c.state_dir);
        if let Some(root) = &mut c.repository.root {
            absolute(root);
        }
        match &mut c.install {
            Install::File { path } => absolute(path),
            Install::Ab { slots, .. } => slots.iter_mut().for_each(absolute),
            Install::Command { .. } => {}
        }
        c.check()
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(c)
    }

    /// What serde cannot check.
    fn check(&self) -> std::result::Result<(), String> {
        if self.repository.mirrors.is_empty() {
            return Err("repository.mirrors: at least one mirror".into());
        }
        for (i, m) in self.repository.mirrors.iter().enumerate() {
            for (field, url) in [("metadata", &m.metadata), ("targets", &m.targets)] {
                if !["http://", "https://", "file://"]
                    .iter()
                    .any(|s| url.starts_with(s))
                {
                    return Err(format!(
                        "repository.mirrors[{i}].{field}: an http://, https:// or file:// URL, not {url:?}"
                    ));
                }
            }
        }
        if self.device.hardware.is_empty() || self.device.id.is_empty() {
            return Err("device.id and device.hardware: must not be empty".into());
        }
        if let Some(v) = &self.device.installed_version {
            semver::Version::parse(v)
                .map_err(|e| format!("device.installed_version: {v:?} is not semver: {e}"))?;
        }
        if self.poll.interval_secs == 0 {
            return Err("poll.interval_secs: greater than 0".into());
        }
        let empty = |c: &[String]| c.is_empty() || c[0].is_empty();
        match &self.install {
            Install::Ab {
                slots,
                switch_command,
                ..
            } => {
                if slots[0] == slots[1] {
                    return Err("install.slots: two different slots".into());
                }
                if empty(switch_command) {
                    return Err("install.switch_command: a program to run".into());
                }
                if self.health.is_none() {
                    return Err("install.method = \"ab\" needs [health]: without a health check a new slot cannot be confirmed".into());
                }
            }
            Install::Command { command } if empty(command) => {
                return Err("install.command: a program to run".into())
            }
            _ => {}
        }
        for (name, hook) in [
            ("hooks.pre_install", &self.hooks.pre_install),
            ("hooks.post_install", &self.hooks.post_install),
        ] {
            if hook.as_deref().is_some_and(empty) {
                return Err(format!("{name}: a program to run"));
            }
        }
        if let Some(h) = &self.health {
            if empty(&h.command) {
                return Err("health.command: a program to run".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    #[test]
    fn the_example_file_in_dist_loads() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/agent.toml");
        let c = Config::load(&example).unwrap();
        assert_eq!(c.device.channel, "stable");
        assert!(matches!(c.install, Install::Ab { .. }));
        assert_eq!(c.repository.mirrors.len(), 2);
        assert!(c.maintenance.is_some());
    }

    #[test]
    fn defaults_fill_what_a_minimal_file_leaves_out() {
        let c = load(
            "[repository]\nmirrors = [{metadata = \"http://r/metadata\", targets = \"http://r/targets\"}]\n\
             [device]\nid = \"plc-7\"\nhardware = \"plc-a\"\n[install]\nmethod = \"file\"\npath = \"fw.bin\"\n",
        )
        .unwrap();
        assert_eq!((c.poll.interval_secs, c.poll.jitter_secs), (3600, 300));
        assert_eq!(c.device.channel, "stable");
        assert_eq!(c.downgrade, Downgrade::Signed);
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/otuf"));
        let Install::File { path } = &c.install else {
            panic!("file installer")
        };
        assert!(path.is_absolute() && path.ends_with("fw.bin"));
    }

    #[test]
    fn mistakes_name_the_file_the_line_and_the_key() {
        let base =
            "[repository]\nmirrors = [{metadata = \"http://r/m\", targets = \"http://r/t\"}]\n\
                    [device]\nid = \"d\"\nhardware = \"h\"\n";
        let err = |extra: &str| load(&format!("{base}{extra}")).unwrap_err().to_string();
        // Inside the tagged [install] table, the table's line is named with the key.
        let e = err("[install]\nmethod = \"file\"\npath = \"x\"\nmode = 1\n");
        assert!(
            e.contains("agent.toml") && e.contains("line 6") && e.contains("unknown field `mode`"),
            "{e}"
        );
        let e = err("[install]\nmethod = \"file\"\npath = \"x\"\n[poll]\nintervall_secs = 5\n");
        assert!(e.contains("line 10") && e.contains("intervall_secs"), "{e}");
        let e = err("[install]\nmethod = \"floppy\"\n");
        assert!(e.contains("floppy"), "{e}");
        let e =
            err("[install]\nmethod = \"ab\"\nslots = [\"a\", \"b\"]\nswitch_command = [\"x\"]\n");
        assert!(e.contains("needs [health]"), "{e}");
        let e = err("[install]\nmethod = \"ab\"\nslots = [\"a\", \"a\"]\nswitch_command = [\"x\"]\n[health]\ncommand = [\"true\"]\n");
        assert!(e.contains("two different slots"), "{e}");
        let e = load("[repository]\nmirrors = [{metadata = \"ftp://r/m\", targets = \"http://r/t\"}]\n[device]\nid = \"d\"\nhardware = \"h\"\n[install]\nmethod = \"file\"\npath = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("repository.mirrors[0].metadata"), "{e}");
    }
}
