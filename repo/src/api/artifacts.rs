//! `POST /api/v1/artifacts/`, `/artifacts/delete`, `/artifacts/publish/`. A request is checked
//! field by field before anything is stored; the task is durable before the 202 is sent.

use super::{invalid, refuse, reply, require_finished, submit, App};
use crate::tasks::last_update;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

/// Why an artifact path is not acceptable, if it is not.
pub(super) fn bad_path(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        Some("path is empty")
    } else if path.starts_with('/') {
        Some("path is absolute")
    } else if path.contains('\\') {
        Some("path contains a backslash")
    } else if path.chars().any(char::is_control) {
        Some("path contains a control character")
    } else if path.split('/').any(str::is_empty) {
        Some("path has an empty segment")
    } else if path.split('/').any(|s| s == ".." || s == ".") {
        Some("path contains a '.' or '..' segment")
    } else if path.starts_with(crate::index::PREFIX) {
        Some("paths under otuf-index/ are the service's own device indexes")
    } else {
        None
    }
}

/// Why a `hashes` object is not acceptable, if it is not.
pub(super) fn bad_hashes(hashes: &Value) -> Option<String> {
    let obj = hashes.as_object().filter(|o| !o.is_empty())?;
    for (alg, digest) in obj {
        let want = match alg.as_str() {
            "sha256" | "blake2b-256" => 64,
            "sha512" => 128,
            _ => {
                return Some(format!(
                    "unsupported hash algorithm '{alg}' (sha256, sha512, blake2b-256)"
                ))
            }
        };
        let ok = digest.as_str().is_some_and(|d| {
            d.len() == want
                && d.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !ok {
            return Some(format!("{alg} digest must be {want} lower-case hex digits"));
        }
    }
    None
}

/// Why a `custom` value cannot be signed, if it cannot: it must be an object (or null) that
/// has a canonical JSON form (no floats), or publication would fail for the whole batch.
fn bad_custom(custom: &Value) -> Option<String> {
    if custom.is_null() {
        return None;
    }
    if !custom.is_object() {
        return Some("an object or null".into());
    }
    let bytes = serde_json::to_vec(custom).ok()?;
    otuf_core::json::canonicalize(&bytes)
        .err()
        .map(|e| format!("not signable as canonical JSON: {e}"))
}

/// Records an artifact task; the 202 lists its artifacts, with RSTUF's message for the action
/// and its suffix when publishing is skipped.
async fn submit_artifacts(
    app: &App,
    action: &str,
    payload: &Value,
    artifacts: Value,
    publish: bool,
) -> Response {
    let message = match action {
        "add_artifacts" => "New Artifact(s) successfully submitted.",
        "remove_artifacts" => "Remove Artifact(s) successfully submitted.",
        _ => "Publish artifacts successfully submitted.",
    };
    let skip = if publish {
        ""
    } else {
        " Publishing will be skipped."
    };
    match submit(app, action, payload).await {
        Ok(id) => reply(
            StatusCode::ACCEPTED,
            json!({"artifacts": artifacts, "task_id": id, "last_update": last_update()}),
            &format!("{message}{skip}"),
        ),
        Err(r) => r,
    }
}

/// `POST /api/v1/artifacts/`.
pub(super) async fn add(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let Some(list) = body["artifacts"].as_array() else {
        return invalid(
            json!(["body", "artifacts"]),
            "Field required: a list of artifacts".into(),
            &body,
        );
    };
    if list.is_empty() {
        return invalid(
            json!(["body", "artifacts"]),
            "at least one artifact".into(),
            &body,
        );
    }
    for (i, a) in list.iter().enumerate() {
        let Some(path) = a["path"].as_str() else {
            return invalid(
                json!(["body", "artifacts", i, "path"]),
                "Field required: a string".into(),
                a,
            );
        };
        if let Some(why) = bad_path(path) {
            return invalid(
                json!(["body", "artifacts", i, "path"]),
                why.into(),
                &a["path"],
            );
        }
        let info = &a["info"];
        if !info["length"].is_u64() {
            return invalid(
                json!(["body", "artifacts", i, "info", "length"]),
                "a non-negative integer".into(),
                &info["length"],
            );
        }
        if let Some(why) = bad_hashes(&info["hashes"]).or_else(|| {
            info["hashes"]
                .as_object()
                .is_none()
                .then(|| "a non-empty object".into())
        }) {
            return invalid(
                json!(["body", "artifacts", i, "info", "hashes"]),
                why,
                &info["hashes"],
            );
        }
        if let Some(why) = bad_custom(&info["custom"]) {
            return invalid(
                json!(["body", "artifacts", i, "info", "custom"]),
                why,
                &info["custom"],
            );
        }
    }
    let paths: Vec<&Value> = list.iter().map(|a| &a["path"]).collect();
    let publish = body["publish_artifacts"].as_bool().unwrap_or(true);
    if let Err(r) = require_finished(&app) {
        return r;
    }
    submit_artifacts(&app, "add_artifacts", &body, json!(paths), publish).await
}

/// `POST /api/v1/artifacts/delete`.
pub(super) async fn delete(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let Some(list) = body["artifacts"]
        .as_array()
        .filter(|l| l.iter().all(Value::is_string))
    else {
        return invalid(
            json!(["body", "artifacts"]),
            "Field required: a list of paths".into(),
            &body,
        );
    };
    let publish = body["publish_artifacts"].as_bool().unwrap_or(true);
    if let Err(r) = require_finished(&app) {
        return r;
    }
    submit_artifacts(&app, "remove_artifacts", &body, json!(list), publish).await
}

/// `POST /api/v1/artifacts/upload/{path}` (beyond RSTUF): the body is the artifact itself. It is
/// streamed to disk while its length, SHA-256 and SHA-512 are computed, stored under its
/// consistent-snapshot name `<dirs>/<sha256>.<name>` in the served targets folder, and added like
/// `POST /api/v1/artifacts/`. Optional: header `x-otuf-custom` (a JSON object), query
/// `publish_artifacts=false`.
pub(super) async fn upload(
    State(app): State<App>,
    axum::extract::Path(path): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    use futures_util::StreamExt;
    use sha2::Digest;
    use std::io::Write;
    if let Err(r) = require_finished(&app) {
        return r;
    }
    let repo = app.repo.clone();
    if let Some(why) = bad_path(&path) {
        return invalid(json!(["path", "path"]), why.into(), &json!(path));
    }
    let custom = match headers
        .get("x-otuf-custom")
        .map(|v| serde_json::from_slice::<Value>(v.as_bytes()))
    {
        None => Value::Null,
        Some(Ok(v)) if bad_custom(&v).is_none() => v,
        Some(_) => {
            return invalid(
                json!(["header", "x-otuf-custom"]),
                "a JSON object with a canonical form (no floats)".into(),
                &Value::Null,
            )
        }
    };
    let publish = q.get("publish_artifacts").is_none_or(|v| v != "false");
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", &path));
    // Staged where it will stay on a local storage (a rename puts it in place), in the data
    // folder for an object store.
    let folder = match repo.storage.local_dir("targets") {
        Some(targets) => targets.join(dir),
        None => repo.data_dir.join("uploads"),
    };
    let fail = |e: std::io::Error| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Upload failed.",
            &e.to_string(),
        )
    };
    if let Err(e) = std::fs::create_dir_all(&folder) {
        return fail(e);
    }
    let mut staged = match tempfile::Builder::new()
        .prefix(".upload-")
        .tempfile_in(&folder)
    {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let (mut sha256, mut sha512, mut length) = (sha2::Sha256::new(), sha2::Sha512::new(), 0u64);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Upload failed.",
                "the request body was cut short",
            );
        };
        sha256.update(&chunk);
        sha512.update(&chunk);
        length += chunk.len() as u64;
        if let Err(e) = staged.write_all(&chunk) {
            return fail(e);
        }
    }
    let (h256, h512) = (
        crate::sign::hex(&sha256.finalize()),
        crate::sign::hex(&sha512.finalize()),
    );
    if let Err(e) = staged.as_file().sync_all() {
        return fail(e);
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = staged
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    let key = if dir.is_empty() {
        format!("targets/{h256}.{base}")
    } else {
        format!("targets/{dir}/{h256}.{base}")
    };
    if let Err(e) = repo.storage.put_file(&key, staged).await {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Upload failed.",
            &e.to_string(),
        );
    }
    let payload = json!({"artifacts": [{"path": path, "info": {"length": length, "hashes": {"sha256": h256, "sha512": h512}, "custom": custom}}],
                         "publish_artifacts": publish});
    match submit(&app, "add_artifacts", &payload).await {
        Ok(id) => reply(
            StatusCode::ACCEPTED,
            json!({"artifacts": [path], "task_id": id, "last_update": last_update(), "length": length, "hashes": payload["artifacts"][0]["info"]["hashes"]}),
            "New Artifact(s) successfully submitted.",
        ),
        Err(r) => r,
    }
}

/// `POST /api/v1/artifacts/publish/`.
pub(super) async fn publish(State(app): State<App>) -> Response {
    if let Err(r) = require_finished(&app) {
        return r;
    }
    submit_artifacts(&app, "publish_artifacts", &json!({}), json!([]), true).await
}

#[cfg(test)]
mod tests {
    use super::bad_path;

    #[test]
    fn unsafe_paths_are_named() {
        for p in [
            "",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "a\\b",
            "a/\u{1}",
            "./a",
            "a/",
        ] {
            assert!(bad_path(p).is_some(), "{p:?}");
        }
        for p in ["firmware/plc-a.bin", "固件/更新.bin", "a b/c.tar.gz"] {
            assert_eq!(bad_path(p), None, "{p:?}");
        }
    }
}
