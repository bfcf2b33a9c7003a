//! One check for updates, as `otuf-agent check` runs it and every cycle of `run` and `update`
//! begins: refresh the trusted metadata through the full TUF workflow, read this hardware's
//! device index (`otuf-index/<hardware>.json`, a verified target like any other), look each
//! listed artifact up in the signed metadata, and decide from their signed `custom` fields.
//! Mirrors are tried in order; one that fails (a tampered file, a stale one, an error) is
//! passed over for the next, and the trusted metadata they share is never replaced by anything
//! unverified.

use super::config::{Config, Mirror};
use super::journal::{MetadataVersions, State};
use super::select::{decide, Candidate, Decision};
use crate::client::fetch::{FetchConfig, Fetcher};
use crate::client::Updater;
use crate::error::{Error, Result};
use otuf_core::client::Client;
use otuf_core::limits::Limits;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// The trusted metadata folder in the state folder.
pub fn metadata_dir(config: &Config) -> PathBuf {
    config.state_dir.join("metadata")
}

/// What a check found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What to do.
    pub decision: Decision,
    /// The mirror it was decided from (index into `repository.mirrors`).
    pub mirror: usize,
    /// The trusted metadata it was decided on.
    pub metadata: MetadataVersions,
}

/// HTTP with the configured download limits.
pub fn fetcher(config: &Config) -> Result<Fetcher> {
    let d = &config.download;
    Fetcher::new(FetchConfig {
        connect_timeout: Duration::from_secs(d.stall_timeout_secs),
        stall_timeout: Duration::from_secs(d.stall_timeout_secs),
        min_speed: d.min_speed,
        max_bytes_per_sec: d.max_bytes_per_sec,
        ..FetchConfig::default()
    })
}

/// The versions `client` trusts.
pub fn versions(client: &Client) -> MetadataVersions {
    let t = client.trusted();
    MetadataVersions {
        root: t.root().common.version,
        timestamp: t.timestamp().map_or(0, |x| x.common.version),
        snapshot: t.snapshot().map_or(0, |x| x.common.version),
        targets: t.targets().map_or(0, |x| x.version),
    }
}

/// The version installed now: the journal's, else the configured one.
pub fn installed_version(config: &Config, state: &State) -> Option<semver::Version> {
    state
        .installed
        .as_ref()
        .map(|i| i.version.as_str())
        .or(config.device.installed_version.as_deref())
        .and_then(|v| semver::Version::parse(v).ok())
}

async fn check_mirror(
    config: &Config,
    mirror: &Mirror,
    state: &State,
) -> Result<(Decision, MetadataVersions)> {
    let updater = Updater::new(
        &metadata_dir(config),
        &mirror.metadata,
        fetcher(config)?,
        Limits::default(),
    )?;
    let client = updater.refresh().await?;
    let hardware = &config.device.hardware;
    let index_path = format!("otuf-index/{hardware}.json");
    let staging = config.state_dir.join("index");
    let index = match updater
        .download(&client, &index_path, &mirror.targets, &staging)
        .await
    {
        Ok(local) => std::fs::read(&local).map_err(Error::io(&local))?,
        Err(Error::TargetNotFound(_)) => {
            return Ok((Decision::NothingForThisDevice, versions(&client)))
        }
        Err(e) => return Err(e),
    };
    let index: Value = serde_json::from_slice(&index)
        .map_err(|e| Error::Usage(format!("{index_path}: not a device index: {e}")))?;
    // Newest first, by the index's versions. The index is made from the same signed `custom`,
    // so once the decision settles on a version no lower-listed artifact can change it; an
    // artifact whose signed version is not the listed one turns this shortcut off.
    let mut entries: Vec<(Option<semver::Version>, String)> = index["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["channel"].as_str().unwrap_or("stable") == config.device.channel)
        .filter_map(|e| {
            let hint = e["version"]
                .as_str()
                .and_then(|v| semver::Version::parse(v).ok());
            Some((hint, e["path"].as_str()?.to_string()))
        })
        .collect();
    entries.sort_by(|a, b| b.0.cmp(&a.0));
    let installed = installed_version(config, state);
    let (mut candidates, mut exact) = (Vec::new(), true);
    for (i, (hint, path)) in entries.iter().enumerate() {
        // The index is a hint: only what the signed metadata says of the artifact counts.
        let Some(info) = updater.target_info(&client, path).await? else {
            continue;
        };
        let custom: Value = info
            .custom
            .as_deref()
            .and_then(|c| serde_json::from_slice(c).ok())
            .unwrap_or(Value::Null);
        let signed = custom["version"]
            .as_str()
            .and_then(|v| semver::Version::parse(v).ok());
        exact &= signed == *hint;
        candidates.push(Candidate {
            path: path.clone(),
            custom,
        });
        let next = entries.get(i + 1).and_then(|e| e.0.as_ref());
        let settled = match decide(
            &candidates,
            &config.device,
            installed.as_ref(),
            config.downgrade,
        ) {
            Decision::Install { version, .. } => next.is_none_or(|n| *n <= version),
            Decision::UpToDate => true,
            _ => false,
        };
        if exact && settled {
            break;
        }
    }
    let decision = decide(
        &candidates,
        &config.device,
        installed.as_ref(),
        config.downgrade,
    );
    Ok((decision, versions(&client)))
}

/// Checks for updates, mirror after mirror until one answers with verified metadata.
pub async fn check(config: &Config, state: &State) -> Result<Checked> {
    let root = metadata_dir(config).join("root.json");
    if !root.exists() {
        return Err(Error::Usage(format!(
            "no trusted root in {}: run `otuf-agent init` first",
            root.display()
        )));
    }
    let mut failures: Vec<(usize, String)> = Vec::new();
    for (i, mirror) in config.repository.mirrors.iter().enumerate() {
        match check_mirror(config, mirror, state).await {
            Ok((decision, metadata)) => {
                for (j, why) in &failures {
                    tracing::warn!(
                        "mirror {j} ({}) passed over: {why}",
                        config.repository.mirrors[*j].metadata
                    );
                }
                return Ok(Checked {
                    decision,
                    mirror: i,
                    metadata,
                });
            }
            Err(e) => failures.push((i, e.to_string())),
        }
    }
    Err(Error::Usage(format!(
        "every mirror failed: {}",
        failures
            .iter()
            .map(|(i, why)| format!("mirror {i}: {why}"))
            .collect::<Vec<_>>()
            .join("; ")
    )))
}
