//! Custom delegations changed through the API (RSTUF's `metadata_delegation` task, behind
//! `POST`/`PUT /api/v1/delegations/` and `POST /api/v1/delegations/delete`): roles added,
//! updated or deleted, then top-level targets, every new or updated role and every role whose
//! artifacts moved are re-signed with snapshot and timestamp, in one publication.
//!
//! Unlike RSTUF, artifacts follow the delegations: each moves to the role a device now finds
//! first for its path, or waits unlisted until a role is trusted for it; keys no role uses leave
//! targets; a deleted role stays listed in snapshot (clients refuse a snapshot that drops one)
//! and its name may be used again, its versions going on from where they were.

use crate::error::Result;
use crate::publish::{Custom, Delegations, Repo};
use crate::tasks::Outcome;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const MESSAGE: &str = "Metadata Delegation Processed";

/// Applies `payload` (`{"action": "add"|"update"|"delete", "delegations": {...}}`).
pub fn change(repo: &Repo, payload: &Value) -> Result<Outcome> {
    let action = payload["action"].as_str().unwrap_or_default();
    let failed = |e: String| Ok(Outcome::failed("Metadata Delegation Failed", e));
    let online = repo.online()?;
    let Delegations::Custom(current) = &online.delegations else {
        return failed(format!(
            "Delegations already using hash-bins, cannot {action} custom roles"
        ));
    };
    let mut next = current.clone();
    let (mut done, mut failures) = (Vec::new(), Vec::new());
    match action {
        "add" | "update" => {
            let asked = match Custom::parse(&payload["delegations"]) {
                Ok(c) => c,
                Err(e) => return failed(format!("delegations.{}: {}", e.loc.join("."), e.msg)),
            };
            next.keys.extend(asked.keys);
            for role in asked.roles {
                let at = next.roles.iter().position(|r| r.name == role.name);
                match (action, at) {
                    ("add", None) => {
                        done.push(role.name.clone());
                        next.roles.push(role);
                    }
                    ("add", Some(_)) => {
                        failures.push(json!({"role": role.name, "reason": "role already exists"}))
                    }
                    (_, Some(i)) => {
                        done.push(role.name.clone());
                        next.roles[i] = role;
                    }
                    (_, None) => failures.push(json!({"role": role.name,
                        "reason": format!("role {} doesn't exist.", role.name)})),
                }
            }
        }
        "delete" => {
            for r in payload["delegations"]["roles"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let name = r["name"].as_str().unwrap_or_default();
                match next.roles.iter().position(|role| role.name == name) {
                    Some(i) => {
                        next.roles.remove(i);
                        done.push(name.to_string());
                    }
                    None => failures.push(
                        json!({"role": name, "reason": format!("Role '{name}' does not exists")}),
                    ),
                }
            }
        }
        other => {
            return failed(format!(
                "metadata delegation supports 'add', 'update', 'delete', not '{other}'"
            ))
        }
    }
    let used: BTreeSet<String> = next.roles.iter().flat_map(|r| r.keyids.clone()).collect();
    next.keys.retain(|id, _| used.contains(id));
    let mut details =
        json!({"delegated_roles": done, "failed_roles": failures, "moved_artifacts": 0});
    if done.is_empty() {
        return Ok(Outcome {
            status: false,
            message: MESSAGE.into(),
            error: Some("no delegated role was changed".into()),
            details,
        });
    }
    if let Err(e) = next.check() {
        return failed(format!("delegations.{}: {}", e.loc.join("."), e.msg));
    }

    let root: Value = serde_json::from_slice(&repo.root_bytes()?)?;
    let new = repo.online_for(
        &root["signed"],
        Delegations::Custom(next.clone()),
        online.expiry,
    )?;
    let delegated = new.signed_roles.clone();
    // New and updated roles are signed anew (their keys may have changed), then every role
    // whose artifacts moved.
    let mut touched: BTreeSet<String> = done
        .iter()
        .filter(|r| delegated.contains(*r))
        .cloned()
        .collect();
    let (mut moves, mut back, mut unassigned) = (Vec::new(), Vec::new(), Vec::new());
    for (path, role) in repo.store.artifact_roles()? {
        let to = new.role_for(&path)?.unwrap_or_default();
        if to == role {
            continue;
        }
        for r in [&role, &to] {
            if delegated.contains(r) {
                touched.insert(r.clone());
            }
        }
        if to.is_empty() {
            unassigned.push(path.clone());
        }
        back.push((path.clone(), role));
        moves.push((path, to));
    }
    repo.store.move_artifacts(&moves)?;
    let setting = serde_json::to_string(&next)?;
    if let Err(e) = repo.publish_with(
        &new,
        &touched,
        true,
        None,
        &[("delegations", Some(&setting))],
    ) {
        repo.store.move_artifacts(&back)?; // nothing was published: the artifacts stay put
        return Err(e);
    }
    repo.reload()?;
    details["moved_artifacts"] = json!(moves.len());
    details["unassigned_artifacts"] = json!(unassigned);
    let status = details["failed_roles"].as_array().is_none_or(Vec::is_empty);
    Ok(Outcome {
        status,
        message: MESSAGE.into(),
        error: (!status).then(|| "some roles were not changed: see failed_roles".into()),
        details,
    })
}
