//! The task worker: claims every pending task at once and runs them in order. Consecutive
//! artifact tasks are published as one new version (additions arriving together become one
//! publication); administrative tasks (bootstrap, root signing and rotation, settings, forced
//! re-signing) run one at a time between them. Results are recorded in RSTUF's shape. Woken by
//! each accepted request, and every minute to re-sign online roles before they expire.

use crate::error::Result;
use crate::publish::Repo;
use crate::store::{Change, Task};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The strings of a JSON array (a payload's role or path list); anything else, none.
fn strings<B: FromIterator<String>>(list: &Value) -> B {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

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
pub async fn worker(repo: Arc<Repo>, wake: Arc<Wake>) {
    let mut first = true;
    let mut housekept: Option<tokio::time::Instant> = None;
    loop {
        let housekeep = housekept.is_none_or(|t| t.elapsed() >= repo.housekeeping.every);
        if housekeep {
            housekept = Some(tokio::time::Instant::now());
        }
        let r = tokio::task::spawn_blocking({
            let repo = repo.clone();
            move || run_once(&repo, first, housekeep)
        })
        .await;
        first = false;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("publication failed: {e}"),
            Err(e) => tracing::error!("worker panicked: {e}"),
        }
        // Other processes on a shared store may leave tasks this one must run (their own
        // worker died with them): look every second.
        let idle = if repo.store.is_shared() {
            SHARED_POLL
        } else {
            EXPIRY_CHECK
        }
        .min(repo.housekeeping.every);
        tokio::select! {
            () = wake.notify.notified() => gather(&wake).await,
            () = tokio::time::sleep(idle) => {}
        }
    }
}

/// Wakes the worker when tasks are recorded, and counts the requests being recorded now.
#[derive(Default)]
pub struct Wake {
    /// Tasks were recorded.
    pub notify: Notify,
    /// Requests handed to the task recorder and not yet committed.
    pub in_flight: std::sync::atomic::AtomicUsize,
}

impl Wake {
    fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Group publication: while requests are still being recorded, waits until none has been for
/// [`QUIET`] (at most [`GATHER`]), so that requests sent together become one publication
/// rather than one for the first and another for the rest. A lone addition does not wait.
async fn gather(wake: &Wake) {
    let started = tokio::time::Instant::now();
    while started.elapsed() < GATHER && wake.in_flight() > 0 {
        if tokio::time::timeout(QUIET, wake.notify.notified())
            .await
            .is_err()
            && wake.in_flight() == 0
        {
            return;
        }
    }
}

/// How often expiries are checked.
const EXPIRY_CHECK: Duration = Duration::from_secs(60);
/// How often a process on a shared store looks for tasks left by others.
const SHARED_POLL: Duration = Duration::from_secs(1);

/// How long no new task must arrive before a publication starts.
const QUIET: Duration = Duration::from_millis(5);
/// The longest a publication waits for more tasks.
const GATHER: Duration = Duration::from_millis(40);

/// Artifact tasks waiting for one publication.
#[derive(Default)]
struct Batch {
    bins: BTreeSet<String>,
    targets: bool,
    /// Roles whose changes wait for a `publish_artifacts` (`publish_artifacts: false`).
    staged: BTreeSet<String>,
    results: Vec<(String, String, Outcome)>,
    /// Artifact changes not yet in the store, with their result's index and publish flag:
    /// applied together, in order, in one transaction.
    changes: Vec<(usize, bool, Change)>,
}

impl Batch {
    /// Takes an artifact task into the batch; its roles are published with the batch.
    fn add(&mut self, repo: &Repo, task: &Task) -> Result<()> {
        let publish = task.payload["publish_artifacts"].as_bool().unwrap_or(true);
        let index = self.results.len();
        let outcome = match task.action.as_str() {
            "add_artifacts" => {
                let (rows, roles, outcome) = add_artifacts(repo, task)?;
                self.route(publish, roles);
                self.changes.push((index, publish, Change::Upsert(rows)));
                outcome
            }
            "import_artifacts" => {
                // Its rows are in the store already (written with the task): only its roles
                // are re-signed.
                let roles: BTreeSet<String> = strings(&task.payload["roles"]);
                self.route(publish, roles);
                Outcome::ok(
                    "Artifact(s) imported",
                    json!({"imported_artifacts": task.payload["artifacts"]}),
                )
            }
            "remove_artifacts" => {
                let paths: Vec<String> = strings(&task.payload["artifacts"]);
                self.changes.push((index, publish, Change::Delete(paths)));
                Outcome::ok("Artifact(s) removed", Value::Null) // details once applied
            }
            _ => {
                self.apply(repo)?; // staged removals before it count
                let all = std::mem::take(&mut self.staged);
                let details = json!({"published_roles": all});
                self.route(true, all);
                Outcome::ok("Publish Artifacts Processed", details)
            }
        };
        self.results
            .push((task.id.clone(), task.action.clone(), outcome));
        Ok(())
    }

    fn route(&mut self, publish: bool, roles: impl IntoIterator<Item = String>) {
        if publish {
            self.bins.extend(roles);
        } else {
            self.staged.extend(roles);
        }
    }

    /// Applies the pending artifact changes to the store, and completes removals' results.
    fn apply(&mut self, repo: &Repo) -> Result<()> {
        if self.changes.is_empty() {
            return Ok(());
        }
        let changes = std::mem::take(&mut self.changes);
        let found = repo
            .store
            .apply(&changes.iter().map(|(_, _, c)| c).collect::<Vec<_>>())?;
        // Device indexes follow their models' artifacts (published or staged with them).
        let (mut published, mut staged) = (BTreeSet::new(), BTreeSet::new());
        for ((index, publish, change), deleted) in changes.iter().zip(found) {
            let models = if *publish {
                &mut published
            } else {
                &mut staged
            };
            if let Change::Upsert(rows) = change {
                models.extend(
                    rows.iter()
                        .filter_map(|(_, _, info)| info["custom"]["hardware"].as_str())
                        .map(String::from),
                );
            }
            let Some(d) = deleted else { continue };
            models.extend(d.hardware.iter().cloned());
            if let Some((_, _, outcome)) = self.results.get_mut(*index) {
                outcome.details =
                    json!({"deleted_artifacts": d.removed, "not_found_artifacts": d.missing});
            }
            // An artifact no role is trusted for is listed nowhere: nothing to re-sign.
            self.route(*publish, d.roles.into_iter().filter(|r| !r.is_empty()));
        }
        staged.retain(|h| !published.contains(h));
        for (publish, models) in [(true, published), (false, staged)] {
            if !models.is_empty() {
                let roles = crate::index::refresh(repo, &models)?;
                self.route(publish, roles);
            }
        }
        Ok(())
    }

    /// Publishes what the batch (and expiry, or at start-up a crash) requires, then records the
    /// results.
    fn flush(&mut self, repo: &Repo, startup: bool) -> Result<()> {
        self.apply(repo)?;
        let (bins, targets, refresh) = repo.to_refresh(startup)?;
        self.bins.extend(bins);
        // A role deleted since its artifacts were staged is not delegated any more; a role
        // with keys of its own gets a version for its holders to sign.
        let mut offline = BTreeSet::new();
        if let Ok(online) = repo.online() {
            if let crate::publish::Delegations::Custom(c) = &online.delegations {
                offline = self
                    .bins
                    .iter()
                    .filter(|b| c.role(b).is_some_and(|r| !r.is_online()))
                    .cloned()
                    .collect();
            }
            self.bins.retain(|b| online.signed_roles.contains(b));
        }
        for role in &offline {
            crate::delegate::stage(repo, role)?;
        }
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
        let results: Vec<(String, Value)> = self
            .results
            .drain(..)
            .map(|(id, action, outcome)| {
                let outcome = match &published {
                    Ok(()) => outcome,
                    Err(e) => Outcome::failed("Publishing failed", e.to_string()),
                };
                (id, outcome.to_json(&action))
            })
            .collect();
        let rows: Vec<(&str, &str, &Value)> = results
            .iter()
            .map(|(id, r)| (id.as_str(), "SUCCESS", r))
            .collect();
        for (_, r) in &results {
            repo.metrics
                .task(r["task"].as_str().unwrap_or_default(), r["status"] == true);
        }
        repo.store.finish_tasks(&rows)?;
        self.bins.clear();
        self.targets = false;
        published
    }
}

/// An `add_artifacts` task's rows (not yet stored), the roles they go to, and its result.
type Added = (Vec<(String, String, Value)>, BTreeSet<String>, Outcome);

fn add_artifacts(repo: &Repo, task: &Task) -> Result<Added> {
    let online = repo.online()?;
    let (mut rows, mut invalid) = (Vec::new(), Vec::new());
    let mut roles = BTreeSet::new();
    for a in task.payload["artifacts"].as_array().into_iter().flatten() {
        let path = a["path"].as_str().unwrap_or_default().to_string();
        // With custom delegations, a path no role is trusted for is not added (RSTUF's
        // `invalid_paths`); with bins every path has its bin.
        let Some(bin) = online.role_for(&path)? else {
            invalid.push(path);
            continue;
        };
        let mut info = a["info"].clone();
        if task.payload["add_task_id_to_custom"].as_bool() == Some(true) {
            info["custom"]["added_by_task_id"] = json!(task.id);
        }
        if info.get("custom").is_some_and(Value::is_null) {
            if let Some(o) = info.as_object_mut() {
                o.remove("custom");
            }
        }
        roles.insert(bin.clone());
        rows.push((path, bin, info));
    }
    let added: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let mut details =
        json!({"added_artifacts": added, "invalid_paths": invalid, "artifact_roles": roles});
    // In a role with keys of its own, they are listed once its holders sign the new version.
    let waiting: Vec<&String> = roles
        .iter()
        .filter(|r| !online.signed_roles.contains(*r))
        .collect();
    if !waiting.is_empty() {
        details["roles_awaiting_signatures"] = json!(waiting);
    }
    Ok((rows, roles, Outcome::ok("Artifact(s) Added", details)))
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
    let mut roles: Vec<String> = strings(&payload["roles"]);
    let delegated = online.delegations.online_names();
    let custom = matches!(online.delegations, crate::publish::Delegations::Custom(_));
    if roles.is_empty() {
        roles = vec!["targets".into()];
        roles.extend(if custom {
            delegated.clone()
        } else {
            vec!["bins".into()]
        });
    }
    let mut bins = BTreeSet::new();
    for role in &roles {
        match role.as_str() {
            "targets" | "snapshot" | "timestamp" => {}
            "bins" if !custom => bins.extend(delegated.iter().cloned()),
            "bins" => {
                return Ok(Outcome::failed(
                    "Force new online metadata update failed",
                    "Custom target delegation used and bins cannot be bumped".into(),
                ))
            }
            name if custom && delegated.iter().any(|d| d == name) => {
                bins.insert(name.to_string());
            }
            name => {
                return Ok(Outcome::failed(
                    "Force new online metadata update failed",
                    format!("{name} is not a role the online key signs"),
                ))
            }
        }
    }
    let targets = roles.iter().any(|r| r == "targets");
    repo.publish(&bins, targets)?;
    let mut updated: Vec<&str> = roles
        .iter()
        .map(String::as_str)
        .filter(|r| !matches!(*r, "snapshot" | "timestamp"))
        .collect();
    updated.extend(["snapshot", "timestamp"]);
    Ok(Outcome::ok(
        "Force new online metadata update succeeded",
        json!({"updated_roles": updated}),
    ))
}

/// Claims pending tasks and runs them (see the module documentation), holding the publication
/// lock: with several processes on one store, whichever takes it runs every process's pending
/// tasks, and expiry refresh happens once per interval, since the next holder finds the roles
/// re-signed. At `startup`, files a crash kept from being written are re-signed too.
pub fn run_once(repo: &Repo, startup: bool, housekeep: bool) -> Result<()> {
    let _lock = repo.store.lock_publication()?;
    repo.catch_up()?;
    let r = run_claimed(repo, startup);
    if housekeep && repo.online().is_ok() {
        match crate::housekeeping::run(repo, &repo.housekeeping, std::time::SystemTime::now()) {
            Ok(removed) => tracing::info!(
                "housekeeping: removed {} old metadata file(s), {} finished task(s)",
                removed.files.len(),
                removed.tasks
            ),
            Err(e) => tracing::error!("housekeeping: {e}"),
        }
    }
    repo.note_generation()?;
    r
}

fn run_claimed(repo: &Repo, startup: bool) -> Result<()> {
    let tasks = repo.store.claim_tasks()?;
    let staged_at_start: BTreeSet<String> = repo.json_setting("staged_bins")?;
    let mut batch = Batch {
        staged: staged_at_start.clone(),
        ..Batch::default()
    };
    for task in &tasks {
        let admin = match task.action.as_str() {
            "add_artifacts" | "remove_artifacts" | "publish_artifacts" | "import_artifacts" => {
                if repo.online().is_ok() {
                    batch.add(repo, task)?;
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
                    "sign_metadata" if task.payload["role"] != json!("root") => {
                        crate::delegate::sign(repo, &task.payload)
                    }
                    "sign_metadata" => crate::root::sign(repo, &task.payload),
                    "delete_sign_metadata" if task.payload["role"] != json!("root") => {
                        crate::delegate::delete_sign(
                            repo,
                            task.payload["role"].as_str().unwrap_or_default(),
                        )
                    }
                    "delete_sign_metadata" => crate::root::delete_sign(repo, &task.payload),
                    "update_settings" => update_settings(repo, &task.payload),
                    "force_online_metadata_update" => force_online(repo, &task.payload),
                    "metadata_delegation" => crate::delegate::change(repo, &task.payload),
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
        repo.metrics.task(&task.action, outcome.status);
        repo.store
            .finish_task(&task.id, "SUCCESS", &outcome.to_json(&task.action))?;
    }
    let before = staged_at_start;
    let published = batch.flush(repo, startup);
    if batch.staged != before {
        let staged = serde_json::to_string(&batch.staged)?;
        repo.store.set_settings(&[("staged_bins", Some(&staged))])?;
    }
    published
}
