//! The REST API, compatible with RSTUF's v1: same routes (with and without the trailing
//! slash), payloads, status codes, envelopes and message strings.

// Handlers' refusals are the HTTP responses themselves, passed up with `?`.
#![allow(clippy::result_large_err)]

mod artifacts;
mod bootstrap;
mod config;
mod delegations;
mod import;
mod listing;
mod metadata;
mod status;

use crate::publish::{Bootstrap, Repo};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    /// The repository.
    pub repo: Arc<Repo>,
    /// Wakes the task worker.
    pub wake: Arc<crate::tasks::Wake>,
    /// Bearer tokens and their scopes; empty: no authentication (RSTUF's default).
    pub tokens: Arc<Vec<(Scope, String)>>,
    /// Queue to the task recorder (group commit).
    pub record: tokio::sync::mpsc::UnboundedSender<Submission>,
}

/// A task to record, and where to say when it is durable.
pub type Submission = (
    (String, String, serde_json::Value),
    tokio::sync::oneshot::Sender<Result<(), String>>,
);

/// Records queued tasks in batches: everything waiting when a commit starts goes into it.
pub async fn recorder(
    repo: Arc<Repo>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Submission>,
    wake: Arc<crate::tasks::Wake>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = queue.try_recv() {
            batch.push(more);
        }
        let (tasks, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let r = tokio::task::spawn_blocking({
            let repo = repo.clone();
            move || repo.store.insert_tasks(&tasks).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        wake.in_flight
            .fetch_sub(replies.len(), std::sync::atomic::Ordering::Release);
        wake.notify.notify_one();
        for reply in replies {
            let _ = reply.send(r.clone());
        }
    }
}

/// What a bearer token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Add, remove and publish artifacts.
    Publish,
    /// Everything, including bootstrap, root metadata, settings and delegations.
    Admin,
}

/// Reads `scope token` lines (`publish` or `admin`; `#` comments).
pub fn parse_tokens(text: &str) -> Result<Vec<(Scope, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (scope, token) = line
            .split_once(char::is_whitespace)
            .ok_or(format!("line {}: expected `scope token`", n + 1))?;
        let scope = match scope {
            "publish" => Scope::Publish,
            "admin" => Scope::Admin,
            other => {
                return Err(format!(
                    "line {}: unknown scope `{other}` (publish, admin)",
                    n + 1
                ))
            }
        };
        let token = token.trim();
        if token.len() < 16 {
            return Err(format!("line {}: token shorter than 16 characters", n + 1));
        }
        out.push((scope, token.to_string()));
    }
    Ok(out)
}

/// Refuses a write without a bearer token of the right scope (when tokens are configured).
async fn authorize(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Reads are open, as RSTUF's, but for the operator view's status.
    let read = req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD;
    if app.tokens.is_empty() || (read && !req.uri().path().starts_with("/api/v1/status")) {
        return next.run(req).await;
    }
    let needed = if req.uri().path().starts_with("/api/v1/artifacts") {
        Scope::Publish
    } else {
        Scope::Admin
    };
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let scope = presented.and_then(|t| {
        app.tokens
            .iter()
            .find(|(_, known)| constant_time_eq(known.as_bytes(), t.as_bytes()))
            .map(|(s, _)| *s)
    });
    match scope {
        None => refuse(
            StatusCode::UNAUTHORIZED,
            "Unauthorized.",
            "a valid bearer token is required (Authorization: Bearer <token>)",
        ),
        Some(Scope::Publish) if needed == Scope::Admin => refuse(
            StatusCode::FORBIDDEN,
            "Forbidden.",
            "this operation needs a token with scope admin",
        ),
        Some(_) => next.run(req).await,
    }
}

