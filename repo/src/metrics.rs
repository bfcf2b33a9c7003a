//! `GET /metrics`, in Prometheus' text format: requests and tasks this process handled, its
//! publication latency, and, read from the shared state at each scrape, the tasks still queued
//! (across every process) and the time until the earliest expiry of an online role.

use crate::publish::Repo;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the publication latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// What this process counted since it started.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    tasks: Mutex<BTreeMap<(String, bool), u64>>,
    publish: Mutex<([u64; BUCKETS.len()], u64, f64)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A request path's route family: few enough values for a label.
pub fn route(path: &str) -> &'static str {
    const API: [&str; 7] = [
        "artifacts",
        "bootstrap",
        "config",
        "delegations",
        "metadata",
        "task",
        "openapi.json",
    ];
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        let first = rest.split('/').next().unwrap_or_default();
        return match API.iter().find(|a| **a == first) {
            Some(&"artifacts") => "/api/v1/artifacts",
            Some(&"bootstrap") => "/api/v1/bootstrap",
            Some(&"config") => "/api/v1/config",
            Some(&"delegations") => "/api/v1/delegations",
            Some(&"metadata") => "/api/v1/metadata",
            Some(&"task") => "/api/v1/task",
            _ => "/api/v1/other",
        };
    }
    match path.split('/').nth(1) {
        Some("metadata") => "/metadata",
        Some("targets") => "/targets",
        Some("metrics") => "/metrics",
        _ => "other",
    }
}

impl Metrics {
    /// A request answered.
    pub fn request(&self, route: &'static str, status: u16) {
        *lock(&self.requests).entry((route, status)).or_default() += 1;
    }

    /// A task finished (`status`: whether it did what it was asked).
    pub fn task(&self, action: &str, status: bool) {
        *lock(&self.tasks)
            .entry((action.to_string(), status))
            .or_default() += 1;
    }

    /// A new version published in `took`.
    pub fn published(&self, took: Duration) {
        let s = took.as_secs_f64();
        let mut h = lock(&self.publish);
        for (i, le) in BUCKETS.iter().enumerate() {
            if s <= *le {
                h.0[i] += 1;
            }
        }
        h.1 += 1;
        h.2 += s;
    }

    /// The text exposition.
    pub fn render(&self, repo: &Repo) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP otuf_requests_total HTTP requests this process answered, by route and status.\n# TYPE otuf_requests_total counter");
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "otuf_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP otuf_tasks_total Tasks this process ran, by action and outcome.\n# TYPE otuf_tasks_total counter");
        for ((action, status), n) in lock(&self.tasks).iter() {
            let _ = writeln!(
                out,
                "otuf_tasks_total{{action=\"{action}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP otuf_publish_seconds Time to sign, verify and write a new version.\n# TYPE otuf_publish_seconds histogram");
        {
            let h = lock(&self.publish);
            for (le, n) in BUCKETS.iter().zip(h.0) {
                let _ = writeln!(out, "otuf_publish_seconds_bucket{{le=\"{le}\"}} {n}");
            }
            let _ = writeln!(out, "otuf_publish_seconds_bucket{{le=\"+Inf\"}} {}\notuf_publish_seconds_sum {}\notuf_publish_seconds_count {}", h.1, h.2, h.1);
        }
        if let Ok(n) = repo.store.queued_tasks() {
            let _ = writeln!(out, "# HELP otuf_tasks_queued Tasks accepted and not finished yet, by every process.\n# TYPE otuf_tasks_queued gauge\notuf_tasks_queued {n}");
        }
        if let Some(s) = repo.earliest_expiry() {
            let _ = writeln!(out, "# HELP otuf_expiry_seconds Seconds until the earliest expiry of a role signed online (re-signed well before).\n# TYPE otuf_expiry_seconds gauge\notuf_expiry_seconds {}", s - crate::publish::now());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn routes_are_few() {
        assert_eq!(
            super::route("/api/v1/artifacts/upload/a/b.bin"),
            "/api/v1/artifacts"
        );
        assert_eq!(super::route("/api/v1/task/"), "/api/v1/task");
        assert_eq!(super::route("/metadata/1.root.json"), "/metadata");
        assert_eq!(super::route("/api/v1/x"), "/api/v1/other");
        assert_eq!(super::route("/favicon.ico"), "other");
    }
}
