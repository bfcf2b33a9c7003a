//! The task worker: claims every pending task at once and publishes them as one new version
//! (additions arriving together become one publication), then records each task's result in
//! RSTUF's shape. Woken by each accepted request, and every minute to re-sign online roles
//! before they expire.

use crate::publish::Repo;
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

/// Runs forever: publish on notification, re-sign before expiry.
pub async fn worker(repo: Arc<Repo>, wake: Arc<Notify>) {
    loop {
        let r = tokio::task::spawn_blocking({
            let repo = repo.clone();
            move || run_once(&repo)
        })
        .await;
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

/// Claims pending tasks, publishes what they change (and whatever is about to expire), and
/// records their results.
pub fn run_once(repo: &Repo) -> crate::error::Result<()> {
    let tasks = repo.store.claim_tasks()?;
    let (mut bins, mut targets, expiring) = repo.expiring()?;
    let mut staged: BTreeSet<String> = repo
        .store
        .setting("staged_bins")?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let mut results: Vec<(String, Value)> = Vec::new();
    for task in &tasks {
        let publish = task.payload["publish_artifacts"].as_bool().unwrap_or(true);
        let (task_bins, result) = match task.action.as_str() {
            "add_artifacts" => {
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
                let details =
                    json!({"added_artifacts": added, "invalid_paths": [], "artifact_roles": roles});
                (roles, ("Artifact(s) Added", details))
            }
            "remove_artifacts" => {
                let paths: Vec<String> = task.payload["artifacts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect();
                let (removed, missing, bins) = repo.store.delete_artifacts(&paths)?;
                let details = json!({"deleted_artifacts": removed, "not_found_artifacts": missing});
                (bins.into_iter().collect(), ("Artifact(s) removed", details))
            }
            "publish_artifacts" => {
                let all = std::mem::take(&mut staged);
                let details = json!({"published_roles": all});
                (all, ("Publish Artifacts Processed", details))
            }
            other => (BTreeSet::new(), ("Unknown task", json!({"action": other}))),
        };
        if publish {
            bins.extend(task_bins);
        } else {
            staged.extend(task_bins);
        }
        let result =
            json!({"message": result.0, "status": true, "task": task.action, "details": result.1});
        results.push((task.id.clone(), result));
    }
    repo.store
        .set_setting("staged_bins", &serde_json::to_string(&staged)?)?;
    if !bins.is_empty() || expiring || !repo.store.roles()?.iter().any(|(n, _)| n == "timestamp") {
        targets |= !repo.store.roles()?.iter().any(|(n, _)| n == "targets");
        match repo.publish(&bins, targets) {
            Ok(_) => tracing::info!(
                "published {} bin(s) for {} task(s)",
                bins.len(),
                tasks.len()
            ),
            Err(e) => {
                for (id, _) in &results {
                    let r = json!({"message": "Publishing failed", "status": false, "error": e.to_string(), "last_update": last_update()});
                    repo.store.finish_task(id, "SUCCESS", &r)?;
                }
                return Err(e);
            }
        }
    }
    for (id, mut result) in results {
        result["last_update"] = json!(last_update());
        repo.store.finish_task(&id, "SUCCESS", &result)?;
    }
    Ok(())
}
