//! Several `otuf-repo serve` processes on one PostgreSQL and one S3 endpoint (issue 7): any of
//! them accepts API calls and publishes, and one killed with SIGKILL mid-way (holding the
//! publication lock, perhaps) neither blocks the others nor loses what it acknowledged.

use otuf_tests::repo_service::{mirror, Backend, Service};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Adds one artifact through `base`; its task ID once acknowledged (202), `None` if refused or
/// the process is gone.
fn add(base: &str, path: &str) -> Option<String> {
    let body = json!({"artifacts": [{"path": path, "info": {"length": 1, "hashes": {"sha256": "0".repeat(64)}}}]});
    let o = Command::new("curl")
        .args([
            "-s",
            "-m",
            "10",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data-binary",
        ])
        .arg(body.to_string())
        .arg(format!("{base}/api/v1/artifacts/"))
        .output()
        .unwrap();
    let reply: Value = serde_json::from_slice(&o.stdout).ok()?;
    reply["data"]["task_id"].as_str().map(String::from)
}

/// The published state as a device sees it (metadata copied from the object store) verifies
/// from the trusted root, and lists each of `paths`; how many bins list each.
fn verify_published(backend: &Backend, root: &[u8], paths: &[String]) -> BTreeMap<String, usize> {
    let copy = tempfile::tempdir().unwrap();
    let dir = otuf_tests::DirRepo {
        dir: mirror(backend, copy.path()),
        mode: otuf_tests::Mode::General,
    };
    let client = verify_state(&dir.dir, root);
    for path in paths {
        assert!(
            dir.find_target(&client, path).unwrap().is_some(),
            "{path} was acknowledged, then lost"
        );
    }
    // Every bin's current version, as the snapshot lists it: each artifact in exactly one.
    let md = dir.dir.join("metadata");
    let read = |name: String| -> Value {
        serde_json::from_slice(&std::fs::read(md.join(name)).unwrap()).unwrap()
    };
    let timestamp = read("timestamp.json".into());
    let snapshot_version = &timestamp["signed"]["meta"]["snapshot.json"]["version"];
    let snapshot = read(format!("{snapshot_version}.snapshot.json"));
    let mut listed = BTreeMap::new();
    for (file, meta) in snapshot["signed"]["meta"].as_object().unwrap() {
        if !file.starts_with("bins-") {
            continue;
        }
        let bin = read(format!("{}.{file}", meta["version"]));
        for path in bin["signed"]["targets"].as_object().unwrap().keys() {
            *listed.entry(path.clone()).or_insert(0) += 1;
        }
    }
    listed
}

/// The state copied into `dir` verifies from the trusted root, every bin too.
fn verify_state(dir: &std::path::Path, root: &[u8]) -> otuf_core::client::Client {
    let repo = otuf_tests::DirRepo {
        dir: dir.to_path_buf(),
        mode: otuf_tests::Mode::General,
    };
    let client = repo
        .refresh(root, now())
        .unwrap_or_else(|e| panic!("the published state does not verify: {e}"));
    // A path in each of the 16 succinct bins (its bin: the SHA-256's first 4 bits): finding,
    // or not finding, it verifies that bin.
    let mut probes = BTreeMap::new();
    for i in 0.. {
        let path = format!("probe/{i}");
        probes.entry(Sha256::digest(&path)[0] >> 4).or_insert(path);
        if probes.len() == 16 {
            break;
        }
    }
    for path in probes.values() {
        repo.find_target(&client, path)
            .unwrap_or_else(|e| panic!("a bin does not verify: {e}"));
    }
    client
}

