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
    /// Where its state and storage are.
    pub backend: Backend,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
        self.backend.remove();
    }
}

/// The state and storage a test service runs on: SQLite and its data folder, or, with
/// `OTUF_TEST_BACKEND=postgres-s3`, a database of its own on the PostgreSQL at 127.0.0.1:5432
/// and a prefix of its own in a bucket of an S3-protocol server (moto, started once per test
/// process). Named after the data folder, so a service restarted on it finds its state.
#[derive(Clone, Debug)]
pub enum Backend {
    /// SQLite and the data folder.
    Local(PathBuf),
    /// PostgreSQL and S3.
    Shared {
        /// `postgres://...` of its database.
        state: String,
        /// `s3://...` of its prefix.
        storage: String,
        /// The database's name.
        database: String,
        /// `http://127.0.0.1:<port>/<bucket>/<prefix>`: its objects, over plain HTTP.
        objects: String,
    },
}

/// The PostgreSQL server the scale-out tests use (trust authentication).
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
/// The bucket of the test S3 server.
pub const BUCKET: &str = "otuf-test";

/// `f` on a connection to the server's `postgres` database, on a thread of its own (the
/// blocking client runs a runtime, which a `#[tokio::test]` thread must not start).
fn admin(f: impl FnOnce(&mut postgres::Client) + Send) {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut c = postgres::Client::connect(&format!("{POSTGRES}/postgres"), postgres::NoTls)
                .expect("PostgreSQL on 127.0.0.1:5432");
            f(&mut c)
        })
        .join()
        .unwrap()
    })
}

/// The S3-protocol server of this test process: its port.
pub fn s3_server() -> u16 {
    static SERVER: std::sync::OnceLock<(u16, std::sync::Mutex<Child>)> = std::sync::OnceLock::new();
    SERVER
        .get_or_init(|| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            // It serves until its standard input closes: when this process exits.
            let mut child = Command::new(python())
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/s3_server.py"))
                .args([port.to_string(), BUCKET.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("moto's S3 server (tests/python/requirements.txt)");
            let mut ready = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut ready)
                .unwrap();
            assert_eq!(ready.trim(), "ready", "the S3 server did not start");
            (port, std::sync::Mutex::new(child))
        })
        .0
}

impl Backend {
    /// The backend `OTUF_TEST_BACKEND` asks for, for a service in `data`.
    pub fn for_data(data: &Path) -> Self {
        match std::env::var("OTUF_TEST_BACKEND").as_deref() {
            Ok("postgres-s3") => Self::shared(data),
            Ok("") | Ok("local") | Err(_) => Self::Local(data.to_path_buf()),
            Ok(other) => panic!("OTUF_TEST_BACKEND={other}: local or postgres-s3"),
        }
    }

    /// PostgreSQL and S3 for a service in `data` (its database created if new).
    pub fn shared(data: &Path) -> Self {
        let name: String = data
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase();
        let database = format!("otuf_t_{name}");
        admin(|c| {
            let exists = c
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
                .unwrap()
                .is_some();
            if !exists {
                c.batch_execute(&format!("CREATE DATABASE {database}"))
                    .unwrap();
            }
        });
        let port = s3_server();
        Self::Shared {
            state: format!("{POSTGRES}/{database}"),
            storage: format!(
                "s3://{BUCKET}/{name}?endpoint=http://127.0.0.1:{port}&allow_http=true&region=us-east-1"
            ),
            database,
            objects: format!("http://127.0.0.1:{port}/{BUCKET}/{name}"),
        }
    }

    /// The `serve` arguments that select it.
    pub fn args(&self) -> Vec<String> {
        match self {
            Self::Local(_) => Vec::new(),
            Self::Shared { state, storage, .. } => {
                vec![
                    "--state".into(),
                    state.clone(),
                    "--storage".into(),
                    storage.clone(),
                ]
            }
        }
    }

