//! otuf-repo's whole life through its REST API and RSTUF's own CLI, as a plant runs it: a
//! bootstrap ceremony whose root needs two offline signatures (the second sent later),
//! artifacts added, staged and published, deleted, a root rotation that also replaces the online
//! key, settings, a forced re-signing, and expiry refresh. After each step python-tuf's ngclient
//! and otuf-agent refresh from the service and download (or fail to find) artifacts. Succinct
//! (TAP 15) and classic `path_hash_prefixes` bins both.

use otuf_tests::python;
use otuf_tests::repo_service::{agent, ngclient, Service};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The offline side, played by securesystemslib (`tests/python/ceremony.py`).
struct Ceremony {
    dir: tempfile::TempDir,
    online_v2: String,
}

impl Ceremony {
    fn new(bins: u32, classic: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Command::new(python());
        c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/ceremony.py"))
            .arg(dir.path())
            .arg(bins.to_string());
        if classic {
            c.arg("--path-hash-prefixes");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let ids: Value = serde_json::from_slice(&o.stdout).unwrap();
        Self {
            online_v2: ids["online_v2"].as_str().unwrap().into(),
            dir,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn json(&self, name: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.file(name)).unwrap()).unwrap()
    }
}

/// Both clients find and verify `target`, or both report that no role lists it.
fn clients_agree(svc: &Service, target: &str, listed: bool) {
    let out = tempfile::tempdir().unwrap();
    let (code, err) = ngclient(svc, target, out.path());
    let (ok, agent_err) = agent(svc, target);
    if listed {
        assert_eq!(code, 0, "python-tuf: {target}: {err}");
        assert!(ok, "otuf-agent: {target}: {agent_err}");
    } else {
        assert_eq!(code, 2, "python-tuf should not find {target}: {err}");
        assert!(
            !ok && agent_err.contains("no trusted role lists this target"),
            "otuf-agent should not find {target}: {agent_err}"
        );
    }
}

/// `rstuf admin send <what> <file from the ceremony>`, which must succeed.
fn send(svc: &Service, c: &Ceremony, what: &str, file: &str) {
    let path = c.file(file);
    let args = ["admin", "send", what, path.to_str().unwrap()];
    let (ok, out) = svc.rstuf(&args);
    assert!(ok, "rstuf {args:?}: {out}");
}

fn accepted(svc: &Service, path: &str, body: &Value, message: &str) -> Value {
    let (code, reply) = svc.post(path, body);
    assert_eq!(
        (code, reply["message"].as_str()),
        (202, Some(message)),
        "{reply}"
    );
    svc.wait(reply["data"]["task_id"].as_str().unwrap())
}

fn lifecycle(bins: u32, classic: bool) {
    let c = Ceremony::new(bins, classic);
    let keys = c.file("keys");
    let svc = Service::start(&["--online-key-dir", keys.to_str().unwrap()]);
    let state = |svc: &Service| svc.get("/api/v1/bootstrap/")["data"].clone();
    assert_eq!(state(&svc), json!({"bootstrap": false}));
    let artifact = |path: &str| json!({"artifacts": [{"path": path, "info": {"length": 1, "hashes": {"sha256": "0".repeat(64)}}}]});
    let (code, reply) = svc.post("/api/v1/artifacts/", &artifact("early.bin"));
    assert_eq!(code, 404, "no artifacts before the bootstrap: {reply}");

    // Bootstrap: root v1 needs 2 signatures and carries 1.
    send(&svc, &c, "bootstrap", "bootstrap.json");
    assert_eq!(state(&svc)["state"], "signing");
    let pending = svc.get("/api/v1/metadata/sign/");
    assert_eq!(
        pending["data"]["metadata"]["root"]["signed"]["version"], 1,
        "{pending}"
    );
    let (code, reply) = svc.post("/api/v1/bootstrap/", &c.json("bootstrap.json"));
    assert_eq!(code, 404, "{reply}");
    assert_eq!(
        reply["detail"]["error"],
        "System already has a Metadata. State: signing"
    );
    assert!(svc.file("metadata/1.root.json").is_none());
    send(&svc, &c, "sign", "sign-v1.json");
    assert_eq!(state(&svc)["state"], "finished");
    assert_eq!(
        svc.get("/api/v1/metadata/sign/")["message"],
        "No metadata pending signing available"
    );

    // Artifacts: added, staged then published, deleted.
    assert_eq!(
        svc.add(
            "firmware/plc-a/1.0.0.bin",
            b"PLC-A 1.0.0",
            json!({"version": "1.0.0"})
        )["state"],
        "SUCCESS"
    );
    clients_agree(&svc, "firmware/plc-a/1.0.0.bin", true);
    let staged = json!({"artifacts": [{"path": "firmware/rtu-7/2.0.0.bin", "info": {"length": 11, "hashes": {"sha256": otuf_tests::hex(sha2_256(b"RTU-7 2.0.0"))}}}],
                        "publish_artifacts": false});
    accepted(
        &svc,
        "/api/v1/artifacts/",
        &staged,
        "New Artifact(s) successfully submitted. Publishing will be skipped.",
    );
    svc.add_file("firmware/rtu-7/2.0.0.bin", b"RTU-7 2.0.0");
    clients_agree(&svc, "firmware/rtu-7/2.0.0.bin", false);
    accepted(
        &svc,
        "/api/v1/artifacts/publish/",
        &json!({}),
        "Publish artifacts successfully submitted.",
    );
    clients_agree(&svc, "firmware/rtu-7/2.0.0.bin", true);
    accepted(
        &svc,
        "/api/v1/artifacts/delete",
        &json!({"artifacts": ["firmware/plc-a/1.0.0.bin"]}),
        "Remove Artifact(s) successfully submitted.",
    );
    clients_agree(&svc, "firmware/plc-a/1.0.0.bin", false);

    // Root rotation to v2 (new root key, new online key): abandoned once, then signed by JJ
    // (still short of v2's own threshold) and Kay.
    send(&svc, &c, "update", "update-v2.json");
    let done = accepted(
        &svc,
        "/api/v1/metadata/sign/delete",
        &json!({"role": "root"}),
        "Metadata sign delete accepted.",
    );
    assert_eq!(done["state"], "SUCCESS", "{done}");
    let (code, _) = svc.post("/api/v1/metadata/sign/delete", &json!({"role": "root"}));
    assert_eq!(code, 404);
    send(&svc, &c, "update", "update-v2.json");
    let jj = accepted(
        &svc,
        "/api/v1/metadata/sign",
        &c.json("sign-v2-JJ.json"),
        "Metadata sign accepted.",
    );
    assert_eq!(
        jj["result"]["details"],
        json!({"update": "Root v2 is pending signatures"}),
        "{jj}"
    );
    assert!(svc.file("metadata/2.root.json").is_none());
    let forged = json!({"role": "root", "signature": {"keyid": c.json("sign-v2-Kay.json")["signature"]["keyid"], "sig": "ab".repeat(64)}});
    let refused = accepted(
        &svc,
        "/api/v1/metadata/sign",
        &forged,
        "Metadata sign accepted.",
    );
    assert_eq!(
        (
            refused["state"].as_str(),
            refused["result"]["error"].as_str()
        ),
        (Some("ERRORED"), Some("Invalid signature")),
        "{refused}"
    );
    send(&svc, &c, "sign", "sign-v2-Kay.json");
    assert!(svc.file("metadata/2.root.json").is_some());
    assert_eq!(
        svc.metadata("timestamp.json")["signatures"][0]["keyid"],
        c.online_v2
    );
    clients_agree(&svc, "firmware/rtu-7/2.0.0.bin", true);
    assert_eq!(
        svc.add("firmware/plc-a/1.1.0.bin", b"PLC-A 1.1.0", Value::Null)["state"],
        "SUCCESS"
    );
    clients_agree(&svc, "firmware/plc-a/1.1.0.bin", true);

    // Settings and a forced re-signing of timestamp.
    let set = json!({"settings": {"expiration": {"timestamp": 2, "foo": 5}}});
    let (code, reply) = svc.put("/api/v1/config/", &set);
    assert_eq!(
        (code, reply["message"].as_str()),
        (202, Some("Settings successfully submitted.")),
        "{reply}"
    );
    let done = svc.wait(reply["data"]["task_id"].as_str().unwrap());
    assert_eq!(
        done["result"]["details"],
        json!({"updated_roles": ["timestamp"], "invalid_roles": ["foo"]})
    );
    let config = svc.get("/api/v1/config/")["data"].clone();
    assert_eq!(
        (
            config["timestamp_expiration"].as_i64(),
            config["number_of_delegated_bins"].as_u64()
        ),
        (Some(2), Some(u64::from(bins)))
    );
    assert_eq!(config["online_key"]["keyid"], c.online_v2);
    let before = svc.metadata("timestamp.json")["signed"].clone();
    accepted(
        &svc,
        "/api/v1/metadata/online",
        &json!({"roles": ["timestamp"]}),
        "Force online metadata update accepted.",
    );
    let after = svc.metadata("timestamp.json")["signed"].clone();
    assert!(after["version"].as_u64() > before["version"].as_u64());
    assert!(
        after["expires"].as_str() > before["expires"].as_str(),
        "{before} {after}"
    );
    clients_agree(&svc, "firmware/plc-a/1.1.0.bin", true);
}

fn sha2_256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

#[test]
fn ceremony_artifacts_and_rotation_with_succinct_bins() {
    lifecycle(16, false);
}

#[test]
fn ceremony_artifacts_and_rotation_with_classic_bins() {
    lifecycle(32, true);
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn expires(md: &Value) -> i64 {
    let text = md["signed"]["expires"].as_str().unwrap();
    otuf_core::time::UnixTime::parse_expires(text.as_bytes())
        .unwrap()
        .0
}

#[test]
fn online_roles_are_re_signed_before_they_expire() {
    let dev = ["--dev", "--bins", "16"];
    let svc = Service::start(&dev);
    assert_eq!(
        svc.add("firmware/a.bin", b"A", Value::Null)["state"],
        "SUCCESS"
    );
    let first = expires(&svc.metadata("timestamp.json"));
    assert!(first - now() <= 86_400, "timestamp lasts one day");
    // 23 h 30 min later by the service's clock: timestamp, snapshot and every bin (one day
    // each) expire within the hour, and the service re-signs them as soon as it runs.
    let data = svc.kill();
    let faketime = ["faketime", "-f", "+1410m"];
    let svc = Service::start_in(data, &dev, Some(&faketime));
    let start = std::time::Instant::now();
    while expires(&svc.metadata("timestamp.json")) == first {
        assert!(
            start.elapsed().as_secs() < 20,
            "timestamp was never re-signed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Every online role now lasts past tomorrow, by the real clock.
    let tomorrow = now() + 86_400;
    let snapshot_name = format!(
        "{}.snapshot.json",
        svc.metadata("timestamp.json")["signed"]["meta"]["snapshot.json"]["version"]
    );
    let snapshot = svc.metadata(&snapshot_name);
    assert!(expires(&svc.metadata("timestamp.json")) > tomorrow);
    assert!(expires(&snapshot) > tomorrow);
    for (name, meta) in snapshot["signed"]["meta"].as_object().unwrap() {
        if name.starts_with("bins-") {
            let file = format!("{}.{name}", meta["version"]);
            assert!(expires(&svc.metadata(&file)) > tomorrow, "{file}");
        }
    }
    clients_agree(&svc, "firmware/a.bin", true);
}

#[test]
fn sigkill_during_a_burst_loses_no_acknowledged_artifact() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dev = ["--dev", "--bins", "16"];
    let svc = Service::start(&dev);
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let (base, acked, stop) = (svc.base.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let path = format!("burst/{t}/{i}.bin");
                    let body = json!({"artifacts": [{"path": path, "info": {"length": 1, "hashes": {"sha256": "0".repeat(64)}}}]});
                    let o = Command::new("curl")
                        .args(["-s", "-X", "POST", "-H", "content-type: application/json", "--data-binary"])
                        .arg(body.to_string())
                        .arg(format!("{base}/api/v1/artifacts/"))
                        .output()
                        .unwrap();
                    let Ok(reply) = serde_json::from_slice::<Value>(&o.stdout) else {
                        return; // the service is gone
                    };
                    if let Some(id) = reply["data"]["task_id"].as_str() {
                        acked.lock().unwrap().push((path, id.to_string()));
                    }
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 80 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let data = svc.kill();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // What was published when the process died verifies as it stands.
    let published = |data: &tempfile::TempDir| otuf_tests::DirRepo {
        dir: otuf_tests::repo_service::published(data.path()),
        mode: otuf_tests::Mode::General,
    };
    let dir = published(&data);
    let trusted_root = std::fs::read(dir.dir.join("metadata/1.root.json")).unwrap();
    dir.refresh(&trusted_root, now())
        .unwrap_or_else(|e| panic!("state at the kill: {e}"));

    // After a restart every acknowledged task completes and every acknowledged artifact is
    // listed in signed metadata that verifies.
    let svc = Service::start_in(data, &dev, None);
    for (_, id) in &acked {
        assert_eq!(svc.wait(id)["state"], "SUCCESS", "task {id}");
    }
    let dir = published(&svc.data);
    let client = dir
        .refresh(&trusted_root, now())
        .unwrap_or_else(|e| panic!("state after the restart: {e}"));
    for (path, _) in &acked {
        assert!(
            dir.find_target(&client, path).unwrap().is_some(),
            "{path} was acknowledged, then lost"
        );
    }
}
