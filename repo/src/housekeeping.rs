//! Housekeeping, run by whichever process holds the publication lock, once an hour: metadata
//! versions beyond the newest `keep_versions` of each role are removed from storage once their
//! successor has been published for `keep_for` (a device part-way through an update may still
//! fetch the state it started from), and finished tasks are forgotten after `task_retention`
//! (RSTUF loses them after 24 hours; the default here is 30 days). Root files always stay:
//! clients walk the whole chain of roots.

use crate::error::Result;
use crate::publish::Repo;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// What housekeeping keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Versions of each role kept whatever their age (the current one among them).
    pub keep_versions: u64,
    /// How long an old version stays after its successor was published.
    pub keep_for: Duration,
    /// How long a finished task's result can be read.
    pub task_retention: Duration,
    /// How often it runs.
    pub every: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            keep_versions: 10,
            keep_for: Duration::from_secs(24 * 3600),
            task_retention: Duration::from_secs(30 * 86_400),
            every: Duration::from_secs(3600),
        }
    }
}

/// What one run removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Metadata files.
    pub files: Vec<String>,
    /// Finished tasks.
    pub tasks: u64,
}

/// `V.<role>.json` as `(role, V)`; `None` for roots and unversioned files.
fn versioned(name: &str) -> Option<(&str, u64)> {
    let (version, rest) = name.split_once('.')?;
    let role = rest.strip_suffix(".json")?;
    (role != "root").then_some(())?;
    Some((role, version.parse().ok()?))
}

/// One run, at `now`. Call it holding the publication lock.
pub fn run(repo: &Repo, policy: &Policy, now: SystemTime) -> Result<Removed> {
    let mut removed = Removed::default();
    let mut by_role: BTreeMap<&str, BTreeMap<u64, (&str, SystemTime)>> = BTreeMap::new();
    let listed = repo.storage.list("metadata")?;
    for (name, modified) in &listed {
        if let Some((role, version)) = versioned(name) {
            by_role
                .entry(role)
                .or_default()
                .insert(version, (name, *modified));
        }
    }
    let current: BTreeMap<String, u64> =
        repo.with_role_table(|t| t.iter().map(|(n, s)| (n.clone(), s.version)).collect())?;
    for (role, versions) in &by_role {
        let Some(&current) = current.get(*role) else {
            continue; // not in the state: nothing known of it, nothing removed
        };
        let oldest_kept = current.saturating_sub(policy.keep_versions.saturating_sub(1));
        for (&version, &(name, _)) in versions {
            // The next newer version's age decides: it replaced this one then.
            let Some((_, &(_, replaced_at))) = versions.range(version + 1..).next() else {
                continue;
            };
            let settled = now
                .duration_since(replaced_at)
                .is_ok_and(|age| age >= policy.keep_for);
            if version < oldest_kept && settled {
                repo.storage.delete(&format!("metadata/{name}"))?;
                removed.files.push(name.to_string());
            }
        }
    }
    let before = now
        .checked_sub(policy.task_retention)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    removed.tasks = repo.store.forget_tasks(before)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_tasks_are_forgotten_after_the_retention_and_queued_ones_never() {
        let data = tempfile::tempdir().unwrap();
        let repo = Repo::open(data.path(), &data.path().join("keys"), None, None).unwrap();
        let task = |id: &str| {
            (
                id.to_string(),
                "add_artifacts".to_string(),
                serde_json::json!({}),
            )
        };
        repo.store
            .insert_tasks(&[task("done"), task("queued")])
            .unwrap();
        repo.store
            .finish_task("done", "SUCCESS", &serde_json::json!({}))
            .unwrap();
        let policy = Policy {
            task_retention: Duration::from_secs(3600),
            ..Policy::default()
        };
        // Within the retention: kept.
        assert_eq!(run(&repo, &policy, SystemTime::now()).unwrap().tasks, 0);
        assert!(repo.store.task("done").unwrap().is_some());
        // Past it: the finished one is gone, the queued one stays.
        let later = SystemTime::now() + Duration::from_secs(3601);
        assert_eq!(run(&repo, &policy, later).unwrap().tasks, 1);
        assert!(repo.store.task("done").unwrap().is_none());
        assert_eq!(
            repo.store.task("queued").unwrap().map(|t| t.0).as_deref(),
            Some("PENDING")
        );
    }

    #[test]
    fn only_versioned_files_other_than_roots_are_candidates() {
        assert_eq!(versioned("12.bins-3.json"), Some(("bins-3", 12)));
        assert_eq!(versioned("4.snapshot.json"), Some(("snapshot", 4)));
        assert_eq!(versioned("3.root.json"), None);
        assert_eq!(versioned("timestamp.json"), None);
        assert_eq!(versioned("x.targets.json"), None);
    }
}
