//! `otuf-repo sign`: an offline key holder's signature for the metadata waiting for signatures,
//! as `rstuf admin metadata sign`: root (a bootstrap short of its threshold, or a root
//! rotation), or a custom delegated role with keys of its own (`--role NAME`). The key is
//! matched by its public half, so the signature carries the key ID the delegator lists, and
//! refused unless it is a key of that role (root: of the pending or the trusted root).

use super::client::{Api, Failure, Server};
use crate::sign::SigningKey;
use serde_json::{json, Value};
use std::path::PathBuf;

/// `otuf-repo sign` arguments.
#[derive(Debug, clap::Args)]
pub struct Sign {
    /// The root private key (PEM).
    #[arg(long)]
    pub key: PathBuf,
    /// The role waiting for signatures.
    #[arg(long, default_value = "root")]
    pub role: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: Server,
}

/// The ID under which `root` (signed part) lists `key` as a root key.
fn root_key_id(key: &SigningKey, root: &Value) -> Option<String> {
    let ids = root["roles"]["root"]["keyids"].as_array()?;
    ids.iter()
        .filter_map(Value::as_str)
        .find_map(|id| key.is(&root["keys"][id]).then(|| id.to_string()))
}

impl Sign {
    /// Fetches the pending role, signs it, sends the signature and waits for the task.
    pub async fn run(self) -> Result<(), Failure> {
        let mut key = SigningKey::load(&self.key).map_err(|e| e.to_string())?;
        let api = Api::new(self.server)?;
        let pending = api.get("/api/v1/metadata/sign").await?;
        let md = &pending["data"]["metadata"];
        let Some(role) = md.get(&self.role).filter(|r| r.is_object()) else {
            return Err(format!(
                "no {} metadata is waiting for signatures ({})",
                self.role,
                pending["message"].as_str().unwrap_or_default()
            ));
        };
        let signed = &role["signed"];
        let id = if self.role == "root" {
            root_key_id(&key, signed).or_else(|| {
                md.get("trusted_root")
                    .and_then(|t| root_key_id(&key, &t["signed"]))
            })
        } else {
            // A delegated role's keys, as the delegations in force list them.
            let config = api.get("/api/v1/config/").await?;
            let d = &config["data"]["delegations"];
            d["roles"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["name"] == json!(self.role))
                .and_then(|r| r["keyids"].as_array())
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find(|id| key.is(&d["keys"][*id]))
                .map(String::from)
        }
        .ok_or_else(|| {
            format!(
                "{}: not a key of the pending {} v{}{}",
                self.key.display(),
                self.role,
                signed["version"],
                if self.role == "root" {
                    " nor of the trusted root"
                } else {
                    ""
                }
            )
        })?;
        key.keyid = id.clone();
        let canonical = crate::sign::canonical(signed).map_err(|e| e.to_string())?;
        let signature = key.sign(&canonical);
        let body = json!({"role": self.role, "signature": signature});
        let task = api
            .submit(
                api.request(reqwest::Method::POST, "/api/v1/metadata/sign")
                    .json(&body),
                "signature",
            )
            .await?;
        let result = api.wait(&task).await?;
        let details = &result["details"];
        eprintln!(
            "signed {} v{} with key {id}: {}",
            self.role,
            signed["version"],
            details["bootstrap"]
                .as_str()
                .or(details["update"].as_str())
                .unwrap_or("Signature Processed")
        );
        Ok(())
    }
}
