//! `GET /api/v1/config/` (the repository's settings) and `PUT /api/v1/config/` (new expiries).
//! Unlike RSTUF, values are not lower-cased, `root_num_keys` counts root's keys, and full
//! metadata is not repeated here (it is served under `/metadata/`).

use super::{invalid, refuse, reply, require_finished, submit_accepted, App};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

/// `GET /api/v1/config/`.
pub(super) async fn get(State(app): State<App>) -> Response {
    let repo = &app.repo;
    let (Ok(online), Ok(root)) = (repo.online(), repo.root_bytes()) else {
        let state = repo.bootstrap().ok();
        return refuse(
            StatusCode::NOT_FOUND,
            "No Repository Settings/Config found.",
            &format!(
                "It requires bootstrap. State: {}",
                state.as_ref().and_then(|s| s.name()).unwrap_or("None")
            ),
        );
    };
    let root: Value = serde_json::from_slice(&root).unwrap_or(Value::Null);
    let roles = &root["signed"]["roles"];
    let e = online.expiry;
    let mut data = json!({
        "bootstrap": repo.bootstrap().ok().and_then(|b| b.id().map(String::from)),
        "targets_online_key": true,
        "root_expiration": e.root, "targets_expiration": e.targets, "snapshot_expiration": e.snapshot,
        "timestamp_expiration": e.timestamp,
        "root_signing": repo.store.setting("root_signing").ok().flatten().is_some(),
    });
    match &online.delegations {
        crate::publish::Delegations::Bins(layout) => {
            data["number_of_delegated_bins"] = json!(layout.bins);
            data["x-otuf-path-hash-prefixes"] = json!(layout.path_hash_prefixes);
            data["bins_expiration"] = json!(e.bins);
            data["bins_threshold"] = json!(1);
            data["bins_num_keys"] = json!(1);
        }
        // The delegations in force (RSTUF's stays as the bootstrap sent it), each role's expiry.
        crate::publish::Delegations::Custom(custom) => {
            data["delegations"] = json!(custom);
            data["delegated_roles"] = json!(online.delegations.names());
            for role in &custom.roles {
                data[format!("{}_expiration", role.name)] = json!(role.expire_policy);
            }
        }
    }
    for role in ["root", "targets", "snapshot", "timestamp"] {
        data[format!("{role}_threshold")] = roles[role]["threshold"].clone();
        data[format!("{role}_num_keys")] =
            json!(roles[role]["keyids"].as_array().map_or(0, Vec::len));
    }
    let mut key = online.key.public.clone();
    key["keyid"] = json!(online.key.keyid);
    data["online_key"] = key;
    reply(StatusCode::OK, data, "Current Settings")
}

/// `PUT /api/v1/config/`: `{"settings": {"expiration": {<role>: days}}}`.
pub(super) async fn put(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let Some(expiration) = body["settings"]["expiration"].as_object() else {
        return invalid(
            json!(["body", "settings", "expiration"]),
            "Field required: an object of role: days".into(),
            &body,
        );
    };
    for (role, days) in expiration {
        if days.as_i64().is_none_or(|d| d <= 0) {
            return invalid(
                json!(["body", "settings", "expiration", role]),
                "a number of days greater than 0".into(),
                days,
            );
        }
    }
    if let Err(r) = require_finished(&app) {
        return r;
    }
    submit_accepted(
        &app,
        "update_settings",
        &body,
        "Settings successfully submitted.",
    )
    .await
}
