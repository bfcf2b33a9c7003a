//! The task worker: claims every pending task at once and runs them in order. Consecutive
//! artifact tasks are published as one new version (additions arriving together become one
//! publication); administrative tasks (bootstrap, root signing and rotation, settings, forced
//! re-signing) run one at a time between them. Results are recorded in RSTUF's shape. Woken by
//! each accepted request, and every minute to re-sign online roles before they expire.

use crate::error::Result;
use crate::publish::Repo;
use crate::store::Task;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// RSTUF's `last_update`: ISO-8601 UTC with microseconds and `Z`.
pub fn last_update() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = crate::publish::expires::format(d.as_secs() as i64);
    format!("{}.{:06}Z", s.trim_end_matches('Z'), d.subsec_micros())
}

/// A task's result, as RSTUF reports it (`status: false` shows as state `ERRORED`).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Whether the task did what it was asked.
    pub status: bool,
    /// RSTUF's fixed message.
    pub message: String,
    /// Why it failed.
    pub error: Option<String>,
    /// What it did.
    pub details: Value,
}

impl Outcome {
    /// Success.
    pub fn ok(message: &str, details: Value) -> Self {
        Self {
            status: true,
            message: message.into(),
            error: None,
            details,
        }
    }

    /// Failure, saying why.
    pub fn failed(message: &str, error: String) -> Self {
        Self {
            status: false,
            message: message.into(),
            error: Some(error),
            details: Value::Null,
        }
    }

    fn to_json(&self, task: &str) -> Value {
        let mut r = json!({"message": self.message, "status": self.status, "task": task,
                           "last_update": last_update()});
        if let Some(e) = &self.error {
            r["error"] = json!(e);
        }
        if !self.details.is_null() {
            r["details"] = self.details.clone();
        }
        r
    }
}