/// Compares secrets without leaking where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    r = both(
        r,
        "/api/v1/bootstrap/",
        get(bootstrap::state).post(bootstrap::bootstrap),
    );
    r = both(r, "/api/v1/config/", get(config::get).put(config::put));
    r = both(r, "/api/v1/metadata/", post(metadata::update));
    r = both(r, "/api/v1/metadata/online", post(metadata::online));
    r = both(
        r,
        "/api/v1/metadata/sign",
        get(metadata::pending).post(metadata::sign),
    );
    r = both(
        r,
        "/api/v1/metadata/sign/delete",
        post(metadata::delete_sign),
    );
    r = both(
        r,
        "/api/v1/delegations/",
        post(delegations::add).put(delegations::update),
    );
    r = both(r, "/api/v1/delegations/delete", post(delegations::delete));
    r = both(
        r,
        "/api/v1/artifacts/",
        get(listing::list).post(artifacts::add),
    );
    r = both(r, "/api/v1/artifacts/delete", post(artifacts::delete));
    r = both(r, "/api/v1/artifacts/publish/", post(artifacts::publish));
    r = both(r, "/api/v1/task/", get(task));
    r = both(r, "/api/v1/status", get(status::status));
    // Firmware images are large: this route streams its body to disk, unbounded by axum's 2 MB.
    r = r.route(
        "/api/v1/artifacts/upload/{*path}",
        post(artifacts::upload).layer(axum::extract::DefaultBodyLimit::disable()),
    );
    // A bulk import is a CSV of up to millions of lines.
    r = r.route(
        "/api/v1/artifacts/import",
        post(import::import).layer(axum::extract::DefaultBodyLimit::max(1 << 30)),
    );
    r = r.route("/api/v1/openapi.json", get(openapi));
    r.layer(axum::middleware::from_fn_with_state(app.clone(), authorize))
        .with_state(app)
}

/// A FastAPI `loc`: `prefix`, then the members of `rest`, list indices as numbers.
pub(crate) fn loc(prefix: &[&str], rest: &[String]) -> Value {
    let parts = prefix.iter().map(|s| json!(s)).chain(
        rest.iter()
            .map(|s| s.parse::<u64>().map_or_else(|_| json!(s), |i| json!(i))),
    );
    Value::Array(parts.collect())
}

/// A FastAPI-style validation error naming the field (`loc`).
pub(crate) fn invalid(loc: Value, msg: String, input: &Value) -> Response {
    let detail = json!([{"type": "value_error", "loc": loc, "msg": msg, "input": input}]);
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": detail})),
    )
        .into_response()
}

/// RSTUF's refusal of a task that needs a finished bootstrap.
pub(crate) fn not_bootstrapped(state: &Bootstrap) -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        "Task not accepted.",
        &format!(
            "It requires bootstrap finished. State: {}",
            state.name().unwrap_or("None")
        ),
    )
}

/// Refuses (RSTUF's 404) unless the bootstrap is finished.
pub(crate) fn require_finished(app: &App) -> Result<(), Response> {
    match app.repo.bootstrap() {
        Ok(Bootstrap::Finished(_)) => Ok(()),
        Ok(other) => Err(not_bootstrapped(&other)),
        Err(e) => Err(refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Task not accepted.",
            &e.to_string(),
        )),
    }
}

/// Records a task durably (group commit), then answers with its id.
pub(crate) async fn submit_as(
    app: &App,
    id: String,
    action: &str,
    payload: &Value,
) -> Result<String, Response> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let refused = |e: String| refuse(StatusCode::INTERNAL_SERVER_ERROR, "Task not accepted.", &e);
    app.wake
        .in_flight
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    if let Err(e) = app
        .record
        .send(((id.clone(), action.to_string(), payload.clone()), tx))
    {
        app.wake
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Release);
        return Err(refused(e.to_string()));
    }
    rx.await
        .map_err(|e| refused(e.to_string()))?
        .map_err(refused)?;
    Ok(id)
}

/// [`submit_as`] with a new task id (32 lower-case hex digits, as RSTUF's).
pub(crate) async fn submit(app: &App, action: &str, payload: &Value) -> Result<String, Response> {
    submit_as(
        app,
        uuid::Uuid::new_v4().simple().to_string(),
        action,
        payload,
    )
    .await
}

