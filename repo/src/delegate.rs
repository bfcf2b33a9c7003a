//! Custom delegations changed through the API (RSTUF's `metadata_delegation` task, behind
//! `POST`/`PUT /api/v1/delegations/` and `POST /api/v1/delegations/delete`): roles added,
//! updated or deleted, then top-level targets, every new or updated role and every role whose
//! artifacts moved are re-signed with snapshot and timestamp, in one publication.
//!
//! Unlike RSTUF, artifacts follow the delegations: each moves to the role a device now finds
//! first for its path, or waits unlisted until a role is trusted for it; keys no role uses leave
//! targets; a deleted role stays listed in snapshot (clients refuse a snapshot that drops one)
//! and its name may be used again, its versions going on from where they were.

use crate::error::{Error, Result};
use crate::publish::{Custom, Delegations, Online, Repo};
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

    // An offline role changed waits for its holders' signatures before targets delegates to
    // it again; a version staged for it before no longer applies.
    for r in next.roles.iter_mut().filter(|r| done.contains(&r.name)) {
        r.signed = false;
    }
    let new = signer_for(repo, &next, &online)?;
    // New and updated roles are signed anew (their keys may have changed), then every role
    // whose artifacts moved.
    let mut moved = Rehomed::find(repo, &new)?;
    moved.touched.extend(
        done.iter()
            .filter(|r| new.signed_roles.contains(*r))
            .cloned(),
    );
    let setting = serde_json::to_string(&next)?;
    let mut settings = vec![("delegations", Some(setting.as_str()))];
    let stale: Vec<String> = done.iter().map(|r| pending_key(r)).collect();
    settings.extend(stale.iter().map(|k| (k.as_str(), None)));
    moved.publish(repo, &new, true, &settings, &[])?;
    stage_unsigned(repo)?;
    let unassigned = moved.unassigned;
    let moves = moved.moves;
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

/// The online signer with `next` as the custom delegations (key and expiries unchanged).
fn signer_for(repo: &Repo, next: &Custom, online: &Online) -> Result<Online> {
    let root: Value = serde_json::from_slice(&repo.root_bytes()?)?;
    repo.online_for(
        &root["signed"],
        Delegations::Custom(next.clone()),
        online.expiry,
    )
}

/// Where artifacts go when the delegations become `new`'s: each to the role a device then
/// finds first for its path (`""`: none is trusted for it).
struct Rehomed {
    moves: Vec<(String, String)>,
    back: Vec<(String, String)>,
    unassigned: Vec<String>,
    /// Roles the online key signs whose artifacts change.
    touched: BTreeSet<String>,
    /// Offline roles whose artifacts change: a new version waits for their holders.
    offline: BTreeSet<String>,
}

impl Rehomed {
    fn find(repo: &Repo, new: &Online) -> Result<Self> {
        let mut r = Self {
            moves: Vec::new(),
            back: Vec::new(),
            unassigned: Vec::new(),
            touched: BTreeSet::new(),
            offline: BTreeSet::new(),
        };
        for (path, role) in repo.store.artifact_roles()? {
            let to = new.role_for(&path)?.unwrap_or_default();
            if to == role {
                continue;
            }
            for name in [&role, &to] {
                if new.signed_roles.contains(name) {
                    r.touched.insert(name.clone());
                } else if !name.is_empty() {
                    r.offline.insert(name.clone());
                }
            }
            if to.is_empty() {
                r.unassigned.push(path.clone());
            }
            r.back.push((path.clone(), role));
            r.moves.push((path, to));
        }
        Ok(r)
    }

    /// Moves the artifacts and publishes; on failure they are moved back (nothing was
    /// published). Offline roles that changed get a version to sign.
    fn publish(
        &self,
        repo: &Repo,
        new: &Online,
        targets: bool,
        settings: &[(&str, Option<&str>)],
        presigned: &[(String, Vec<u8>)],
    ) -> Result<()> {
        repo.store.move_artifacts(&self.moves)?;
        if let Err(e) = repo.publish_with(new, &self.touched, targets, None, settings, presigned) {
            repo.store.move_artifacts(&self.back)?;
            return Err(e);
        }
        repo.reload()?;
        for role in &self.offline {
            stage(repo, role)?;
        }
        Ok(())
    }
}

/// Targets' delegations once every offline role is signed too (what their signatures are
/// checked against, and what they will list).
fn all_roles(online: &Online) -> Result<Vec<u8>> {
    let all = online
        .delegations
        .render_all(&online.key.keyid, &online.key.public);
    Ok(serde_json::to_vec(&all)?)
}

/// The setting holding `role`'s version waiting for signatures.
pub fn pending_key(role: &str) -> String {
    format!("signing.{role}")
}

/// Every delegated role's version waiting for signatures, by role.
pub fn pending(repo: &Repo) -> Result<Vec<(String, Value)>> {
    Ok(repo
        .store
        .settings()?
        .into_iter()
        .filter_map(|(k, v)| {
            let role = k.strip_prefix("signing.")?.to_string();
            Some((role, serde_json::from_str(&v).ok()?))
        })
        .collect())
}

