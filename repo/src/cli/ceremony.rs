//! `otuf-repo ceremony`: the offline bootstrap ceremony. From the root keys, the threshold, the
//! online key, the bins and the expiries it writes the bootstrap payload `rstuf admin ceremony
//! --out` writes (settings and root v1), signed by the root private keys at hand; the other
//! root key holders sign later with `otuf-repo sign`. `otuf-repo keygen` makes keys for it.

use super::client::{Api, Failure, Server};
use crate::sign::{key_id, KeyFile, KeyType, SigningKey};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// `otuf-repo ceremony` arguments.
#[derive(Debug, clap::Args)]
pub struct Ceremony {
    /// A root key file: a PEM private key (root v1 is signed with it now) or public key (its
    /// holder signs later with `otuf-repo sign`). Once per root key.
    #[arg(long = "root-key", required = true)]
    pub root_keys: Vec<PathBuf>,
    /// Root signatures needed for root metadata to be trusted.
    #[arg(long)]
    pub threshold: u64,
    /// The online key file (PEM, private or public). The service loads its private half from
    /// its online key directory, under `--online-key-name`.
    #[arg(long)]
    pub online_key: PathBuf,
    /// File name of the online private key in the service's online key directory
    /// [default: the name of --online-key].
    #[arg(long)]
    pub online_key_name: Option<String>,
    /// Hash bins: a power of two, 2 to 16384.
    #[arg(long, default_value_t = 256)]
    pub bins: u64,
    /// Classic `path_hash_prefixes` bins (for clients without TAP 15, such as tough).
    #[arg(long)]
    pub path_hash_prefixes: bool,
    /// Custom delegated roles instead of hash bins: a JSON file `{"keys": {..}, "roles":
    /// [..]}` as `settings.roles.delegations` (RSTUF's), roles in search order.
    #[arg(long, conflicts_with_all = ["bins", "path_hash_prefixes"])]
    pub delegations: Option<PathBuf>,
    /// Days root metadata is valid.
    #[arg(long, default_value_t = 365)]
    pub root_expiration: i64,
    /// Days top-level targets is valid.
    #[arg(long, default_value_t = 365)]
    pub targets_expiration: i64,
    /// Days snapshot is valid.
    #[arg(long, default_value_t = 1)]
    pub snapshot_expiration: i64,
    /// Days timestamp is valid.
    #[arg(long, default_value_t = 1)]
    pub timestamp_expiration: i64,
    /// Days each hash bin is valid.
    #[arg(long, default_value_t = 1)]
    pub bins_expiration: i64,
    /// Where to write the bootstrap payload.
    #[arg(long)]
    pub out: PathBuf,
    /// Also send it to the service (`POST /api/v1/bootstrap/`) and wait for the bootstrap task.
    #[arg(long)]
    pub send: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: Server,
}

/// The key object root lists for a key, named as RSTUF's CLI names keys, and its key ID (the
/// SHA-256 of the whole object, the strict form every client accepts).
fn listed(mut public: Value, name: &str, uri: Option<&str>) -> Result<(String, Value), Failure> {
    public["x-rstuf-key-name"] = json!(name);
    if let Some(uri) = uri {
        public["x-rstuf-online-key-uri"] = json!(uri);
    }
    let id = key_id(&public).map_err(|e| e.to_string())?;
    Ok((id, public))
}

fn stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map_or_else(|| "key".into(), |s| s.to_string_lossy().into_owned())
}

