//! How top-level targets delegates artifacts: to hash bins ([`Layout`]) or to custom roles
//! that plant operators name by path patterns (RSTUF's `settings.roles.delegations` and
//! `/api/v1/delegations/`). Custom roles without keys of their own are signed by the online key,
//! as in RSTUF; a role with keys of its own is signed offline by their holders and is delegated
//! only once a version they signed is published (so no device looks for a role snapshot does
//! not list). An artifact belongs to the role a device finds first for its path (otuf-core's
//! delegation search), so every listed artifact is found by every client.

use super::bins::Layout;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One custom delegated role, as the API receives it (`keyids` empty: the online key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRole {
    /// Role name (`[A-Za-z0-9_-]+`).
    pub name: String,
    /// Whether the search stops at this role.
    pub terminating: bool,
    /// Keys that sign it; empty for the online key.
    #[serde(default)]
    pub keyids: Vec<String>,
    /// Signatures needed.
    pub threshold: u64,
    /// Path patterns it is trusted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Or path hash prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// Days each version is valid.
    #[serde(rename = "x-rstuf-expire-policy", default = "default_days")]
    pub expire_policy: i64,
    /// A role with keys of its own: a version its holders signed has been published, so
    /// targets delegates to it (kept by the service; never taken from a request).
    #[serde(
        rename = "x-otuf-signed",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub signed: bool,
}

fn default_days() -> i64 {
    1
}

/// Custom delegations: keys and roles, in search order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Custom {
    /// Keys of the roles that have their own (key ID → key object).
    #[serde(default)]
    pub keys: Map<String, Value>,
    /// The roles, in the order devices search them.
    pub roles: Vec<CustomRole>,
}

/// Why a delegations payload is refused: where (below `delegations`) and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Member path below `delegations`, e.g. `["roles", "0", "name"]`.
    pub loc: Vec<String>,
    /// The check.
    pub msg: String,
}

fn invalid(loc: &[&str], msg: impl Into<String>) -> Invalid {
    Invalid {
        loc: loc.iter().map(|s| s.to_string()).collect(),
        msg: msg.into(),
    }
}

const TOP_LEVEL: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

impl CustomRole {
    /// Whether the online key signs it (alone: no offline key holders to wait for).
    pub fn is_online(&self) -> bool {
        self.keyids.is_empty()
    }

    /// Whether targets delegates to it now: an online role, or an offline one once signed.
    pub fn is_delegated(&self) -> bool {
        self.is_online() || self.signed
    }

    fn check(&self, i: usize, keys: &Map<String, Value>) -> Result<(), Invalid> {
        let at = |f: &str| vec!["roles".to_string(), i.to_string(), f.to_string()];
        let bad = |f: &str, m: String| Invalid { loc: at(f), msg: m };
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(
                "name",
                format!(
                    "Delegated custom target name {} not allowed Only a-z, A-Z, 0-9, - and _ characters can be used",
                    self.name
                ),
            ));
        }
        if TOP_LEVEL.contains(&self.name.as_str()) {
            return Err(bad("name", format!("{} is a top-level role", self.name)));
        }
        match (&self.paths, &self.path_hash_prefixes) {
            (Some(p), None) if !p.is_empty() && p.iter().all(|s| !s.is_empty()) => {}
            (None, Some(h))
                if !h.is_empty()
                    && h.iter().all(|s| {
                        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
                    }) => {}
            (Some(_), Some(_)) | (None, None) => {
                return Err(bad(
                    "paths",
                    "exactly one of paths and path_hash_prefixes".into(),
                ))
            }
            (Some(_), None) => return Err(bad("paths", "at least one pattern, none empty".into())),
            (None, Some(_)) => {
                return Err(bad(
                    "path_hash_prefixes",
                    "at least one prefix of hex digits".into(),
                ))
            }
        }
        if self.keyids.is_empty() {
            if self.threshold != 1 {
                return Err(bad(
                    "threshold",
                    "If no keys assigned threshold must be 1".into(),
                ));
            }
        } else {
            if self.threshold == 0 || self.threshold > self.keyids.len() as u64 {
                return Err(bad(
                    "threshold",
                    format!("from 1 to the number of keyids ({})", self.keyids.len()),
                ));
            }
            for (k, id) in self.keyids.iter().enumerate() {
                if !keys.contains_key(id) {
                    return Err(Invalid {
                        loc: vec![
                            "roles".into(),
                            i.to_string(),
                            "keyids".into(),
                            k.to_string(),
                        ],
                        msg: format!("key {id} is not in delegations.keys"),
                    });
                }
            }
        }
        if self.expire_policy <= 0 {
            return Err(bad(
                "x-rstuf-expire-policy",
                "a number of days greater than 0".into(),
            ));
        }
        Ok(())
    }
}

