//! The REST client the operator commands share: RSTUF's v1 API on a running service, with an
//! optional bearer token, and task polling until the task has finished.

use serde_json::Value;
use std::time::{Duration, Instant};

/// Where the service is and how to reach it.
#[derive(Debug, Clone, clap::Args)]
pub struct Server {
    /// The service's base URL.
    #[arg(long, env = "OTUF_API_SERVER", default_value = "http://127.0.0.1:8080")]
    pub api_server: String,
    /// Bearer token (when the service has `--tokens-file`).
    #[arg(long, env = "OTUF_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds to wait for a task to finish.
    #[arg(long, default_value_t = 300)]
    pub wait_timeout: u64,
}

/// A connection to the service.
pub struct Api {
    http: reqwest::Client,
    server: Server,
}

/// Why an operator command failed: said in one line.
pub type Failure = String;

impl Api {
    /// A client for `server`.
    pub fn new(server: Server) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, server })
    }

    /// `path` under the service's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.api_server.trim_end_matches('/'))
    }

    /// A request with the token, if any.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match &self.server.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends `req`; the status and the JSON reply.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, Value), Failure> {
        let res = req
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.server.api_server))?;
        let status = res.status().as_u16();
        let body = res.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// GET `path`, which must answer 200.
    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        match self.send(self.request(reqwest::Method::GET, path)).await? {
            (200, body) => Ok(body),
            (status, body) => Err(refusal(path, status, &body)),
        }
    }

    /// Sends a write that RSTUF answers with 202 and a task; returns the task id.
    pub async fn submit(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<String, Failure> {
        match self.send(req).await? {
            (202, body) => body["data"]["task_id"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| format!("{what}: the reply has no data.task_id: {body}")),
            (status, body) => Err(refusal(what, status, &body)),
        }
    }

    /// Polls a task until it has finished; its `result` when it succeeded.
    pub async fn wait(&self, task_id: &str) -> Result<Value, Failure> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            let t = self
                .get(&format!("/api/v1/task/?task_id={task_id}"))
                .await?;
            let data = &t["data"];
            match data["state"].as_str().unwrap_or_default() {
                "SUCCESS" if data["result"]["status"] == Value::Bool(true) => {
                    return Ok(data["result"].clone())
                }
                "SUCCESS" | "ERRORED" | "FAILURE" => {
                    let r = &data["result"];
                    let why = r["error"].as_str().or(r["message"].as_str()).unwrap_or("");
                    return Err(format!("task {task_id} failed: {why}"));
                }
                _ => {}
            }
            if started.elapsed() > Duration::from_secs(self.server.wait_timeout) {
                return Err(format!(
                    "task {task_id} had not finished after {} s (it may still finish)",
                    self.server.wait_timeout
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}

/// A refusal in RSTUF's shapes (`detail.message`/`detail.error`, or FastAPI's validation list
/// naming the field), in one line.
fn refusal(what: &str, status: u16, body: &Value) -> Failure {
    let detail = &body["detail"];
    let why = if let Some(list) = detail.as_array() {
        list.iter()
            .map(|d| {
                let loc: Vec<String> = d["loc"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| l.as_str().map_or_else(|| l.to_string(), String::from))
                    .collect();
                format!(
                    "{}: {}",
                    loc.join("."),
                    d["msg"].as_str().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        [&detail["message"], &detail["error"]]
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let why = if why.is_empty() {
        body.to_string()
    } else {
        why
    };
    format!("{what}: refused ({status}): {why}")
}