/// Records a task and answers 202 with its id and RSTUF's `message` (or the refusal).
pub(crate) async fn submit_accepted(
    app: &App,
    action: &str,
    payload: &Value,
    message: &str,
) -> Response {
    match submit(app, action, payload).await {
        Ok(id) => accepted(&id, message),
        Err(r) => r,
    }
}

/// 202 with the task id, as every RSTUF write answers.
pub(crate) fn accepted(id: &str, message: &str) -> Response {
    reply(
        StatusCode::ACCEPTED,
        json!({"task_id": id, "last_update": crate::tasks::last_update()}),
        message,
    )
}

/// The API's description, kept beside the handlers it describes.
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
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
    let (state, result) = match app.repo.store.task(&id) {
        Ok(Some((state, result))) => {
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
        Err(e) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Task state unavailable.",
                &e.to_string(),
            )
        }
        Ok(None) => ("PENDING".to_string(), json!({})),
    };
    reply(
        StatusCode::OK,
        json!({"task_id": id, "state": state, "result": result}),
        "Task state.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation the OpenAPI document describes is routed (in both slash spellings), and
    /// it describes every route.
    #[tokio::test]
    async fn the_openapi_document_describes_the_router() {
        use tower::ServiceExt;
        let data = tempfile::tempdir().unwrap();
        let repo =
            Arc::new(Repo::open(data.path(), &data.path().join("keys"), None, None).unwrap());
        let (record, _queue) = tokio::sync::mpsc::unbounded_channel();
        let app = router(App {
            repo,
            wake: Arc::new(crate::tasks::Wake::default()),
            tokens: Arc::new(Vec::new()),
            record,
        });
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let mut described = 0;
        for (path, ops) in doc["paths"].as_object().unwrap() {
            let path = path.replace("{path}", "firmware/a.bin");
            let spellings =
                if path.contains("upload") || path.ends_with("import") || path.ends_with(".json") {
                    vec![path.clone()]
                } else if let Some(p) = path.strip_suffix('/') {
                    vec![path.clone(), p.to_string()]
                } else {
                    vec![path.clone(), format!("{path}/")]
                };
            for (method, _) in ops.as_object().unwrap() {
                described += 1;
                for uri in &spellings {
                    let req = axum::http::Request::builder()
                        .method(method.to_uppercase().as_str())
                        .uri(uri.as_str())
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from("{}"))
                        .unwrap();
                    let res = app.clone().oneshot(req).await.unwrap();
                    let status = res.status();
                    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
                        .await
                        .unwrap();
                    // An unrouted request gets axum's empty 404 or a 405.
                    assert!(
                        status != StatusCode::METHOD_NOT_ALLOWED
                            && !(status == StatusCode::NOT_FOUND && body.is_empty()),
                        "{method} {uri}: {status}"
                    );
                }
            }
        }
        // GET+POST bootstrap, GET+PUT config, metadata, online, GET+POST sign, sign/delete,
        // POST+PUT delegations, delegations/delete, GET+POST artifacts, delete, publish, upload,
        // import, status,
        // task, openapi.json.
        assert_eq!(described, 21);
    }

    #[test]
    fn token_files_are_checked_line_by_line() {
        let t = parse_tokens("# comment\n\npublish 0123456789abcdef\nadmin   fedcba9876543210\n")
            .unwrap();
        assert_eq!(
            t,
            vec![
                (Scope::Publish, "0123456789abcdef".into()),
                (Scope::Admin, "fedcba9876543210".into())
            ]
        );
        assert!(parse_tokens("root 0123456789abcdef")
            .unwrap_err()
            .contains("unknown scope"));
        assert!(parse_tokens("admin short")
            .unwrap_err()
            .contains("shorter than 16"));
        assert!(parse_tokens("admin").unwrap_err().contains("line 1"));
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"ab", b"abc")
        );
    }
}
