//! The device's journal, in the state folder: where an update stands (`state.json`), replaced
//! atomically at every step (temporary file, fsync, rename, fsync directory), so that after a
//! power cut at any instant the agent knows whether to resume or roll back; and the install
//! history (`history.jsonl`), one JSON line per finished attempt, appended and fsynced. A line
//! cut short by a power cut is the last one, and is skipped when the history is read.

use crate::error::{Error, Result};
use crate::persist::write_atomic;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The firmware the device runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// Target path it came from.
    pub target: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of the image (lower-case hex).
    pub sha256: String,
    /// The A/B slot it is in (`a` or `b`), for the `ab` installer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// When it was confirmed (UNIX seconds).
    pub since: i64,
}

/// The steps of an update, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The image is being downloaded into staging (resumable).
    Downloading,
    /// Staged and verified (length and every hash).
    Downloaded,
    /// Being written to its place (file, slot) or handed to the install command.
    Installing,
    /// A/B: the bootloader was told to boot the new slot; the health check has to confirm it.
    Switched,
}

/// An update under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The step reached.
    pub phase: Phase,
    /// Target path.
    pub target: String,
    /// Its version.
    pub version: String,
    /// SHA-256 the image must have (lower-case hex).
    pub sha256: String,
    /// Its signed length.
    pub length: u64,
    /// Whether it goes down from the installed version (allowed by the metadata).
    pub rollback: bool,
    /// The slot being written, for the `ab` installer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// When the update started (UNIX seconds).
    pub started: i64,
    /// A/B: the boot id when the bootloader was switched (confirmation waits for another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

/// `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// What the device runs (none: what it shipped with).
    pub installed: Option<Installed>,
    /// An update under way.
    pub pending: Option<Pending>,
    /// The last check for updates (UNIX seconds).
    pub last_check: Option<i64>,
    /// Why the last check or update failed, if it did.
    pub last_error: Option<String>,
}

/// The versions of the trusted metadata an installation was decided on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataVersions {
    /// Root.
    pub root: u64,
    /// Timestamp.
    pub timestamp: u64,
    /// Snapshot.
    pub snapshot: u64,
    /// Top-level targets.
    pub targets: u64,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The new firmware runs (and, A/B, was confirmed).
    Installed,
    /// It was installed, then taken back (a hook or the health check failed).
    RolledBack,
    /// It failed before anything changed.
    Failed,
}

/// One line of the install history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When it ended (UNIX seconds).
    pub at: i64,
    /// Target path.
    pub target: String,
    /// Its version.
    pub version: String,
    /// The version installed before.
    pub from_version: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, for anything but a plain success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The metadata it was decided on.
    pub metadata: MetadataVersions,
}

/// The journal in a state folder.
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal in `dir` (created if new).
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn history_path(&self) -> PathBuf {
        self.dir.join("history.jsonl")
    }

    /// Where the device stands (a new journal: nothing installed by the agent, nothing pending).
    pub fn state(&self) -> Result<State> {
        let path = self.state_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Config(format!(
                    "{}: not a journal the agent wrote ({e}); move it aside to start afresh",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io(path)(e)),
        }
    }

    /// Replaces the state, atomically and durably.
    pub fn save(&self, state: &State) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| Error::Usage(e.to_string()))?;
        write_atomic(&self.state_path(), &bytes)
    }

    /// Appends a finished attempt to the history, durably.
    pub fn record(&self, record: &Record) -> Result<()> {
        let path = self.history_path();
        let mut line = serde_json::to_vec(record).map_err(|e| Error::Usage(e.to_string()))?;
        line.push(b'\n');
        let created = !path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        // A line a power cut left unfinished was never acknowledged: cut it off first.
        let text = std::fs::read(&path).map_err(Error::io(&path))?;
        if !text.is_empty() && !text.ends_with(b"\n") {
            let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            f.set_len(keep as u64).map_err(Error::io(&path))?;
        }
        f.write_all(&line).map_err(Error::io(&path))?;
        f.sync_all().map_err(Error::io(&path))?;
        if created {
            crate::persist::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// The install history, oldest first.
    pub fn history(&self) -> Result<Vec<Record>> {
        let path = self.history_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(path)(e)),
        };
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str(line) {
                Ok(r) => out.push(r),
                // Only the last line can be torn (appends are fsynced one by one).
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
                Err(e) => {
                    return Err(Error::Config(format!(
                        "{} line {}: {e}",
                        path.display(),
                        i + 1
                    )))
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(version: &str, outcome: Outcome) -> Record {
        Record {
            at: 1_800_000_000,
            target: format!("firmware/plc-a-{version}.bin"),
            version: version.into(),
            from_version: Some("1.0.0".into()),
            outcome,
            detail: None,
            metadata: MetadataVersions {
                root: 1,
                timestamp: 7,
                snapshot: 7,
                targets: 2,
            },
        }
    }

    #[test]
    fn state_survives_a_restart_and_a_corrupt_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.state().unwrap(), State::default());
        let state = State {
            pending: Some(Pending {
                phase: Phase::Switched,
                target: "firmware/a.bin".into(),
                version: "1.1.0".into(),
                sha256: "ab".repeat(32),
                length: 10,
                rollback: false,
                slot: Some("b".into()),
                started: 1,
                boot_id: Some("boot-1".into()),
            }),
            ..State::default()
        };
        j.save(&state).unwrap();
        assert_eq!(Journal::open(dir.path()).unwrap().state().unwrap(), state);
        std::fs::write(dir.path().join("state.json"), b"{\"pending\": ").unwrap();
        let e = j.state().unwrap_err().to_string();
        assert!(
            e.contains("state.json") && e.contains("move it aside"),
            "{e}"
        );
    }

    #[test]
    fn the_history_is_appended_and_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        j.record(&record("1.1.0", Outcome::Installed)).unwrap();
        j.record(&record("1.2.0", Outcome::RolledBack)).unwrap();
        assert_eq!(j.history().unwrap().len(), 2);
        // A power cut in the middle of the next append.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("history.jsonl"))
            .unwrap();
        f.write_all(b"{\"at\": 18000").unwrap();
        let h = j.history().unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].outcome, Outcome::RolledBack);
        // The next append replaces the torn line; a bad line in the middle is an error.
        j.record(&record("1.2.1", Outcome::Installed)).unwrap();
        let versions: Vec<String> = j
            .history()
            .unwrap()
            .into_iter()
            .map(|r| r.version)
            .collect();
        assert_eq!(versions, ["1.1.0", "1.2.0", "1.2.1"]);
        std::fs::write(dir.path().join("history.jsonl"), "garbage\n").unwrap();
        j.record(&record("1.3.0", Outcome::Installed)).unwrap();
        assert!(j.history().unwrap_err().to_string().contains("line 1"));
    }
}