/// Stages a version of offline role `role` for its holders to sign: the artifacts it lists
/// (once delegated: those a device finds first in it), the next version, a new expiry.
/// Replaces a version staged before, and the signatures it had.
pub fn stage(repo: &Repo, role: &str) -> Result<()> {
    let online = repo.online()?;
    let Delegations::Custom(custom) = &online.delegations else {
        return Ok(());
    };
    let Some(def) = custom.role(role) else {
        return Ok(()); // deleted meanwhile
    };
    // Delegated, it lists its artifacts; not yet, what will move to it once it is.
    let all = all_roles(&online)?;
    let mut paths = BTreeSet::new();
    for (path, current) in repo.store.artifact_roles()? {
        let here = if def.signed {
            current == role
        } else {
            online.delegations.role_for(&all, &path)?.as_deref() == Some(role)
        };
        if here {
            paths.insert(path);
        }
    }
    let listed: serde_json::Map<String, Value> =
        repo.store.artifacts_at(&paths)?.into_iter().collect();
    let version = repo.with_role_table(|t| t.get(role).map_or(1, |s| s.version + 1))?;
    let expires = crate::publish::now() + def.expire_policy * 86_400;
    let md = json!({"signatures": [], "signed": {"_type": "targets", "spec_version": "1.0.31",
        "version": version, "expires": crate::publish::expires::format(expires), "targets": listed}});
    let key = pending_key(role);
    repo.store
        .set_settings(&[(key.as_str(), Some(&md.to_string()))])
}

/// Stages a first version for every offline role that has none signed nor waiting.
pub fn stage_unsigned(repo: &Repo) -> Result<()> {
    let online = repo.online()?;
    let Delegations::Custom(custom) = &online.delegations else {
        return Ok(());
    };
    for role in custom.roles.iter().filter(|r| !r.is_delegated()) {
        if repo.store.setting(&pending_key(&role.name))?.is_none() {
            stage(repo, &role.name)?;
        }
    }
    Ok(())
}

/// `sign_metadata` for a delegated role: one more offline signature for its waiting version,
/// checked by otuf-core against the keys targets gives the role. At its threshold the version
/// is published (and the role delegated, if it was not yet), with snapshot and timestamp.
pub fn sign(repo: &Repo, payload: &Value) -> Result<Outcome> {
    let failed = |e: String| Ok(Outcome::failed("Signature Failed", e));
    let role = payload["role"].as_str().unwrap_or_default();
    let Some(waiting) = repo.store.setting(&pending_key(role))? else {
        return failed(format!("No signatures pending for {role}"));
    };
    let online = repo.online()?;
    let Delegations::Custom(custom) = &online.delegations else {
        return failed(format!("No signatures pending for {role}"));
    };
    let mut md: Value = serde_json::from_str(&waiting)?;
    let signature = payload["signature"].clone();
    let keyid = signature["keyid"].as_str().unwrap_or_default().to_string();
    if let Some(sigs) = md["signatures"].as_array_mut() {
        sigs.retain(|s| s["keyid"] != json!(keyid));
        sigs.push(signature);
    }
    let bytes = serde_json::to_vec(&md)?;
    let all = all_roles(&online)?;
    let matches = otuf_core::metadata::delegated_role(&all, role)
        .map_err(|e| Error::State(format!("delegations: {e}")))?
        .ok_or_else(|| Error::State(format!("targets does not delegate to {role}")))?;
    let Some(delegated) = matches.roles.first() else {
        return failed(format!("targets does not delegate to {role}"));
    };
    let status = match otuf_core::signing::targets_signing(&bytes, (&matches.keys, &delegated.role)) {
        Ok(s) if s.valid.iter().any(|v| crate::sign::hex(v) == keyid) => s,
        Ok(_) => return failed(format!("Invalid signature: key {keyid} is not a key of {role} or its signature does not verify")),
        Err(e) => return failed(format!("Invalid signature: {e}")),
    };
    let version = status.common.version;
    if !status.complete {
        let key = pending_key(role);
        repo.store
            .set_settings(&[(key.as_str(), Some(&md.to_string()))])?;
        return Ok(Outcome::ok(
            "Signature Processed",
            json!({"update": format!("{role} v{version} is pending signatures")}),
        ));
    }
    let mut next = custom.clone();
    let first = next.roles.iter().all(|r| r.name != role || !r.signed);
    for r in next.roles.iter_mut().filter(|r| r.name == role) {
        r.signed = true;
    }
    let new = signer_for(repo, &next, &online)?;
    let mut moved = Rehomed::find(repo, &new)?;
    moved.offline.remove(role);
    let setting = serde_json::to_string(&next)?;
    let key = pending_key(role);
    moved.publish(
        repo,
        &new,
        first,
        &[("delegations", Some(&setting)), (key.as_str(), None)],
        &[(role.to_string(), bytes)],
    )?;
    // Artifacts that changed while its holders were signing wait for a next version.
    let signed_paths: BTreeSet<String> = md["signed"]["targets"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(p, _)| p.clone())
        .collect();
    let now_listed: BTreeSet<String> = repo
        .store
        .artifacts_in_roles(&BTreeSet::from([role.to_string()]))?
        .into_values()
        .flatten()
        .map(|(p, _)| p)
        .collect();
    if signed_paths != now_listed {
        stage(repo, role)?;
    }
    Ok(Outcome::ok(
        "Signature Processed",
        json!({"update": format!("Role {role} signing complete")}),
    ))
}

/// `delete_sign_metadata` for a delegated role: abandons its waiting version.
pub fn delete_sign(repo: &Repo, role: &str) -> Result<Outcome> {
    let key = pending_key(role);
    if repo.store.setting(&key)?.is_none() {
        return Ok(Outcome::failed(
            &format!("Deletion of {role} metadata failed."),
            format!("The {role} role is not in a signing process."),
        ));
    }
    repo.store.set_settings(&[(key.as_str(), None)])?;
    Ok(Outcome::ok(
        &format!("Deletion of {role} metadata successful, signing process stopped"),
        Value::Null,
    ))
}
