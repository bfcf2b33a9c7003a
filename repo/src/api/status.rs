//! `GET /api/v1/status` (otuf's own): what the portal's operator view shows beside RSTUF's
//! public reads: each online role's version and expiry (delegated roles summed up: thousands
//! of bins), the tasks waiting, and the tasks changed last with their results. When tokens are
//! on it needs an admin token, though it is a read.

use super::{refuse, reply, App};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

/// Tasks the view lists.
const RECENT: u32 = 20;

const TOP_LEVEL: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

/// `GET /api/v1/status`.
pub(super) async fn status(State(app): State<App>) -> Response {
    let repo = app.repo.clone();
    let gathered = tokio::task::spawn_blocking(move || -> crate::error::Result<Value> {
        let roles = repo.store.roles()?;
        let mut shown: Vec<Value> = roles
            .iter()
            .filter(|(name, _)| TOP_LEVEL.contains(&name.as_str()))
            .map(|(name, s)| json!({"role": name, "version": s.version, "expires": s.expires}))
            .collect();
        let delegated: Vec<_> = roles
            .iter()
            .filter(|(name, _)| !TOP_LEVEL.contains(&name.as_str()))
            .collect();
        if let Some((name, first)) = delegated.iter().min_by_key(|(_, s)| s.expires) {
            shown.push(json!({"role": "delegated", "count": delegated.len(),
                              "expires": first.expires, "first_to_expire": name}));
        }
        let tasks: Vec<Value> = repo
            .store
            .recent_tasks(RECENT)?
            .into_iter()
            .map(|t| {
                json!({"id": t.id, "action": t.action, "state": t.state,
                       "result": t.result, "updated": t.updated})
            })
            .collect();
        Ok(json!({
            "bootstrap": repo.bootstrap()?.name(),
            "roles": shown,
            "queued_tasks": repo.store.queued_tasks()?,
            "recent_tasks": tasks,
        }))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r.map_err(|e| e.to_string()));
    match gathered {
        Ok(data) => reply(StatusCode::OK, data, "Repository status."),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "Status unavailable.", &e),
    }
}
