//! The REST API, compatible with RSTUF's v1: same routes (with and without the trailing
//! slash), payloads, status codes, envelopes and message strings.

mod artifacts;

use crate::publish::Repo;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Notify;

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    /// The repository (None until bootstrapped).
    pub repo: Option<Arc<Repo>>,
    /// Wakes the task worker.
    pub wake: Arc<Notify>,
}

/// `{"data": .., "message": ..}` with a status.
pub fn reply(status: StatusCode, data: Value, message: &str) -> Response {
    (status, Json(json!({"data": data, "message": message}))).into_response()
}

/// `{"detail": {"message": .., "error": ..}}` with a status.
pub fn refuse(status: StatusCode, message: &str, error: &str) -> Response {
    (
        status,
        Json(json!({"detail": {"message": message, "error": error}})),
    )
        .into_response()
}

/// The `/api/v1` router (each collection route answers with and without its trailing slash).
pub fn router(app: App) -> Router {
    let both = |r: Router<App>, path: &str, m: axum::routing::MethodRouter<App>| {
        let alt = if let Some(p) = path.strip_suffix('/') {
            p.to_string()
        } else {
            format!("{path}/")
        };
        r.route(path, m.clone()).route(&alt, m)
    };
    let mut r = Router::new();
    r = both(r, "/api/v1/bootstrap/", get(bootstrap_state));
    r = both(r, "/api/v1/artifacts/", post(artifacts::add));
    r = both(r, "/api/v1/artifacts/delete", post(artifacts::delete));
    r = both(r, "/api/v1/artifacts/publish/", post(artifacts::publish));
    r = both(r, "/api/v1/task/", get(task));
    // Firmware images are large: this route streams its body to disk, unbounded by axum's 2 MB.
    r = r.route(
        "/api/v1/artifacts/upload/{*path}",
        post(artifacts::upload).layer(axum::extract::DefaultBodyLimit::disable()),
    );
    r.with_state(app)
}

async fn bootstrap_state(State(app): State<App>) -> Response {
    match &app.repo {
        Some(repo) => {
            let id = repo.store.setting("bootstrap").ok().flatten();
            reply(
                StatusCode::OK,
                json!({"bootstrap": true, "state": "finished", "id": id}),
                "System LOCKED for bootstrap.",
            )
        }
        None => reply(
            StatusCode::OK,
            json!({"bootstrap": false}),
            "System available for bootstrap.",
        ),
    }
}

#[derive(serde::Deserialize)]
struct TaskQuery {
    task_id: Option<String>,
}

async fn task(State(app): State<App>, Query(q): Query<TaskQuery>) -> Response {
    let Some(id) = q.task_id else {
        let detail = json!([{"type": "missing", "loc": ["query", "task_id"], "msg": "Field required", "input": null}]);
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"detail": detail})),
        )
            .into_response();
    };
    let found = app.repo.as_ref().map(|r| r.store.task(&id));
    let (state, result) = match found {
        Some(Ok(Some((state, result)))) => {
            // RSTUF reports a finished task whose result failed as ERRORED.
            let failed = result.as_ref().is_some_and(|r| r["status"] != json!(true));
            (
                if state == "SUCCESS" && failed {
                    "ERRORED".to_string()
                } else {
                    state
                },
                result.unwrap_or(json!({})),
            )
        }
        Some(Err(e)) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Task state unavailable.",
                &e.to_string(),
            )
        }
        _ => ("PENDING".to_string(), json!({})),
    };
    reply(
        StatusCode::OK,
        json!({"task_id": id, "state": state, "result": result}),
        "Task state.",
    )
}