/// Runs forever: run tasks on notification, re-sign before expiry.
pub async fn worker(repo: Arc<Repo>, wake: Arc<Notify>) {
    let mut first = true;
    loop {
        let r = tokio::task::spawn_blocking({
            let repo = repo.clone();
            move || run_once(&repo, first)
        })
        .await;
        first = false;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("publication failed: {e}"),
            Err(e) => tracing::error!("worker panicked: {e}"),
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// Artifact tasks waiting for one publication.
#[derive(Default)]
struct Batch {
    bins: BTreeSet<String>,
    targets: bool,
    results: Vec<(String, String, Outcome)>,
}

impl Batch {
    /// Applies an artifact task to the database; its bins are published with the batch.
    fn add(&mut self, repo: &Repo, staged: &mut BTreeSet<String>, task: &Task) -> Result<()> {
        let publish = task.payload["publish_artifacts"].as_bool().unwrap_or(true);
        let (bins, outcome) = match task.action.as_str() {
            "add_artifacts" => add_artifacts(repo, task)?,
            "remove_artifacts" => {
                let paths: Vec<String> = task.payload["artifacts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect();
                let (removed, missing, bins) = repo.store.delete_artifacts(&paths)?;
                let details = json!({"deleted_artifacts": removed, "not_found_artifacts": missing});
                (
                    bins.into_iter().collect(),
                    Outcome::ok("Artifact(s) removed", details),
                )
            }
            _ => {
                let all = std::mem::take(staged);
                let details = json!({"published_roles": all});
                (all, Outcome::ok("Publish Artifacts Processed", details))
            }
        };
        if publish {
            self.bins.extend(bins);
        } else {
            staged.extend(bins);
        }
        self.results
            .push((task.id.clone(), task.action.clone(), outcome));
        Ok(())
    }

    /// Publishes what the batch (and expiry, or at start-up a crash) requires, then records the
    /// results.
    fn flush(&mut self, repo: &Repo, startup: bool) -> Result<()> {
        let (bins, targets, refresh) = repo.to_refresh(startup)?;
        self.bins.extend(bins);
        self.targets |= targets;
        let published = if self.bins.is_empty() && !self.targets && !refresh {
            Ok(())
        } else {
            repo.publish(&self.bins, self.targets).map(|_| {
                tracing::info!(
                    "published {} bin(s) for {} task(s)",
                    self.bins.len(),
                    self.results.len()
                );
            })
        };
        for (id, action, outcome) in self.results.drain(..) {
            let outcome = match &published {
                Ok(()) => outcome,
                Err(e) => Outcome::failed("Publishing failed", e.to_string()),
            };
            repo.store
                .finish_task(&id, "SUCCESS", &outcome.to_json(&action))?;
        }
        self.bins.clear();
        self.targets = false;
        published
    }
}

fn add_artifacts(repo: &Repo, task: &Task) -> Result<(BTreeSet<String>, Outcome)> {
    let mut rows = Vec::new();
    let mut roles = BTreeSet::new();
    for a in task.payload["artifacts"].as_array().into_iter().flatten() {
        let path = a["path"].as_str().unwrap_or_default().to_string();
        let mut info = a["info"].clone();
        if task.payload["add_task_id_to_custom"].as_bool() == Some(true) {
            info["custom"]["added_by_task_id"] = json!(task.id);
        }
        if info.get("custom").is_some_and(Value::is_null) {
            if let Some(o) = info.as_object_mut() {
                o.remove("custom");
            }
        }
        let bin = repo.bin_for(&path)?;
        roles.insert(bin.clone());
        rows.push((path, bin, info));
    }
    repo.store.upsert_artifacts(&rows)?;
    let added: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let details = json!({"added_artifacts": added, "invalid_paths": [], "artifact_roles": roles});
    Ok((roles, Outcome::ok("Artifact(s) Added", details)))
}

/// `update_settings`: new expiries (days) for online roles.
fn update_settings(repo: &Repo, payload: &Value) -> Result<Outcome> {
    let mut expiry: crate::publish::Expiry = repo.json_setting("expiration")?;
    let (mut updated, mut invalid) = (Vec::new(), Vec::new());
    for (role, days) in payload["settings"]["expiration"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let slot = match role.as_str() {
            "targets" => &mut expiry.targets,
            "snapshot" => &mut expiry.snapshot,
            "timestamp" => &mut expiry.timestamp,
            "bins" => &mut expiry.bins,
            _ => {
                invalid.push(role.clone());
                continue;
            }
        };
        match days.as_i64().filter(|d| *d > 0) {
            Some(d) => {
                *slot = d;
                updated.push(role.clone());
            }
            None => invalid.push(role.clone()),
        }
    }
    repo.store
        .set_settings(&[("expiration", Some(&serde_json::to_string(&expiry)?))])?;
    repo.reload()?;
    Ok(Outcome::ok(
        "Update Settings Succeded",
        json!({"updated_roles": updated, "invalid_roles": invalid}),
    ))
}

/// `force_online_metadata_update`: re-signs the given online roles now (and, as they depend
/// on them, snapshot and timestamp).
fn force_online(repo: &Repo, payload: &Value) -> Result<Outcome> {
    let online = repo.online()?;
    let mut roles: Vec<String> = payload["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(String::from))
        .collect();
    if roles.is_empty() {
        roles = ["targets", "bins"].map(String::from).to_vec();
    }
    let targets = roles.iter().any(|r| r == "targets");
    let bins: BTreeSet<String> = if roles.iter().any(|r| r == "bins") {
        online.layout.names().into_iter().collect()
    } else {
        BTreeSet::new()
    };
    repo.publish(&bins, targets)?;
    let mut updated: Vec<&str> = ["targets", "bins"]
        .into_iter()
        .filter(|r| roles.iter().any(|x| x == r))
        .collect();
    updated.extend(["snapshot", "timestamp"]);
    Ok(Outcome::ok(
        "Force new online metadata update succeeded",
        json!({"updated_roles": updated}),
    ))
}

/// Claims pending tasks and runs them (see the module documentation). At `startup`, files a
/// crash kept from being written are re-signed too.
pub fn run_once(repo: &Repo, startup: bool) -> Result<()> {
    let tasks = repo.store.claim_tasks()?;
    let mut staged: BTreeSet<String> = repo.json_setting("staged_bins")?;
    let mut batch = Batch::default();
    for task in &tasks {
        let admin = match task.action.as_str() {
            "add_artifacts" | "remove_artifacts" | "publish_artifacts" => {
                if repo.online().is_ok() {
                    batch.add(repo, &mut staged, task)?;
                    continue;
                }
                Ok(Outcome::failed(
                    "Task not accepted.",
                    "It requires bootstrap finished".into(),
                ))
            }
            other => {
                if let Err(e) = batch.flush(repo, startup) {
                    tracing::error!("publication failed: {e}");
                }
                match other {
                    "bootstrap" => crate::root::bootstrap(repo, &task.id, &task.payload),
                    "metadata_update" => crate::root::update(repo, &task.payload),
                    "sign_metadata" => crate::root::sign(repo, &task.payload),
                    "delete_sign_metadata" => crate::root::delete_sign(repo, &task.payload),
                    "update_settings" => update_settings(repo, &task.payload),
                    "force_online_metadata_update" => force_online(repo, &task.payload),
                    _ => Ok(Outcome::failed("Unknown task", format!("action {other}"))),
                }
            }
        };
        let outcome = admin.unwrap_or_else(|e| Outcome::failed("Task failed", e.to_string()));
        if !outcome.status {
            tracing::warn!(
                "task {} ({}) failed: {:?}",
                task.id,
                task.action,
                outcome.error
            );
        }
        repo.store
            .finish_task(&task.id, "SUCCESS", &outcome.to_json(&task.action))?;
    }
    repo.store
        .set_settings(&[("staged_bins", Some(&serde_json::to_string(&staged)?))])?;
    batch.flush(repo, startup)
}
