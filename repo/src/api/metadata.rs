//! `POST /api/v1/metadata/` (root rotation), `POST /api/v1/metadata/online` (re-sign online
//! roles now), and the distributed signing of a pending root: `GET`/`POST
//! /api/v1/metadata/sign`, `POST /api/v1/metadata/sign/delete`.

use super::bootstrap::check_root;
use super::{invalid, refuse, reply, require_finished, submit_accepted, App};
use crate::publish::Bootstrap;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// `POST /api/v1/metadata/`: `{"metadata": {"root": <root N+1>}}`.
pub(super) async fn update(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let metadata = body["metadata"].as_object();
    if let Some(other) = metadata.and_then(|m| m.keys().find(|k| *k != "root")) {
        return invalid(
            json!(["body", "metadata", other]),
            "only root metadata can be updated".into(),
            &Value::Null,
        );
    }
    if let Err(r) = require_finished(&app) {
        return r;
    }
    let trusted = match app.repo.trusted_root() {
        Ok(t) => t,
        Err(e) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Task not accepted.",
                &e.to_string(),
            )
        }
    };
    if let Err(r) = check_root(
        &body["metadata"]["root"],
        &["metadata", "root"],
        Some(&trusted),
    ) {
        return r;
    }
    submit_accepted(&app, "metadata_update", &body, "Metadata update accepted.").await
}

/// `POST /api/v1/metadata/online`: `{"roles": [...]}` (empty: every online role).
pub(super) async fn online(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let Some(roles) = body["roles"].as_array() else {
        return invalid(
            json!(["body", "roles"]),
            "Field required: a list of roles".into(),
            &body,
        );
    };
    if let Err(r) = require_finished(&app) {
        return r;
    }
    // The online roles: top-level ones, and `bins` or each custom role the online key signs.
    let (custom, delegated) = match app.repo.online() {
        Ok(o) => (
            matches!(o.delegations, crate::publish::Delegations::Custom(_)),
            o.delegations.online_names(),
        ),
        Err(e) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Task not accepted.",
                &e.to_string(),
            )
        }
    };
    for (i, role) in roles.iter().enumerate() {
        let name = role.as_str().unwrap_or_default();
        let ok = match name {
            "targets" | "snapshot" | "timestamp" => true,
            "bins" => !custom,
            _ => custom && delegated.iter().any(|d| d == name),
        };
        if !ok {
            let msg = if name == "bins" {
                "Custom target delegation used and bins cannot be bumped".to_string()
            } else if custom {
                format!(
                    "an online role: targets, snapshot, timestamp or one of {}",
                    delegated.join(", ")
                )
            } else {
                "an online role: targets, snapshot, timestamp or bins".to_string()
            };
            return invalid(json!(["body", "roles", i]), msg, role);
        }
    }
    submit_accepted(
        &app,
        "force_online_metadata_update",
        &body,
        "Force online metadata update accepted.",
    )
    .await
}

/// `GET /api/v1/metadata/sign`: the root waiting for signatures with the trusted root, and the
/// delegated roles waiting for signatures with the trusted top-level targets.
pub(super) async fn pending(State(app): State<App>) -> Response {
    let repo = &app.repo;
    let state = repo.bootstrap().unwrap_or(Bootstrap::Available);
    let mut md = serde_json::Map::new();
    for (role, waiting) in crate::delegate::pending(repo).unwrap_or_default() {
        md.insert(role, waiting);
    }
    if !md.is_empty() {
        let targets = repo
            .with_role_table(|t| t.get("targets").map(|s| s.version))
            .ok()
            .flatten()
            .and_then(|v| repo.metadata(&format!("{v}.targets.json")).ok().flatten())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        md.insert("trusted_targets".into(), targets.unwrap_or(Value::Null));
    }
    let signing = repo.store.setting("root_signing").ok().flatten();
    if signing.is_none() && !md.is_empty() {
        return reply(
            StatusCode::OK,
            json!({"metadata": md}),
            "Metadata role(s) pending signing",
        );
    }
    match (signing, &state) {
        (Some(root), _) => {
            md.insert(
                "root".into(),
                serde_json::from_str::<Value>(&root).unwrap_or(Value::Null),
            );
            if let Bootstrap::Finished(_) = state {
                if let Some(trusted) = repo
                    .root_bytes()
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                {
                    md.insert("trusted_root".into(), trusted);
                }
            }
            reply(
                StatusCode::OK,
                json!({"metadata": md}),
                "Metadata role(s) pending signing",
            )
        }
        (None, Bootstrap::Finished(_) | Bootstrap::Signing(_)) => (
            StatusCode::OK,
            Json(json!({"message": "No metadata pending signing available"})),
        )
            .into_response(),
        (None, other) => refuse(
            StatusCode::NOT_FOUND,
            "No metadata pending signing available",
            &format!(
                "Requires bootstrap started. State: {}",
                other.name().unwrap_or("None")
            ),
        ),
    }
}

/// `POST /api/v1/metadata/sign`: `{"role": "root", "signature": {"keyid", "sig"}}`.
pub(super) async fn sign(State(app): State<App>, Json(body): Json<Value>) -> Response {
    if !body["role"].is_string() {
        return invalid(
            json!(["body", "role"]),
            "Field required: a role name".into(),
            &body,
        );
    }
    for field in ["keyid", "sig"] {
        let ok = body["signature"][field]
            .as_str()
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if !ok {
            return invalid(
                json!(["body", "signature", field]),
                "Field required: hex digits".into(),
                &body["signature"][field],
            );
        }
    }
    match app.repo.bootstrap() {
        Ok(Bootstrap::Finished(_) | Bootstrap::Signing(_)) => {}
        Ok(other) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "No signing pending.",
                &format!(
                    "Metadata sign requires bootstrap in signing or finished. State: {}",
                    other.name().unwrap_or("None")
                ),
            )
        }
        Err(e) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "No signing pending.",
                &e.to_string(),
            )
        }
    }
    let role = body["role"].as_str().unwrap_or_default();
    if role != "root"
        && app
            .repo
            .store
            .setting(&crate::delegate::pending_key(role))
            .ok()
            .flatten()
            .is_none()
    {
        return refuse(
            StatusCode::NOT_FOUND,
            "No signing pending.",
            &format!("No signatures pending for {role}"),
        );
    }
    submit_accepted(&app, "sign_metadata", &body, "Metadata sign accepted.").await
}

/// `POST /api/v1/metadata/sign/delete`: `{"role": "root"}`.
pub(super) async fn delete_sign(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let Some(role) = body["role"].as_str() else {
        return invalid(
            json!(["body", "role"]),
            "Field required: a role name".into(),
            &body,
        );
    };
    let key = if role == "root" {
        "root_signing".to_string()
    } else {
        crate::delegate::pending_key(role)
    };
    let pending = app.repo.store.setting(&key).ok().flatten().is_some();
    if !pending {
        return refuse(
            StatusCode::NOT_FOUND,
            &format!("No signing process for {role}."),
            &format!("The {role} role is not in a signing process."),
        );
    }
    submit_accepted(
        &app,
        "delete_sign_metadata",
        &body,
        "Metadata sign delete accepted.",
    )
    .await
}
