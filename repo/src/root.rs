//! Root metadata: the bootstrap, distributed offline signing, and root rotation (including a
//! new online key). Every decision about signatures and thresholds is otuf-core's, the same code
//! a device runs: a root is only published once a device would accept it.

use crate::error::{Error, Result};
use crate::publish::{Bootstrap, Custom, Delegations, Expiry, Layout, Online, Repo};
use crate::tasks::Outcome;
use otuf_core::signing::{root_signing, RootSigning};
use serde_json::{json, Value};

/// The delegations (hash bins or custom roles) and expiries a bootstrap payload's
/// `settings.roles` asks for; on refusal, the field below `settings.roles` and why.
pub fn settings_of(roles: &Value) -> Result<(Delegations, Expiry), (Vec<String>, String)> {
    let bins = &roles["bins"];
    let delegations = if roles["delegations"].is_null() {
        Delegations::Bins(
            Layout::new(
                bins["number_of_delegated_bins"].as_u64().unwrap_or(256),
                bins["x-otuf-path-hash-prefixes"].as_bool().unwrap_or(false),
            )
            .map_err(|e| (vec!["bins".into(), "number_of_delegated_bins".into()], e))?,
        )
    } else {
        let custom = Custom::parse(&roles["delegations"]).map_err(|e| {
            let loc = std::iter::once("delegations".to_string())
                .chain(e.loc)
                .collect();
            (loc, e.msg)
        })?;
        Delegations::Custom(custom)
    };
    let days = |role: &str, default: i64| roles[role]["expiration"].as_i64().unwrap_or(default);
    let d = Expiry::default();
    let expiry = Expiry {
        root: days("root", d.root),
        targets: days("targets", d.targets),
        snapshot: days("snapshot", d.snapshot),
        timestamp: days("timestamp", d.timestamp),
        bins: days("bins", d.bins),
    };
    Ok((delegations, expiry))
}

/// Why a candidate root is refused: where (members below the root object), why, and the
/// offending value.
pub struct Refusal {
    /// The member path, e.g. `["signatures", "1"]`.
    pub field: Vec<String>,
    /// The check that failed.
    pub why: String,
    /// The refused value (null when it is the document as a whole).
    pub input: Value,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "metadata.root.{}: {}", self.field.join("."), self.why)
    }
}

/// Checks a candidate root with otuf-core: it parses, and every signature it carries verifies
/// by a root key of its own or of `trusted` (for an update). Thresholds may still be short.
pub fn check_signatures(
    root: &Value,
    trusted: Option<&otuf_core::metadata::Root>,
) -> Result<RootSigning, Refusal> {
    let bytes = serde_json::to_vec(root).unwrap_or_default();
    let status = root_signing(&bytes, trusted).map_err(|e| Refusal {
        field: e
            .field()
            .split('.')
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect(),
        why: format!("root metadata refused: {e}"),
        input: Value::Null,
    })?;
    for (i, sig) in root["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let keyid = sig["keyid"].as_str().unwrap_or_default();
        if !status.valid.iter().any(|v| crate::sign::hex(v) == keyid) {
            return Err(Refusal {
                field: vec!["signatures".into(), i.to_string()],
                why: format!("the signature by key {keyid} does not verify with a root key"),
                input: sig.clone(),
            });
        }
    }
    Ok(status)
}

/// [`check_signatures`] against the repository's trusted root for an update.
fn check(repo: &Repo, root: &Value, update: bool) -> Result<RootSigning, String> {
    let trusted = if update {
        Some(repo.trusted_root().map_err(|e| e.to_string())?)
    } else {
        None
    };
    check_signatures(root, trusted.as_ref()).map_err(|r| r.to_string())
}

/// `bootstrap`: root v1 and the settings. Finished at once when root carries its threshold of
/// signatures; otherwise it waits for `sign_metadata`.
pub fn bootstrap(repo: &Repo, task_id: &str, payload: &Value) -> Result<Outcome> {
    let failed = |e: String| Outcome::failed("Bootstrap Failed", e);
    match repo.bootstrap()? {
        Bootstrap::Available => {}
        Bootstrap::Pre(id) if id == task_id => {}
        other => {
            return Ok(failed(format!(
                "Bootstrap state is {}",
                other.name().unwrap_or("unknown")
            )))
        }
    }
    let outcome = bootstrap_checked(repo, task_id, payload)?;
    if !outcome.status {
        repo.store.set_settings(&[("bootstrap", None)])?; // free for another attempt
    }
    Ok(outcome)
}

