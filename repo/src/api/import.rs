//! `POST /api/v1/artifacts/import`: bulk import of artifacts hosted elsewhere, from a CSV in
//! the format of RSTUF's `import-artifacts` (`path;size;hash-type;hash`, one hash a line; lines
//! for the same path add its hashes). RSTUF's CLI writes such rows straight into its database;
//! here they go through the API, checked line by line, yet at database speed: every row and the
//! task that publishes them are written in one transaction (one bulk `COPY` on PostgreSQL), and
//! the task re-signs each touched bin once.

use super::{invalid, refuse, reply, require_finished, App};
use crate::tasks::last_update;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// RSTUF's header line, which its exports start with (optional).
const HEADER: &str = "path;size;hash-type;hash";

/// One artifact: its length and hashes.
type Info = (u64, Map<String, Value>);

/// The rows of `csv`, merged by path, or the first bad line: `(line, field, why)`.
fn parse(csv: &str) -> Result<BTreeMap<String, Info>, (usize, &'static str, String)> {
    let mut out: BTreeMap<String, Info> = BTreeMap::new();
    for (i, line) in csv.lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches('\r');
        if line.is_empty() || (n == 1 && line == HEADER) {
            continue;
        }
        let fields: Vec<&str> = line.split(';').collect();
        let [path, size, alg, hash] = fields[..] else {
            return Err((
                n,
                "line",
                format!("{} fields, not 4 ({HEADER})", fields.len()),
            ));
        };
        if let Some(why) = super::artifacts::bad_path(path) {
            return Err((n, "path", why.into()));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| (n, "size", format!("'{size}' is not a length in bytes")))?;
        let hashes = json!({alg: hash});
        if let Some(why) = super::artifacts::bad_hashes(&hashes) {
            return Err((n, "hash", why));
        }
        let entry = out.entry(path.to_string()).or_insert((size, Map::new()));
        if entry.0 != size {
            return Err((
                n,
                "size",
                format!("{path} was given another size on an earlier line"),
            ));
        }
        if let Value::Object(h) = hashes {
            entry.1.extend(h);
        }
    }
    Ok(out)
}

/// `POST /api/v1/artifacts/import` (body: the CSV; query `publish_artifacts=false` to stage).
pub(super) async fn import(
    State(app): State<App>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    body: String,
) -> Response {
    if let Err(r) = require_finished(&app) {
        return r;
    }
    let publish = q.get("publish_artifacts").is_none_or(|v| v != "false");
    let repo = app.repo.clone();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let task_id = id.clone();
    let done = tokio::task::spawn_blocking(
        move || -> Result<Result<(usize, usize), Response>, String> {
            let artifacts = match parse(&body) {
                Ok(a) => a,
                Err((line, field, why)) => {
                    return Ok(Err(invalid(
                        json!(["body", line, field]),
                        format!("line {line}: {field}: {why}"),
                        &Value::Null,
                    )))
                }
            };
            let online = repo.online().map_err(|e| e.to_string())?;
            let mut rows = Vec::with_capacity(artifacts.len());
            let mut roles = BTreeSet::new();
            for (path, (length, hashes)) in artifacts {
                let Some(role) = online.role_for(&path).map_err(|e| e.to_string())? else {
                    return Ok(Err(invalid(
                        json!(["body", "path"]),
                        format!("{path}: no delegated role is trusted for this path"),
                        &json!(path),
                    )));
                };
                roles.insert(role.clone());
                rows.push((path, role, json!({"length": length, "hashes": hashes})));
            }
            let counts = (rows.len(), roles.len());
            let payload =
                json!({"roles": roles, "artifacts": rows.len(), "publish_artifacts": publish});
            repo.store
                .import(&rows, (&task_id, "import_artifacts", &payload))
                .map_err(|e| e.to_string())?;
            Ok(Ok(counts))
        },
    )
    .await;
    match done {
        Ok(Ok(Ok((artifacts, roles)))) => {
            app.wake.notify.notify_one();
            reply(
                StatusCode::ACCEPTED,
                json!({"task_id": id, "artifacts": artifacts, "roles": roles, "last_update": last_update()}),
                "Artifact(s) imported.",
            )
        }
        Ok(Ok(Err(r))) => r,
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "Import failed.", &e),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Import failed.",
            &e.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn rows_merge_by_path_and_bad_lines_are_named() {
        let csv = format!(
            "path;size;hash-type;hash\na/b.bin;3;sha256;{}\na/b.bin;3;sha512;{}\nc.bin;0;sha256;{}\n",
            "a".repeat(64),
            "b".repeat(128),
            "c".repeat(64)
        );
        let rows = parse(&csv).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows["a/b.bin"].1.len(), 2);
        for (bad, line, field) in [
            (
                format!(
                    "x;1;sha256;{}\n/etc/passwd;1;sha256;{}",
                    "a".repeat(64),
                    "a".repeat(64)
                ),
                2,
                "path",
            ),
            (format!("x;big;sha256;{}", "a".repeat(64)), 1, "size"),
            ("x;1;md5;abc".to_string(), 1, "hash"),
            (format!("x;1;sha256;{}", "A".repeat(64)), 1, "hash"),
            ("x;1;sha256".to_string(), 1, "line"),
            (
                format!(
                    "x;1;sha256;{}\nx;2;sha512;{}",
                    "a".repeat(64),
                    "b".repeat(128)
                ),
                2,
                "size",
            ),
        ] {
            let (l, f, _) = parse(&bad).unwrap_err();
            assert_eq!((l, f), (line, field), "{bad}");
        }
    }
}
