//! `POST /api/v1/delegations/` (add roles), `PUT /api/v1/delegations/` (update roles) and
//! `POST /api/v1/delegations/delete`: custom delegated roles of a repository bootstrapped with
//! `settings.roles.delegations`. Each request is checked before anything is stored (names,
//! paths, keys and their IDs, thresholds, and that a role to add is new and a role to update or
//! delete exists), so a bad one is a 422 naming the field, not a failed task later. Unlike
//! RSTUF, an API route never answers 200 to a request it did not take.

use super::{invalid, loc, refuse, require_finished, submit_accepted, App};
use crate::publish::{Custom, Delegations};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

/// The current custom delegations, or the refusal (not bootstrapped, or hash bins).
fn current(app: &App, action: &str) -> Result<Custom, Response> {
    require_finished(app)?;
    let online = app.repo.online().map_err(|e| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Task not accepted.",
            &e.to_string(),
        )
    })?;
    match &online.delegations {
        Delegations::Custom(c) => Ok(c.clone()),
        Delegations::Bins(_) => Err(refuse(
            StatusCode::NOT_FOUND,
            "Task not accepted.",
            &format!("Delegations already using hash-bins, cannot {action} custom roles"),
        )),
    }
}

/// Checks an add or update payload against the current roles.
fn check(body: &Value, current: &Custom, add: bool) -> Result<(), Response> {
    let d = &body["delegations"];
    let asked = Custom::parse(d)
        .map_err(|e| invalid(loc(&["body", "delegations"], &e.loc), e.msg, &Value::Null))?;
    for (i, role) in asked.roles.iter().enumerate() {
        let loc = json!(["body", "delegations", "roles", i, "name"]);
        match (add, current.role(&role.name).is_some()) {
            (true, true) => {
                return Err(invalid(
                    loc,
                    format!("role {} already exists (PUT updates it)", role.name),
                    &json!(role.name),
                ))
            }
            (false, false) => {
                return Err(invalid(
                    loc,
                    format!("role {} doesn't exist (POST adds it)", role.name),
                    &json!(role.name),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// `POST /api/v1/delegations/`.
pub(super) async fn add(State(app): State<App>, Json(body): Json<Value>) -> Response {
    if let Err(r) = current(&app, "add").and_then(|c| check(&body, &c, true)) {
        return r;
    }
    let payload = json!({"action": "add", "delegations": body["delegations"]});
    submit_accepted(
        &app,
        "metadata_delegation",
        &payload,
        "Metadata delegation add accepted.",
    )
    .await
}

/// `PUT /api/v1/delegations/`.
pub(super) async fn update(State(app): State<App>, Json(body): Json<Value>) -> Response {
    if let Err(r) = current(&app, "update").and_then(|c| check(&body, &c, false)) {
        return r;
    }
    let payload = json!({"action": "update", "delegations": body["delegations"]});
    submit_accepted(
        &app,
        "metadata_delegation",
        &payload,
        "Metadata delegation update accepted.",
    )
    .await
}

/// `POST /api/v1/delegations/delete`: `{"delegations": {"roles": [{"name": ..}, ..]}}`.
pub(super) async fn delete(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let current = match current(&app, "delete") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(roles) = body["delegations"]["roles"]
        .as_array()
        .filter(|r| !r.is_empty())
    else {
        return invalid(
            json!(["body", "delegations", "roles"]),
            "Field required: a list of {\"name\": <role>}".into(),
            &body,
        );
    };
    for (i, r) in roles.iter().enumerate() {
        let loc = json!(["body", "delegations", "roles", i, "name"]);
        match r["name"].as_str() {
            None => return invalid(loc, "Field required: a role name".into(), r),
            Some(name) if current.role(name).is_none() => {
                return invalid(loc, format!("Role '{name}' does not exists"), r)
            }
            Some(_) => {}
        }
    }
    let payload = json!({"action": "delete", "delegations": body["delegations"]});
    submit_accepted(
        &app,
        "metadata_delegation",
        &payload,
        "Metadata delegation delete accepted.",
    )
    .await
}