fn bootstrap_checked(repo: &Repo, task_id: &str, payload: &Value) -> Result<Outcome> {
    let failed = |e: String| Ok(Outcome::failed("Bootstrap Failed", e));
    let root = &payload["metadata"]["root"];
    if root["signed"]["version"] != json!(1) {
        return failed("metadata.root.signed.version: a bootstrap root must be version 1".into());
    }
    if root["signed"]["consistent_snapshot"] != json!(true) {
        return failed(
            "metadata.root.signed.consistent_snapshot: must be true (otuf-repo publishes versioned files)"
                .into(),
        );
    }
    if root["signatures"].as_array().is_none_or(Vec::is_empty) {
        return failed("Metadata requires at least one valid signature".into());
    }
    let status = match check(repo, root, false) {
        Ok(s) => s,
        Err(e) => return failed(format!("Bootstrap has invalid signature(s): {e}")),
    };
    let (delegations, expiry) = match settings_of(&payload["settings"]["roles"]) {
        Ok(s) => s,
        Err((loc, e)) => return failed(format!("settings.roles.{}: {e}", loc.join("."))),
    };
    let setting = match &delegations {
        Delegations::Bins(layout) => ("layout", serde_json::to_string(layout)?),
        Delegations::Custom(custom) => ("delegations", serde_json::to_string(custom)?),
    };
    let online = match repo.online_for(&root["signed"], delegations, expiry) {
        Ok(o) => o,
        Err(e) => return failed(e.to_string()),
    };
    let expiry = serde_json::to_string(&expiry)?;
    repo.store
        .set_settings(&[(setting.0, Some(&setting.1)), ("expiration", Some(&expiry))])?;
    let message = if status.complete() {
        finish_bootstrap(repo, task_id, root, online)?;
        format!("Bootstrap finished {task_id}")
    } else {
        let signing = format!("signing-{task_id}");
        repo.store.set_settings(&[
            ("root_signing", Some(&root.to_string())),
            ("bootstrap", Some(&signing)),
        ])?;
        "Root v1 is pending signature".to_string()
    };
    Ok(Outcome::ok(
        "Bootstrap Processed",
        json!({"bootstrap": message}),
    ))
}

/// Publishes root v1 and, signed by the online key, every other role.
fn finish_bootstrap(repo: &Repo, task_id: &str, root: &Value, online: Online) -> Result<()> {
    repo.put_metadata("1.root.json", &serde_json::to_vec(root)?)?;
    repo.store.set_settings(&[
        ("root_version", Some("1")),
        ("bootstrap", Some(task_id)),
        ("root_signing", None),
    ])?;
    repo.reload()?;
    repo.publish_with(&online, &online.signed_roles, true, None, &[], &[])?;
    crate::delegate::stage_unsigned(repo)?;
    Ok(())
}

/// `metadata_update`: root N+1. Published at once when both thresholds are met; otherwise it
/// waits for `sign_metadata`.
pub fn update(repo: &Repo, payload: &Value) -> Result<Outcome> {
    let failed = |e: String| Ok(Outcome::failed("Metadata Update Failed", e));
    if !matches!(repo.bootstrap()?, Bootstrap::Finished(_)) {
        return failed("Metadata Update requires a completed bootstrap".into());
    }
    let root = &payload["metadata"]["root"];
    let (current, version) = (repo.root_version()?, root["signed"]["version"].as_u64());
    if version != Some(current + 1) {
        return failed(format!(
            "Failed to verify the trust: Expected root version {} instead got version {}",
            current + 1,
            root["signed"]["version"]
        ));
    }
    let status = match check(repo, root, true) {
        Ok(s) => s,
        Err(e) => return failed(format!("Failed to verify the trust: {e}")),
    };
    // A new online key must be loadable before anything is accepted.
    if let Err(e) = repo
        .online()
        .and_then(|o| repo.online_for(&root["signed"], o.delegations.clone(), o.expiry))
    {
        return failed(format!("Failed to verify the trust: {e}"));
    }
    if status.complete() {
        finish_update(repo, root)?;
        return Ok(Outcome::ok(
            "Metadata Update Processed",
            json!({"role": "root"}),
        ));
    }
    repo.store
        .set_settings(&[("root_signing", Some(&root.to_string()))])?;
    let pending = format!("Root v{} is pending signatures", current + 1);
    Ok(Outcome::ok(
        "Metadata Update Processed",
        json!({"role": "root", "update": pending}),
    ))
}

