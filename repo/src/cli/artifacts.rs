//! `otuf-repo publish` (uploads a firmware image, which the service hashes, stores and adds)
//! and `otuf-repo delete`, each waiting until the task's metadata is published.

use super::client::{Api, Failure, Server};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::PathBuf;

/// `otuf-repo publish` arguments.
#[derive(Debug, clap::Args)]
pub struct Publish {
    /// The artifact file.
    pub file: PathBuf,
    /// Its target path in the repository (for example `firmware/plc-a-1.2.0.bin`).
    #[arg(long)]
    pub path: String,
    /// Its `custom` metadata, a JSON object (otuf's conventions: `version`, `hardware`,
    /// `channel`, `min_version`).
    #[arg(long)]
    pub custom: Option<String>,
    /// Stage it without publishing (`publish_artifacts: false`); a later publish includes it.
    #[arg(long)]
    pub no_publish: bool,
    /// Return once the service has accepted it, without waiting for its publication.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: Server,
}

/// `otuf-repo delete` arguments.
#[derive(Debug, clap::Args)]
pub struct Delete {
    /// Target paths to remove.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Stage the removal without publishing.
    #[arg(long)]
    pub no_publish: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: Server,
}

/// Each segment of a target path, percent-encoded for the upload URL.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl Publish {
    /// Streams the file to the upload route (with a progress bar on a terminal), then waits.
    pub async fn run(self) -> Result<(), Failure> {
        if let Some(c) = &self.custom {
            let v: Value =
                serde_json::from_str(c).map_err(|e| format!("--custom: not JSON: {e}"))?;
            if !v.is_object() {
                return Err("--custom: must be a JSON object".into());
            }
        }
        let file = tokio::fs::File::open(&self.file)
            .await
            .map_err(|e| format!("{}: {e}", self.file.display()))?;
        let length = file
            .metadata()
            .await
            .map_err(|e| format!("{}: {e}", self.file.display()))?
            .len();
        let bar = indicatif::ProgressBar::new(length).with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .map_err(|e| e.to_string())?,
        );
        bar.set_message(self.path.clone());
        let progress = bar.clone();
        let stream = tokio_util::io::ReaderStream::new(file).map(move |chunk| {
            if let Ok(c) = &chunk {
                progress.inc(c.len() as u64);
            }
            chunk
        });
        let api = Api::new(self.server)?;
        let mut route = format!("/api/v1/artifacts/upload/{}", encode_path(&self.path));
        if self.no_publish {
            route.push_str("?publish_artifacts=false");
        }
        let mut req = api
            .request(reqwest::Method::POST, &route)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(stream));
        if let Some(c) = &self.custom {
            req = req.header("x-otuf-custom", c.as_str());
        }
        let task = api.submit(req, &self.path).await;
        bar.finish_and_clear();
        let task = task?;
        if self.no_wait {
            println!("{}", json!({"task_id": task, "path": self.path}));
            return Ok(());
        }
        let result = api.wait(&task).await?;
        if result["details"]["invalid_paths"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
        {
            return Err(format!(
                "{}: no delegated role is trusted for this path: it was not added",
                self.path
            ));
        }
        let waiting = &result["details"]["roles_awaiting_signatures"];
        if waiting.is_array() {
            eprintln!(
                "{}: added to {waiting}, waiting for the signatures of its key holders (otuf-repo sign --role ...)",
                self.path
            );
            return Ok(());
        }
        eprintln!(
            "{}: {} in {}",
            self.path,
            if self.no_publish {
                "staged"
            } else {
                "published"
            },
            result["details"]["artifact_roles"]
        );
        Ok(())
    }
}

impl Delete {
    /// Sends the removal and waits for it.
    pub async fn run(self) -> Result<(), Failure> {
        let api = Api::new(self.server)?;
        let body = json!({"artifacts": self.paths, "publish_artifacts": !self.no_publish});
        let task = api
            .submit(
                api.request(reqwest::Method::POST, "/api/v1/artifacts/delete")
                    .json(&body),
                "delete",
            )
            .await?;
        let result = api.wait(&task).await?;
        let details = &result["details"];
        eprintln!("removed: {}", details["deleted_artifacts"]);
        let missing = details["not_found_artifacts"]
            .as_array()
            .map_or(0, Vec::len);
        if missing > 0 {
            return Err(format!("not found: {}", details["not_found_artifacts"]));
        }
        Ok(())
    }
}
