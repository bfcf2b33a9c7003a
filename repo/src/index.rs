//! Device indexes. For each hardware model that artifacts name in `custom.hardware`, the target
//! `otuf-index/<hardware>.json` lists that model's artifacts (path, version, channel, length).
//! A device finds its firmware by fetching this one small target and the roles on its way (two
//! bins), not every bin of a repository of millions: a hash bin cannot be listed any other way.
//!
//! An index is a target like any other: its length and hashes are signed in its role, it is
//! served under its consistent-snapshot name, and it is regenerated with every change to that
//! model's artifacts (staged with them when they are staged). A device reads it only as a
//! hint: what it installs is checked against that artifact's own signed `custom`.

use crate::error::Result;
use crate::publish::Repo;
use crate::sign::hex;
use crate::store::Change;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};
use std::collections::BTreeSet;

/// Where indexes live; artifact paths below it are the service's own.
pub const PREFIX: &str = "otuf-index/";

/// The index of `hardware` (`None` for a model name that cannot be a file name).
pub fn path_for(hardware: &str) -> Option<String> {
    let safe = !hardware.is_empty()
        && !hardware.starts_with('.')
        && hardware
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    safe.then(|| format!("{PREFIX}{hardware}.json"))
}

/// Regenerates the indexes of these models; returns the roles that list them.
pub fn refresh(repo: &Repo, hardware: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    let online = repo.online()?;
    let (mut rows, mut roles) = (Vec::new(), BTreeSet::new());
    for h in hardware {
        let Some(path) = path_for(h) else {
            tracing::warn!("no device index for hardware {h:?}: not a file name ([A-Za-z0-9._-])");
            continue;
        };
        let Some(role) = online.role_for(&path)? else {
            tracing::debug!("{path}: no delegated role is trusted for it, no device index");
            continue;
        };
        let listed: Vec<Value> = repo
            .store
            .artifacts_for_hardware(h)?
            .into_iter()
            .filter(|(p, _)| !p.starts_with(PREFIX))
            .map(|(p, info)| {
                let custom = &info["custom"];
                json!({"path": p, "version": custom["version"], "channel": custom["channel"],
                       "length": info["length"]})
            })
            .collect();
        let body = serde_json::to_vec(&json!({"hardware": h, "artifacts": listed}))?;
        let (sha256, sha512) = (hex(&Sha256::digest(&body)), hex(&Sha512::digest(&body)));
        repo.storage
            .put(&format!("targets/{PREFIX}{sha256}.{h}.json"), &body)?;
        let info = json!({"length": body.len(), "hashes": {"sha256": sha256, "sha512": sha512},
                          "custom": {"x-otuf-index": h}});
        rows.push((path, role.clone(), info));
        roles.insert(role);
    }
    if !rows.is_empty() {
        repo.store.apply(&[&Change::Upsert(rows)])?;
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_paths_are_safe_file_names() {
        assert_eq!(
            super::path_for("plc-a_2.0").as_deref(),
            Some("otuf-index/plc-a_2.0.json")
        );
        for bad in ["", ".hidden", "a/b", "a b", "ü", "..", "a\\b"] {
            assert_eq!(super::path_for(bad), None, "{bad:?}");
        }
    }
}