/// Makes root N+1 current. When it names a new online key, every online role is re-signed
/// with it and published together with the new root, `timestamp.json` last.
fn finish_update(repo: &Repo, root: &Value) -> Result<()> {
    let old = repo.online()?;
    let new = repo.online_for(&root["signed"], old.delegations.clone(), old.expiry)?;
    let bytes = serde_json::to_vec(root)?;
    let version = root["signed"]["version"]
        .as_u64()
        .unwrap_or_default()
        .to_string();
    // Kept until the file is written: a crash in between is repaired from it at start-up.
    repo.store
        .set_settings(&[("root_signing", Some(&root.to_string()))])?;
    if new.key.keyid != old.key.keyid {
        let all = new.signed_roles.clone();
        repo.publish_with(
            &new,
            &all,
            true,
            Some(&bytes),
            &[("root_version", Some(&version))],
            &[],
        )?;
    } else {
        repo.put_metadata(&format!("{version}.root.json"), &bytes)?;
        repo.store
            .set_settings(&[("root_version", Some(&version))])?;
    }
    repo.store.set_settings(&[("root_signing", None)])?;
    repo.reload()
}

/// `sign_metadata`: one more offline signature for the pending root.
pub fn sign(repo: &Repo, payload: &Value) -> Result<Outcome> {
    let failed = |e: String| Ok(Outcome::failed("Signature Failed", e));
    let role = payload["role"].as_str().unwrap_or_default();
    let pending = match (role, repo.store.setting("root_signing")?) {
        ("root", Some(p)) => p,
        _ => return failed(format!("No signatures pending for {role}")),
    };
    let mut root: Value = serde_json::from_str(&pending)?;
    let signature = payload["signature"].clone();
    let keyid = signature["keyid"].as_str().unwrap_or_default().to_string();
    let Some(signatures) = root["signatures"].as_array_mut() else {
        return Err(Error::State("pending root has no signatures list".into()));
    };
    signatures.retain(|s| s["keyid"] != json!(keyid));
    signatures.push(signature);
    let bootstrap = repo.bootstrap()?;
    let is_bootstrap = matches!(bootstrap, Bootstrap::Signing(_));
    let status = match check(repo, &root, !is_bootstrap) {
        Ok(s) => s,
        Err(_) => return failed("Invalid signature".into()),
    };
    let version = root["signed"]["version"].as_u64().unwrap_or_default();
    let detail = |text: String| {
        if is_bootstrap {
            json!({"bootstrap": text})
        } else {
            json!({"update": text})
        }
    };
    if !status.complete() {
        repo.store
            .set_settings(&[("root_signing", Some(&root.to_string()))])?;
        let pending = format!("Root v{version} is pending signatures");
        return Ok(Outcome::ok("Signature Processed", detail(pending)));
    }
    if let Bootstrap::Signing(task_id) = bootstrap {
        let online = repo
            .online_from_settings(&root["signed"])?
            .ok_or_else(|| Error::State("bootstrap settings are missing".into()))?;
        finish_bootstrap(repo, &task_id, &root, online)?;
        return Ok(Outcome::ok(
            "Signature Processed",
            detail("Bootstrap Finished".into()),
        ));
    }
    finish_update(repo, &root)?;
    Ok(Outcome::ok(
        "Signature Processed",
        detail("Metadata update finished".into()),
    ))
}

/// `delete_sign_metadata`: abandons the pending root (and a bootstrap waiting for it).
pub fn delete_sign(repo: &Repo, payload: &Value) -> Result<Outcome> {
    let role = payload["role"].as_str().unwrap_or_default();
    if role != "root" || repo.store.setting("root_signing")?.is_none() {
        return Ok(Outcome::failed(
            &format!("Deletion of {role} metadata failed."),
            format!("The {role} role is not in a signing process."),
        ));
    }
    let message = format!("Deletion of {role} metadata successful, signing process stopped");
    if let Bootstrap::Signing(_) = repo.bootstrap()? {
        repo.store
            .set_settings(&[("root_signing", None), ("bootstrap", None)])?;
        return Ok(Outcome::ok(
            &message,
            json!({"bootstrap": "Bootstrap process has been stopped"}),
        ));
    }
    repo.store.set_settings(&[("root_signing", None)])?;
    Ok(Outcome::ok(&message, Value::Null))
}
