//! `otuf-repo bundle export`: an update bundle for air-gapped devices (a folder to carry on a
//! USB stick) holding exactly what a device of one hardware model needs, laid out as a mirror
//! (`metadata/`, `targets/`), so that `otuf-agent install-bundle DIR` verifies it through the
//! full TUF workflow like any mirror. Every root version (a device may be far behind), the
//! current timestamp, snapshot and targets, the device index and the roles that list it and the
//! model's artifacts, and the artifacts themselves. Read from the data folder; nothing is signed.

use super::client::Failure;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `otuf-repo bundle export` arguments.
#[derive(Debug, clap::Args)]
pub struct Export {
    /// The repository's data folder.
    #[arg(long, default_value = "./otuf-data")]
    pub data_dir: PathBuf,
    /// The hardware model (`custom.hardware`) the bundle is for.
    #[arg(long)]
    pub hardware: String,
    /// The bundle folder to write (created; must not exist yet).
    #[arg(long)]
    pub out: PathBuf,
}

/// `otuf-repo bundle` commands.
#[derive(Debug, clap::Subcommand)]
pub enum Bundle {
    /// Writes an update bundle for one hardware model.
    Export(Export),
}

fn read_json(path: &Path) -> Result<Value, Failure> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<u64, Failure> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::copy(from, to).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))
}

impl Export {
    /// Writes the bundle.
    pub fn run(self) -> Result<(), Failure> {
        let (md, td) = (
            self.data_dir.join("metadata"),
            self.data_dir.join("targets"),
        );
        if self.out.exists() {
            return Err(format!("{}: exists already", self.out.display()));
        }
        let (out_md, out_td) = (self.out.join("metadata"), self.out.join("targets"));
        let mut bytes = 0;
        for entry in std::fs::read_dir(&md).map_err(|e| format!("{}: {e}", md.display()))? {
            let name = entry.map_err(|e| e.to_string())?.file_name();
            if name.to_string_lossy().ends_with(".root.json") {
                bytes += copy(&md.join(&name), &out_md.join(&name))?;
            }
        }
        let timestamp = read_json(&md.join("timestamp.json"))?;
        let snapshot_version = &timestamp["signed"]["meta"]["snapshot.json"]["version"];
        let snapshot_file = format!("{snapshot_version}.snapshot.json");
        let snapshot = read_json(&md.join(&snapshot_file))?;
        let meta = &snapshot["signed"]["meta"];
        let targets_file = format!("{}.targets.json", meta["targets.json"]["version"]);
        let targets = read_json(&md.join(&targets_file))?;
        for file in [&snapshot_file, &targets_file] {
            bytes += copy(&md.join(file), &out_md.join(file))?;
        }
        let delegations =
            serde_json::to_vec(&targets["signed"]["delegations"]).map_err(|e| e.to_string())?;
        let index = crate::index::path_for(&self.hardware).ok_or_else(|| {
            format!(
                "--hardware {:?}: not a model with a device index",
                self.hardware
            )
        })?;

        // The role a device finds `path` in, copied; the artifact's signed file info.
        let mut roles = BTreeSet::new();
        let mut lookup = |path: &str| -> Result<Value, Failure> {
            let found = otuf_core::metadata::delegations_for_target(&delegations, path)
                .map_err(|e| format!("{path}: {e}"))?;
            let role = found
                .roles
                .first()
                .map(|r| r.name.as_str().to_string())
                .ok_or_else(|| format!("{path}: no delegated role is trusted for it"))?;
            let file = format!("{}.{role}.json", meta[format!("{role}.json")]["version"]);
            let listed = read_json(&md.join(&file))?["signed"]["targets"][path].clone();
            if listed.is_null() {
                return Err(format!("{path}: {role} does not list it"));
            }
            if roles.insert(file.clone()) {
                copy(&md.join(&file), &out_md.join(&file))?;
            }
            Ok(listed)
        };
        let stored = |path: &str, info: &Value| -> Result<PathBuf, Failure> {
            let digest = info["hashes"]["sha256"]
                .as_str()
                .ok_or_else(|| format!("{path}: no sha256"))?;
            let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
            Ok(Path::new(dir).join(format!("{digest}.{base}")))
        };
        let info = lookup(&index)
            .map_err(|e| format!("{e} (no artifact names hardware {:?}?)", self.hardware))?;
        let index_file = stored(&index, &info)?;
        bytes += copy(&td.join(&index_file), &out_td.join(&index_file))?;
        let listed = read_json(&td.join(&index_file))?;
        let mut artifacts = 0;
        for a in listed["artifacts"].as_array().into_iter().flatten() {
            let Some(path) = a["path"].as_str() else {
                continue;
            };
            let info = lookup(path)?;
            let file = stored(path, &info)?;
            bytes += copy(&td.join(&file), &out_td.join(&file))?;
            artifacts += 1;
        }
        bytes += copy(&md.join("timestamp.json"), &out_md.join("timestamp.json"))?;
        eprintln!(
            "wrote {}: {artifacts} artifact(s) for {} with their metadata, {bytes} bytes",
            self.out.display(),
            self.hardware
        );
        Ok(())
    }
}