#[test]
fn three_processes_share_one_state_and_survive_a_sigkill() {
    let first = tempfile::tempdir().unwrap();
    let backend = Backend::shared(first.path());
    let keys = first.path().join("keys");
    let keys_arg = keys.to_str().unwrap().to_string();
    let args = ["--dev", "--bins", "16", "--online-key-dir", &keys_arg];
    // The first creates the repository; the others find it (under the same lock).
    let mut services = vec![Service::start_on(first, backend.clone(), &args, None)];
    for _ in 0..2 {
        services.push(Service::start_on(
            tempfile::tempdir().unwrap(),
            backend.clone(),
            &args,
            None,
        ));
    }
    let root = services[0].file("metadata/1.root.json").unwrap();
    let bases: Vec<String> = services.iter().map(|s| s.base.clone()).collect();

    // Two senders per process, each adding artifacts one after another.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..6)
        .map(|t| {
            let (base, acked, stop) = (bases[t % 3].clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let path = format!("scale/{t}/{i}.bin");
                    match add(&base, &path) {
                        Some(id) => acked.lock().unwrap().push((path, id)),
                        None if t % 3 == 1 => return, // the killed process
                        None => panic!("{base} refused {path}"),
                    }
                }
            })
        })
        .collect();
    let wait_for = |n: usize| {
        let start = Instant::now();
        while acked.lock().unwrap().len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "only {} acknowledged",
                acked.lock().unwrap().len()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    // Throughout, each published state verifies, whatever the kill interrupted.
    // As a device sees them: versions never go back, and a versioned file, once published,
    // never changes (two publishers racing would sign the same version twice).
    let verifier = {
        let (backend, root, stop) = (backend.clone(), root.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut states, mut last_timestamp) = (0, 0);
            let mut seen: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                let copy = tempfile::tempdir().unwrap();
                let dir = mirror(&backend, copy.path());
                verify_state(&dir, &root);
                for entry in std::fs::read_dir(dir.join("metadata")).unwrap() {
                    let entry = entry.unwrap();
                    let name = entry.file_name().into_string().unwrap();
                    let bytes = std::fs::read(entry.path()).unwrap();
                    if name == "timestamp.json" {
                        let v = serde_json::from_slice::<Value>(&bytes).unwrap()["signed"]
                            ["version"]
                            .as_u64()
                            .unwrap();
                        assert!(
                            v >= last_timestamp,
                            "timestamp went back from {last_timestamp} to {v}"
                        );
                        last_timestamp = v;
                    } else if let Some(before) = seen.insert(name.clone(), bytes.clone()) {
                        assert!(before == bytes, "{name} changed after it was published");
                    }
                }
                states += 1;
            }
            states
        })
    };
    wait_for(60);
    // Mid-way: the second process dies without a chance to clean up.
    let _killed = services.remove(1).kill();
    wait_for(160);
    stop.store(true, Ordering::Relaxed);
    assert!(verifier.join().unwrap() > 0);
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // Every acknowledged task completes (the killed process's ones by the survivors)...
    for (_, id) in &acked {
        assert_eq!(services[0].wait(id)["state"], "SUCCESS", "task {id}");
        assert_eq!(services[1].wait(id)["state"], "SUCCESS", "task {id}");
    }
    // ... and every acknowledged artifact is published exactly once, in a state that verifies.
    let paths: Vec<String> = acked.iter().map(|(p, _)| p.clone()).collect();
    let listed = verify_published(&backend, &root, &paths);
    for path in &paths {
        assert_eq!(
            listed.get(path),
            Some(&1),
            "{path}: listed {:?} times",
            listed.get(path)
        );
    }
    // The killed process acknowledged some of them.
    assert!(acked
        .iter()
        .any(|(p, _)| p.starts_with("scale/1/") || p.starts_with("scale/4/")));
    drop(services);
    backend.remove();
}

#[test]
fn expiry_refresh_runs_once_across_processes() {
    // The processes' clock is libfaketime's, read from a file they re-read every second, so
    // it can jump ahead while they run (their caches then say every role is due).
    const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    assert!(
        std::path::Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME}: the faketime package (run.sh installs it)"
    );
    let clock = tempfile::tempdir().unwrap();
    let offset = clock.path().join("offset");
    std::fs::write(&offset, "+0\n").unwrap();
    let env = [
        "env".to_string(),
        format!("LD_PRELOAD={LIBFAKETIME}"),
        format!("FAKETIME_TIMESTAMP_FILE={}", offset.display()),
        "FAKETIME_CACHE_DURATION=1".to_string(),
        "FAKETIME_DONT_FAKE_MONOTONIC=1".to_string(),
    ];
    let wrapper: Vec<&str> = env.iter().map(String::as_str).collect();
    let keys = clock.path().join("keys");
    let keys_arg = keys.to_str().unwrap().to_string();
    let args = ["--dev", "--bins", "16", "--online-key-dir", &keys_arg];
    let backend = Backend::shared(clock.path());
    // Three processes start together (one creates the repository) and settle.
    let services: Vec<Service> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3)
            .map(|_| {
                let (backend, wrapper) = (backend.clone(), &wrapper);
                s.spawn(move || {
                    Service::start_on(tempfile::tempdir().unwrap(), backend, &args, Some(wrapper))
                })
            })
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    std::thread::sleep(Duration::from_millis(2500));
    let timestamp = |svc: &Service| svc.metadata("timestamp.json")["signed"].clone();
    let before = timestamp(&services[0]);
    // New versions made by all three, from their /metrics.
    let publications = || -> u64 {
        services
            .iter()
            .map(|svc| {
                let o = Command::new("curl")
                    .arg("-s")
                    .arg(format!("{}/metrics", svc.base))
                    .output()
                    .unwrap();
                let text = String::from_utf8(o.stdout).unwrap();
                text.lines()
                    .find_map(|l| {
                        l.strip_prefix("otuf_publish_seconds_count ")?
                            .trim()
                            .parse::<u64>()
                            .ok()
                    })
                    .unwrap_or_else(|| panic!("no otuf_publish_seconds_count:\n{text}"))
            })
            .sum()
    };
    let published_before = publications();
    // 23 h 30 min later: timestamp, snapshot and every bin (one day each) are due, in every
    // process's cache, and each process's worker looks every second.
    std::fs::write(&offset, "+1410m\n").unwrap();
    let start = Instant::now();
    while timestamp(&services[0])["expires"] == before["expires"] {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timestamp was never re-signed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Several more chances for each process: one publication in all. (A process acting on
    // what it cached before the others published would sign the same version numbers anew.)
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        publications() - published_before,
        1,
        "the refresh was published more than once"
    );
    let after = timestamp(&services[2]);
    assert_eq!(
        after["version"].as_u64(),
        before["version"].as_u64().map(|v| v + 1),
        "{after}"
    );
    let snapshot = |t: &Value| t["meta"]["snapshot.json"]["version"].as_u64().unwrap();
    assert_eq!(snapshot(&after), snapshot(&before) + 1);
    let listed = services[1].metadata(&format!("{}.snapshot.json", snapshot(&after)));
    for (file, meta) in listed["signed"]["meta"].as_object().unwrap() {
        if file.starts_with("bins-") {
            assert_eq!(meta["version"], 2, "{file} re-signed once");
        }
    }
    drop(services);
    backend.remove();
}