    /// The object at `key` (`metadata/1.root.json`), if there is one.
    pub fn read(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            Self::Local(data) => std::fs::read(data.join(key)).ok(),
            Self::Shared { objects, .. } => {
                let out = Command::new("curl")
                    .args(["-s", "-f"])
                    .arg(format!("{objects}/{}", url_path(key)))
                    .output()
                    .unwrap();
                out.status.success().then_some(out.stdout)
            }
        }
    }

    /// Puts `bytes` at `key`, as an operator copying artifacts into the storage would.
    pub fn write(&self, key: &str, bytes: &[u8]) {
        match self {
            Self::Local(data) => {
                let path = data.join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            Self::Shared { objects, .. } => {
                use std::io::Write;
                let mut c = Command::new("curl")
                    .args([
                        "-s",
                        "-f",
                        "-X",
                        "PUT",
                        "-H",
                        "content-type: application/octet-stream",
                    ])
                    .args(["--data-binary", "@-"])
                    .arg(format!("{objects}/{}", url_path(key)))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap();
                c.stdin.take().unwrap().write_all(bytes).unwrap();
                assert!(c.wait().unwrap().success(), "PUT {key}");
            }
        }
    }

    /// Drops its database.
    pub fn remove(&self) {
        if let Self::Shared { database, .. } = self {
            admin(|c| {
                let _ =
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
            });
        }
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
        let backend = Backend::for_data(data.path());
        Self::start_on(data, backend, args, wrapper)
    }

    /// `otuf-repo serve` in `data` on `backend` (several services may share a shared one).
    pub fn start_on(
        data: tempfile::TempDir,
        backend: Backend,
        args: &[&str],
        wrapper: Option<&[&str]>,
    ) -> Self {
        let mut command = match wrapper {
            Some([program, rest @ ..]) => {
                let mut c = Command::new(program);
                c.args(rest).arg(workspace_bin("otuf-repo"));
                c
            }
            _ => Command::new(workspace_bin("otuf-repo")),
        };
        let child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(backend.args())
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "otuf_repo=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // A group of its own, killed whole: a wrapper (faketime forks) takes the service along.
        std::os::unix::process::CommandExt::process_group(child, 0);
        let mut child = child.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("otuf-repo exited").unwrap();
            if let Some(addr) = line.split("listening on ").nth(1) {
                break addr.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base,
            data,
            backend,
        }
    }

    /// POST JSON; the status and the reply.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_as(path, body, None)
    }

    /// Kills the process with SIGKILL (no chance to clean up) and hands back its data folder.
    pub fn kill(mut self) -> tempfile::TempDir {
        self.stop();
        // Its state stays for the next service on this data folder.
        self.backend = Backend::Local(PathBuf::new());
        std::mem::replace(&mut self.data, tempfile::tempdir().unwrap())
    }

    /// SIGKILL to its process group.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A file of its storage (`metadata/timestamp.json`), if there is one.
    pub fn file(&self, key: &str) -> Option<Vec<u8>> {
        self.backend.read(key)
    }

    /// A metadata file as published.
    pub fn metadata(&self, name: &str) -> Value {
        let bytes = self.file(&format!("metadata/{name}")).expect(name);
        serde_json::from_slice(&bytes).unwrap()
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
        self.backend.write(&target_key(path, data), data);
    }

    /// Adds an artifact through the API and stores its bytes where /targets/ serves them.
    pub fn add(&self, path: &str, data: &[u8], custom: Value) -> Value {
        let digest = crate::hex(Sha256::digest(data));
        let body = json!({"artifacts": [{"path": path, "info": {"length": data.len(), "hashes": {"sha256": digest}, "custom": custom}}]});
        let (code, reply) = self.post("/api/v1/artifacts/", &body);
        assert_eq!(code, 202, "{reply}");
        assert_eq!(reply["message"], "New Artifact(s) successfully submitted.");
        self.backend.write(&target_key(path, data), data);
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

    /// The first root, which clients start from (a copy in the data folder, from a storage
    /// elsewhere).
    pub fn root(&self) -> PathBuf {
        match &self.backend {
            Backend::Local(data) => data.join("metadata/1.root.json"),
            Backend::Shared { .. } => {
                let copy = self.data.path().join("trusted-1.root.json");
                let root = self
                    .file("metadata/1.root.json")
                    .expect("metadata/1.root.json");
                std::fs::write(&copy, root).unwrap();
                copy
            }
        }
    }
}

/// A folder holding what the service on `data` published (`metadata/…`): `data` itself on
/// the local backend, a copy of the object store's current state on the shared one.
pub fn published(data: &Path) -> PathBuf {
    match Backend::for_data(data) {
        Backend::Local(dir) => dir,
        shared => mirror(&shared, data),
    }
}

/// Copies the current published state from `backend` into `<into>/published/metadata`, as a
/// device reads it: the root chain, `timestamp.json`, then the snapshot, targets and every bin
/// in the versions they name (versioned files never change, so the copy is one state).
pub fn mirror(backend: &Backend, into: &Path) -> PathBuf {
    let copy = into.join("published");
    let md = copy.join("metadata");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&md).unwrap();
    let fetch = |name: &str| -> Option<Value> {
        let bytes = backend.read(&format!("metadata/{name}"))?;
        std::fs::write(md.join(name), &bytes).unwrap();
        serde_json::from_slice(&bytes).ok()
    };
    for v in 1.. {
        if fetch(&format!("{v}.root.json")).is_none() {
            break;
        }
    }
    let Some(timestamp) = fetch("timestamp.json") else {
        return copy;
    };
    let v = &timestamp["signed"]["meta"]["snapshot.json"]["version"];
    let Some(snapshot) = fetch(&format!("{v}.snapshot.json")) else {
        return copy;
    };
    for (file, meta) in snapshot["signed"]["meta"].as_object().into_iter().flatten() {
        fetch(&format!("{}.{file}", meta["version"]));
    }
    copy
}

/// `key` percent-encoded for a URL's path (its `/` kept).
fn url_path(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where /targets/ serves an artifact from: its consistent-snapshot name.
fn target_key(path: &str, data: &[u8]) -> String {
    let digest = crate::hex(Sha256::digest(data));
    match path.rsplit_once('/') {
        Some((dir, base)) => format!("targets/{dir}/{digest}.{base}"),
        None => format!("targets/{digest}.{path}"),
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