impl Ceremony {
    /// The bootstrap payload: settings and root v1 with the signatures of the private keys given.
    pub fn payload(&self, now: i64) -> Result<Value, Failure> {
        crate::publish::Layout::new(self.bins, self.path_hash_prefixes)
            .map_err(|e| format!("--bins: {e}"))?;
        let delegations = match &self.delegations {
            None => Value::Null,
            Some(path) => {
                let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let value: Value = serde_json::from_slice(&text)
                    .map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
                crate::publish::Custom::parse(&value)
                    .map_err(|e| format!("{}: {}: {}", path.display(), e.loc.join("."), e.msg))?;
                value
            }
        };
        for (flag, days) in [
            ("--root-expiration", self.root_expiration),
            ("--targets-expiration", self.targets_expiration),
            ("--snapshot-expiration", self.snapshot_expiration),
            ("--timestamp-expiration", self.timestamp_expiration),
            ("--bins-expiration", self.bins_expiration),
        ] {
            if days <= 0 {
                return Err(format!(
                    "{flag}: a number of days greater than 0, not {days}"
                ));
            }
        }
        let n = self.root_keys.len() as u64;
        if self.threshold == 0 || self.threshold > n {
            return Err(format!(
                "--threshold {}: must be from 1 to the number of root keys ({n})",
                self.threshold
            ));
        }
        let mut keys = Map::new();
        let (mut root_ids, mut signers) = (Vec::new(), Vec::new());
        for path in &self.root_keys {
            let file = KeyFile::load(path).map_err(|e| e.to_string())?;
            let (id, public) = listed(file.public().clone(), &stem(path), None)?;
            if keys.insert(id.clone(), public).is_some() {
                return Err(format!("{}: this root key is given twice", path.display()));
            }
            root_ids.push(id.clone());
            if let KeyFile::Private(mut key) = file {
                key.keyid = id; // signatures carry the ID root lists
                signers.push(key);
            }
        }
        let online = KeyFile::load(&self.online_key).map_err(|e| e.to_string())?;
        let file_name = match &self.online_key_name {
            Some(n) => n.clone(),
            None => self
                .online_key
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| format!("{}: not a file", self.online_key.display()))?,
        };
        let (online_id, online_key) = listed(
            online.public().clone(),
            "online",
            Some(&format!("fn:{file_name}")),
        )?;
        if keys
            .values()
            .any(|k| k["keyval"]["public"] == online_key["keyval"]["public"])
        {
            return Err(format!(
                "{}: the online key must not be a root key (root keys stay offline)",
                self.online_key.display()
            ));
        }
        keys.insert(online_id.clone(), online_key);
        let online_role = json!({"keyids": [online_id], "threshold": 1});
        let signed = json!({
            "_type": "root", "spec_version": "1.0.31", "version": 1,
            "expires": crate::publish::expires::format(now + self.root_expiration * 86_400),
            "consistent_snapshot": true, "keys": keys,
            "roles": {"root": {"keyids": root_ids, "threshold": self.threshold},
                      "timestamp": online_role, "snapshot": online_role, "targets": online_role},
        });
        let canonical = crate::sign::canonical(&signed).map_err(|e| e.to_string())?;
        let signatures: Vec<Value> = signers.iter().map(|k| k.sign(&canonical)).collect();
        let root = json!({"signatures": signatures, "signed": signed});
        // otuf-core checks what it would check at bootstrap: it parses and each signature verifies.
        crate::root::check_signatures(&root, None).map_err(|r| r.to_string())?;
        Ok(json!({
            "settings": {"roles": {
                "root": {"expiration": self.root_expiration},
                "targets": {"expiration": self.targets_expiration},
                "snapshot": {"expiration": self.snapshot_expiration},
                "timestamp": {"expiration": self.timestamp_expiration},
                "bins": if delegations.is_null() {
                    json!({"expiration": self.bins_expiration, "number_of_delegated_bins": self.bins,
                           "x-otuf-path-hash-prefixes": self.path_hash_prefixes})
                } else {
                    Value::Null
                },
                "delegations": delegations}},
            "metadata": {"root": root},
            "timeout": 300,
        }))
    }

    /// Writes the payload (atomically) and, with `--send`, bootstraps the service with it.
    pub async fn run(self) -> Result<(), Failure> {
        let payload = self.payload(crate::publish::now())?;
        let bytes = serde_json::to_vec_pretty(&payload).map_err(|e| e.to_string())?;
        crate::storage::write_atomic(&self.out, &bytes).map_err(|e| e.to_string())?;
        let root = &payload["metadata"]["root"];
        let (have, need) = (
            root["signatures"].as_array().map_or(0, Vec::len),
            self.threshold,
        );
        eprintln!(
            "wrote {}: root v1 with {have} of {need} root signature(s){}",
            self.out.display(),
            if (have as u64) < need {
                "; the other root key holders sign with `otuf-repo sign` after it is sent"
            } else {
                ""
            }
        );
        if self.send {
            let api = Api::new(self.server)?;
            let id = api
                .submit(
                    api.request(reqwest::Method::POST, "/api/v1/bootstrap/")
                        .json(&payload),
                    "bootstrap",
                )
                .await?;
            let result = api.wait(&id).await?;
            eprintln!(
                "bootstrap: {}",
                result["details"]["bootstrap"].as_str().unwrap_or("done")
            );
        }
        Ok(())
    }
}

/// `otuf-repo keygen` arguments.
#[derive(Debug, clap::Args)]
pub struct Keygen {
    /// Where to write the new private key (PEM, PKCS#8, readable by its owner only; never
    /// overwritten). The public key goes beside it, in `<FILE>.pub`.
    pub file: PathBuf,
    /// Key type.
    #[arg(long = "type", value_enum, default_value_t = KeyType::Ed25519)]
    pub key_type: KeyType,
}

impl Keygen {
    /// Generates the key and prints its key ID and public key object.
    pub fn run(self) -> Result<(), Failure> {
        let key = SigningKey::generate_of(self.key_type).map_err(|e| e.to_string())?;
        let mut public = self.file.clone().into_os_string();
        public.push(".pub");
        let public = PathBuf::from(public);
        if public.exists() {
            return Err(format!("{}: exists already", public.display()));
        }
        key.save(&self.file).map_err(|e| e.to_string())?;
        let pem = key.public_pem().map_err(|e| e.to_string())?;
        crate::storage::write_atomic(&public, pem.as_bytes()).map_err(|e| e.to_string())?;
        println!(
            "{}",
            json!({"file": self.file.display().to_string(), "public": public.display().to_string(),
                   "keyid": key.keyid, "key": key.public})
        );
        Ok(())
    }
}