impl Custom {
    /// Reads and checks a `delegations` object (`{keys, roles}`) of the API. Each key must be
    /// a key otuf-core reads, under the key ID of its key object.
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
        let mut parsed: Self = serde_json::from_value(value.clone())
            .map_err(|e| invalid(&[], format!("not a delegations object: {e}")))?;
        for role in &mut parsed.roles {
            role.signed = false;
        }
        for (id, key) in &parsed.keys {
            let ok = crate::sign::key_id(key).is_ok_and(|k| &k == id)
                || crate::sign::key_id(&without_extensions(key)).is_ok_and(|k| &k == id);
            if !ok {
                return Err(invalid(
                    &["keys", id],
                    "the key ID is not the SHA-256 of the canonical key object",
                ));
            }
            let one = json!({"keys": {id: key}, "roles": []});
            otuf_core::metadata::delegations_for_target(
                &serde_json::to_vec(&one).unwrap_or_default(),
                "",
            )
            .map_err(|e| invalid(&["keys", id], format!("key refused: {e}")))?;
        }
        if parsed.roles.is_empty() {
            return Err(invalid(&["roles"], "at least one role"));
        }
        parsed.check()?;
        Ok(parsed)
    }

    /// The checks every role list must pass (also after an update or a deletion).
    pub fn check(&self) -> Result<(), Invalid> {
        for (i, role) in self.roles.iter().enumerate() {
            role.check(i, &self.keys)?;
            if self.roles[..i].iter().any(|r| r.name == role.name) {
                return Err(invalid(
                    &["roles", &i.to_string(), "name"],
                    format!("role {} is listed twice", role.name),
                ));
            }
        }
        Ok(())
    }

    /// The role named `name`.
    pub fn role(&self, name: &str) -> Option<&CustomRole> {
        self.roles.iter().find(|r| r.name == name)
    }
}

/// A key object without its `x-` extension members (securesystemslib and RSTUF's CLI compute
/// key IDs before adding them).
fn without_extensions(key: &Value) -> Value {
    let mut k = key.clone();
    if let Some(o) = k.as_object_mut() {
        o.retain(|name, _| !name.starts_with("x-"));
    }
    k
}

/// Top-level targets' delegations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delegations {
    /// Hash bins, every one signed by the online key.
    Bins(Layout),
    /// Custom roles.
    Custom(Custom),
}

