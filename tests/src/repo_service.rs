//! Drives an `otuf-repo serve` process over its REST API, and the clients that read what it
//! publishes: python-tuf's ngclient, otuf-agent and RSTUF's CLI.

use crate::{python, workspace_bin};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running service with its temporary data folder.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The data folder.
    pub data: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// A development repository with 16 bins (`extra`: more `serve` arguments).
    pub fn start_dev() -> Self {
        Self::start(&["--dev", "--bins", "16"])
    }

    /// `otuf-repo serve` with these arguments, on a free port, in a new data folder.
    pub fn start(args: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), args, None)
    }

    /// `otuf-repo serve` in `data`, optionally under another program (such as `faketime`).
    pub fn start_in(data: tempfile::TempDir, args: &[&str], wrapper: Option<&[&str]>) -> Self {
        let mut command = match wrapper {
            Some([program, rest @ ..]) => {
                let mut c = Command::new(program);
                c.args(rest).arg(workspace_bin("otuf-repo"));
                c
            }
            _ => Command::new(workspace_bin("otuf-repo")),
        };
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "otuf_repo=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("otuf-repo exited").unwrap();
            if let Some(addr) = line.split("listening on ").nth(1) {
                break addr.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, base, data }
    }

    /// POST JSON; the status and the reply.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_as(path, body, None)
    }

    /// Kills the process with SIGKILL (no chance to clean up) and hands back its data folder.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.data, tempfile::tempdir().unwrap())
    }

    /// A metadata file as published.
    pub fn metadata(&self, name: &str) -> Value {
        let path = self.data.path().join("metadata").join(name);
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    /// PUT JSON; the status and the reply.
    pub fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("PUT", path, body, None)
    }

    /// POST JSON with a bearer token.
    pub fn post_as(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        self.send("POST", path, body, token)
    }

    fn send(&self, method: &str, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        let auth = token.map_or(String::from("x-no-auth: 1"), |t| {
            format!("Authorization: Bearer {t}")
        });
        let out = Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                "-X",
                method,
                "-H",
                "content-type: application/json",
                "-H",
                &auth,
            ])
            .arg("--data-binary")
            .arg(body.to_string())
            .arg(format!("{}{path}", self.base))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (
            code.parse().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    }

    /// GET JSON.
    pub fn get(&self, path: &str) -> Value {
        let out = Command::new("curl")
            .args(["-s"])
            .arg(format!("{}{path}", self.base))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits for a task to finish; its final state and result.
    pub fn wait(&self, task: &str) -> Value {
        let start = Instant::now();
        loop {
            let t = self.get(&format!("/api/v1/task/?task_id={task}"));
            if ["SUCCESS", "FAILURE", "ERRORED"]
                .contains(&t["data"]["state"].as_str().unwrap_or(""))
            {
                return t["data"].clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "task {task} never finished: {t}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stores an artifact's bytes where /targets/ serves them (consistent-snapshot name).
    pub fn add_file(&self, path: &str, data: &[u8]) {
        let digest = crate::hex(Sha256::digest(data));
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
        let target = self.data.path().join("targets").join(dir);
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join(format!("{digest}.{base}")), data).unwrap();
    }

    /// Adds an artifact through the API and stores its bytes where /targets/ serves them.
    pub fn add(&self, path: &str, data: &[u8], custom: Value) -> Value {
        let digest = crate::hex(Sha256::digest(data));
        let body = json!({"artifacts": [{"path": path, "info": {"length": data.len(), "hashes": {"sha256": digest}, "custom": custom}}]});
        let (code, reply) = self.post("/api/v1/artifacts/", &body);
        assert_eq!(code, 202, "{reply}");
        assert_eq!(reply["message"], "New Artifact(s) successfully submitted.");
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
        let target = self.data.path().join("targets").join(dir);
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join(format!("{digest}.{base}")), data).unwrap();
        self.wait(reply["data"]["task_id"].as_str().unwrap())
    }

    /// Runs RSTUF's CLI (`rstuf <args>`; `admin` commands get `--api-server`, others end with
    /// it): whether it succeeded, and what it printed.
    pub fn rstuf(&self, args: &[&str]) -> (bool, String) {
        let home = tempfile::tempdir().unwrap();
        let mut c = Command::new(python().with_file_name("rstuf"));
        match args {
            ["admin", rest @ ..] => c.args(["admin", "--api-server", &self.base]).args(rest),
            _ => c.args(args).args(["--api-server", &self.base]),
        };
        let o = c.env("HOME", home.path()).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    }

    /// The first root, which clients start from.
    pub fn root(&self) -> PathBuf {
        self.data.path().join("metadata/1.root.json")
    }
}

/// python-tuf's ngclient downloads `target` into `out`: its exit code (0 verified, 2 not
/// found, 1 refused) and what it printed.
pub fn ngclient(svc: &Service, target: &str, out: &Path) -> (i32, String) {
    ngclient_keeping(svc, target, out, None)
}

/// [`ngclient`], keeping its trusted metadata in `metadata_dir` from one call to the next (as
/// a device does) when given.
pub fn ngclient_keeping(
    svc: &Service,
    target: &str,
    out: &Path,
    metadata_dir: Option<&Path>,
) -> (i32, String) {
    let o = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/ngclient_download.py"))
        .args([
            format!("{}/metadata", svc.base),
            format!("{}/targets", svc.base),
        ])
        .arg(svc.root())
        .arg(target)
        .arg(out)
        .args(metadata_dir)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// otuf-agent downloads `target`: whether it succeeded, and what it printed.
pub fn agent(svc: &Service, target: &str) -> (bool, String) {
    let md = tempfile::tempdir().unwrap();
    let td = tempfile::tempdir().unwrap();
    let bin = workspace_bin("otuf-agent");
    assert!(Command::new(&bin)
        .arg("client")
        .arg("--metadata-dir")
        .arg(md.path())
        .arg("init")
        .arg(svc.root())
        .status()
        .unwrap()
        .success());
    let o = Command::new(&bin)
        .args([
            "client",
            "--metadata-url",
            &format!("{}/metadata", svc.base),
            "--target-name",
            target,
        ])
        .args(["--target-base-url", &format!("{}/targets", svc.base)])
        .arg("--metadata-dir")
        .arg(md.path())
        .arg("--target-dir")
        .arg(td.path())
        .arg("download")
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
