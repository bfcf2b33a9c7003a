//! `GET /api/v1/bootstrap/` and `POST /api/v1/bootstrap/`: the bootstrap ceremony's payload
//! (settings and root v1, as `rstuf admin ceremony --out` writes it). Checked before anything
//! is stored: the root must parse as TUF metadata and every signature it carries must verify
//! (otuf-core), so a bad payload is a 422 naming the field, not a failed task later.

use super::{accepted, invalid, refuse, reply, submit_as, App};
use crate::publish::Bootstrap;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// `GET /api/v1/bootstrap/`.
pub(super) async fn state(State(app): State<App>) -> Response {
    match app.repo.bootstrap() {
        Ok(Bootstrap::Available) => reply(
            StatusCode::OK,
            json!({"bootstrap": false}),
            "System available for bootstrap.",
        ),
        Ok(b) => reply(
            StatusCode::OK,
            json!({"bootstrap": matches!(b, Bootstrap::Finished(_)), "state": b.name(), "id": b.id()}),
            "System LOCKED for bootstrap.",
        ),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Bootstrap state unavailable.",
            &e.to_string(),
        ),
    }
}

/// Checks a root metadata object (`loc` names where it is): its shape, and with otuf-core that
/// it parses and that each signature it carries verifies by one of its root keys or, for an
/// update, the trusted root's (the thresholds may still be short: more signatures can follow).
pub(super) fn check_root(
    root: &Value,
    loc: &[&str],
    trusted: Option<&otuf_core::metadata::Root>,
) -> Result<(), Response> {
    let at = |field: &[&str]| json!(["body"].iter().chain(loc).chain(field).collect::<Vec<_>>());
    if !root["signatures"].is_array() {
        return Err(invalid(
            at(&["signatures"]),
            "Field required: a list".into(),
            root,
        ));
    }
    if root["signed"]["_type"] != json!("root") {
        return Err(invalid(
            at(&["signed", "_type"]),
            "must be \"root\"".into(),
            &root["signed"]["_type"],
        ));
    }
    let known = [
        "_type",
        "spec_version",
        "version",
        "expires",
        "keys",
        "roles",
        "consistent_snapshot",
    ];
    for (name, _) in root["signed"].as_object().into_iter().flatten() {
        if !known.contains(&name.as_str()) && !name.starts_with("x-") {
            return Err(invalid(
                at(&["signed", name]),
                "unknown fields in signed must look like x-<vendor>-<name>".into(),
                &Value::Null,
            ));
        }
    }
    crate::root::check_signatures(root, trusted).map_err(|r| {
        let field: Vec<&str> = r.field.iter().map(String::as_str).collect();
        invalid(at(&field), r.why, &r.input)
    })?;
    Ok(())
}

/// Checks the settings of a bootstrap payload.
fn check_settings(roles: &Value) -> Result<(), Response> {
    for role in ["root", "targets", "snapshot", "timestamp"] {
        if roles[role]["expiration"].as_i64().is_none_or(|d| d <= 0) {
            return Err(invalid(
                json!(["body", "settings", "roles", role, "expiration"]),
                "Field required: a number of days greater than 0".into(),
                &roles[role]["expiration"],
            ));
        }
    }
    let (bins, custom) = (&roles["bins"], &roles["delegations"]);
    if bins.is_object() == custom.is_object() {
        return Err(invalid(
            json!(["body", "settings", "roles"]),
            "Exactly one of 'bins' and 'delegations' must be set".into(),
            &Value::Null,
        ));
    }
    if bins.is_object() && bins["expiration"].as_i64().is_none_or(|d| d <= 0) {
        return Err(invalid(
            json!(["body", "settings", "roles", "bins", "expiration"]),
            "Field required: a number of days greater than 0".into(),
            &bins["expiration"],
        ));
    }
    crate::root::settings_of(roles).map_err(|(at, e)| {
        invalid(
            super::loc(&["body", "settings", "roles"], &at),
            e,
            &Value::Null,
        )
    })?;
    Ok(())
}

/// `POST /api/v1/bootstrap/`.
pub(super) async fn bootstrap(State(app): State<App>, Json(body): Json<Value>) -> Response {
    if let Err(r) = check_settings(&body["settings"]["roles"])
        .and_then(|()| check_root(&body["metadata"]["root"], &["metadata", "root"], None))
    {
        return r;
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    // The pre-lock: of two concurrent bootstraps only one is accepted.
    match app
        .repo
        .store
        .claim_setting("bootstrap", &format!("pre-{id}"))
    {
        Ok(true) => {}
        Ok(false) => {
            let state = app.repo.bootstrap().ok();
            let name = state
                .as_ref()
                .and_then(Bootstrap::name)
                .unwrap_or("unknown");
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"detail": {"error": format!("System already has a Metadata. State: {name}")}})),
            )
                .into_response();
        }
        Err(e) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Bootstrap not accepted.",
                &e.to_string(),
            )
        }
    }
    match submit_as(&app, id, "bootstrap", &body).await {
        Ok(id) => accepted(&id, "Bootstrap accepted."),
        Err(r) => {
            // Unlike RSTUF, a bootstrap that was not recorded does not leave the lock behind.
            let _ = app.repo.store.set_settings(&[("bootstrap", None)]);
            r
        }
    }
}
