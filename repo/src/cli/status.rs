//! `otuf-repo status`: where a service stands: its bootstrap, the trusted root, the bins or
//! delegated roles, the online key, what is waiting for signatures, and the published
//! timestamp's version and expiry (how long devices can still refresh if signing stopped).

use super::client::{Api, Failure, Server};
use serde_json::{json, Value};

/// `otuf-repo status` arguments.
#[derive(Debug, clap::Args)]
pub struct Status {
    /// Print one JSON object instead of lines of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: Server,
}

impl Status {
    /// Gathers the state from the API and the published metadata, and prints it.
    pub async fn run(self) -> Result<(), Failure> {
        let api = Api::new(self.server)?;
        let bootstrap = api.get("/api/v1/bootstrap/").await?["data"].clone();
        let finished = bootstrap["bootstrap"] == json!(true);
        let config = if finished {
            api.get("/api/v1/config/").await?["data"].clone()
        } else {
            Value::Null
        };
        let pending = match bootstrap["state"].as_str() {
            Some("signing" | "finished") => {
                let md = &api.get("/api/v1/metadata/sign").await?["data"]["metadata"];
                md.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(role, _)| !role.starts_with("trusted_"))
                    .map(|(role, m)| {
                        json!({"role": role, "version": m["signed"]["version"],
                               "signatures": m["signatures"].as_array().map_or(0, Vec::len)})
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let timestamp = if finished {
            let (status, ts) = api
                .send(api.request(reqwest::Method::GET, "/metadata/timestamp.json"))
                .await?;
            (status == 200).then(|| {
                json!({"version": ts["signed"]["version"], "expires": ts["signed"]["expires"],
                       "snapshot_version": ts["signed"]["meta"]["snapshot.json"]["version"]})
            })
        } else {
            None
        };
        let state = json!({
            "bootstrap": bootstrap["state"].as_str().unwrap_or("available"),
            "bootstrap_task": bootstrap["id"],
            "root": config.get("root_threshold").map(|t| json!({
                "threshold": t, "keys": config["root_num_keys"], "signing": config["root_signing"]})),
            "number_of_delegated_bins": config.get("number_of_delegated_bins"),
            "delegated_roles": config.get("delegated_roles"),
            "online_key": config["online_key"].get("keyid"),
            "pending_signatures": pending,
            "timestamp": timestamp,
        });
        if self.json {
            println!("{state}");
            return Ok(());
        }
        println!(
            "bootstrap:   {}",
            state["bootstrap"].as_str().unwrap_or_default()
        );
        if let Some(root) = state["root"].as_object() {
            println!(
                "root:        threshold {} of {} key(s)",
                root["threshold"], root["keys"]
            );
        }
        if let Some(n) = state["number_of_delegated_bins"].as_u64() {
            println!("bins:        {n}");
        }
        if let Some(roles) = state["delegated_roles"].as_array() {
            let names: Vec<&str> = roles.iter().filter_map(Value::as_str).collect();
            println!("delegations: {}", names.join(", "));
        }
        if let Some(id) = state["online_key"].as_str() {
            println!("online key:  {id}");
        }
        for p in &pending {
            println!(
                "pending:     {} v{} ({} signature(s) so far)",
                p["role"].as_str().unwrap_or_default(),
                p["version"],
                p["signatures"]
            );
        }
        if let Some(ts) = state["timestamp"].as_object() {
            println!(
                "timestamp:   v{} (snapshot v{}), expires {}",
                ts["version"],
                ts["snapshot_version"],
                ts["expires"].as_str().unwrap_or_default()
            );
        }
        Ok(())
    }
}