impl Delegations {
    /// Every delegated role, in order.
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Bins(l) => l.names(),
            Self::Custom(c) => c.roles.iter().map(|r| r.name.clone()).collect(),
        }
    }

    /// The delegated roles the online key signs (those the service re-signs by itself).
    pub fn online_names(&self) -> Vec<String> {
        match self {
            Self::Bins(l) => l.names(),
            Self::Custom(c) => c
                .roles
                .iter()
                .filter(|r| r.is_online())
                .map(|r| r.name.clone())
                .collect(),
        }
    }

    /// Days a version of delegated role `name` is valid (`bins` days for every bin).
    pub fn days(&self, name: &str, bins_days: i64) -> i64 {
        match self {
            Self::Bins(_) => bins_days,
            Self::Custom(c) => c.role(name).map_or(bins_days, |r| r.expire_policy),
        }
    }

    /// Top-level targets' `delegations`, with the online key (ID `keyid`) for every role
    /// without keys of its own: every role delegated now.
    pub fn render(&self, keyid: &str, key: &Value) -> Value {
        self.render_roles(keyid, key, false)
    }

    /// [`render`](Self::render) with the offline roles not yet signed too: what targets will
    /// delegate once they are (their signatures are checked against it).
    pub fn render_all(&self, keyid: &str, key: &Value) -> Value {
        self.render_roles(keyid, key, true)
    }

    fn render_roles(&self, keyid: &str, key: &Value, all: bool) -> Value {
        match self {
            Self::Bins(l) => l.delegations(keyid, key),
            Self::Custom(c) => {
                let roles: Vec<&CustomRole> =
                    c.roles.iter().filter(|r| all || r.is_delegated()).collect();
                let mut keys: Map<String, Value> = c
                    .keys
                    .iter()
                    .filter(|(id, _)| roles.iter().any(|r| r.keyids.contains(id)))
                    .map(|(id, k)| (id.clone(), k.clone()))
                    .collect();
                keys.insert(keyid.into(), key.clone());
                let roles: Vec<Value> = roles
                    .iter()
                    .map(|r| {
                        let keyids = if r.keyids.is_empty() {
                            vec![keyid.to_string()]
                        } else {
                            r.keyids.clone()
                        };
                        let mut v = json!({"name": r.name, "terminating": r.terminating,
                                           "keyids": keyids, "threshold": r.threshold});
                        if let Some(p) = &r.paths {
                            v["paths"] = json!(p);
                        }
                        if let Some(h) = &r.path_hash_prefixes {
                            v["path_hash_prefixes"] = json!(h);
                        }
                        v
                    })
                    .collect();
                json!({"keys": keys, "roles": roles})
            }
        }
    }

    /// The role an artifact belongs to: for bins its bin; for custom roles the first a device
    /// finds for `path` in `rendered` (the output of [`render`](Self::render)), `None` when no
    /// role is trusted for it.
    pub fn role_for(&self, rendered: &[u8], path: &str) -> Result<Option<String>> {
        match self {
            Self::Bins(l) => l.bin_for(path).map(Some),
            Self::Custom(_) => {
                let m = otuf_core::metadata::delegations_for_target(rendered, path)
                    .map_err(|e| Error::State(format!("delegations for {path}: {e}")))?;
                Ok(m.roles.first().map(|r| r.name.as_str().to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, paths: &[&str]) -> Value {
        json!({"name": name, "terminating": true, "keyids": [], "threshold": 1,
               "paths": paths, "x-rstuf-expire-policy": 7})
    }

    #[test]
    fn artifacts_go_to_the_first_role_a_device_finds() {
        let c = Custom::parse(&json!({"keys": {}, "roles": [
            role("plc", &["firmware/plc-*"]), role("firmware", &["firmware/*"])]}))
        .unwrap();
        let d = Delegations::Custom(c);
        let key = crate::sign::SigningKey::generate().unwrap();
        let rendered = serde_json::to_vec(&d.render(&key.keyid, &key.public)).unwrap();
        let find = |p| d.role_for(&rendered, p).unwrap();
        assert_eq!(find("firmware/plc-a.bin").as_deref(), Some("plc"));
        assert_eq!(find("firmware/rtu.bin").as_deref(), Some("firmware"));
        // `*` does not cross `/`, and no role is trusted for other folders.
        assert_eq!(find("firmware/x/rtu.bin"), None);
        assert_eq!(find("docs/manual.pdf"), None);
        assert_eq!(d.days("plc", 1), 7);
        assert_eq!(d.online_names(), vec!["plc", "firmware"]);
    }

    #[test]
    fn bad_roles_are_refused_naming_the_field() {
        let loc = |v: Value| Custom::parse(&v).unwrap_err().loc.join(".");
        assert_eq!(
            loc(json!({"roles": [role("bad name", &["a/*"])]})),
            "roles.0.name"
        );
        assert_eq!(
            loc(json!({"roles": [role("targets", &["a/*"])]})),
            "roles.0.name"
        );
        assert_eq!(loc(json!({"roles": [role("a", &[])]})), "roles.0.paths");
        assert_eq!(loc(json!({"roles": [role("a", &[""])]})), "roles.0.paths");
        assert_eq!(
            loc(json!({"roles": [role("a", &["x"]), role("a", &["y"])]})),
            "roles.1.name"
        );
        let mut r = role("a", &["x"]);
        r["threshold"] = json!(2);
        assert_eq!(loc(json!({"roles": [r]})), "roles.0.threshold");
        let mut r = role("a", &["x"]);
        r["keyids"] = json!(["ab"]);
        assert_eq!(loc(json!({"roles": [r]})), "roles.0.keyids.0");
        let key = crate::sign::SigningKey::generate().unwrap();
        assert_eq!(
            loc(json!({"keys": {"00": key.public}, "roles": [role("a", &["x"])]})),
            "keys.00"
        );
        assert_eq!(loc(json!({"roles": []})), "roles");
    }
}
