//! otuf-repo serves; artifacts are published through the RSTUF-compatible API; python-tuf's
//! ngclient (independent) and otuf-agent both refresh from it and download verified artifacts.

use otuf_tests::repo_service::{agent, ngclient, Service};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::process::Command;
use std::time::Duration;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn published_artifacts_verify_in_python_tuf_and_otuf_agent() {
    let svc = Service::start_dev();
    assert_eq!(svc.get("/api/v1/bootstrap/")["data"]["state"], "finished");
    let task = svc.add(
        "firmware/plc-a/1.2.0.bin",
        b"PLC-A firmware 1.2.0",
        json!({"version": "1.2.0", "hardware": "plc-a"}),
    );
    assert_eq!(task["state"], "SUCCESS", "{task}");
    assert_eq!(
        task["result"]["details"]["added_artifacts"],
        json!(["firmware/plc-a/1.2.0.bin"])
    );
    let name = "firmware/plc-a/Düsseldorf 2.bin";
    assert_eq!(
        svc.add(name, b"non-ASCII name", Value::Null)["state"],
        "SUCCESS"
    );

    let out = tempfile::tempdir().unwrap();
    for target in ["firmware/plc-a/1.2.0.bin", name] {
        let (code, err) = ngclient(&svc, target, out.path());
        assert_eq!(code, 0, "python-tuf: {target}: {err}");
        let (ok, err) = agent(&svc, target);
        assert!(ok, "otuf-agent: {target}: {err}");
    }

    // Deleted artifacts disappear for every client.
    let (code, reply) = svc.post(
        "/api/v1/artifacts/delete",
        &json!({"artifacts": ["firmware/plc-a/1.2.0.bin", "not/there"]}),
    );
    assert_eq!(
        (code, reply["message"].as_str()),
        (202, Some("Remove Artifact(s) successfully submitted."))
    );
    let done = svc.wait(reply["data"]["task_id"].as_str().unwrap());
    assert_eq!(
        done["result"]["details"]["not_found_artifacts"],
        json!(["not/there"])
    );
    assert_eq!(ngclient(&svc, "firmware/plc-a/1.2.0.bin", out.path()).0, 2);
    let (ok, err) = agent(&svc, "firmware/plc-a/1.2.0.bin");
    assert!(
        !ok && err.contains("no trusted role lists this target"),
        "{err}"
    );
}

#[test]
fn bad_requests_are_refused_naming_the_field_and_change_nothing() {
    let svc = Service::start_dev();
    let before = svc.file("metadata/timestamp.json").unwrap();
    let ok_hash = "0".repeat(64);
    for (artifact, field) in [
        (
            json!({"path": "/etc/passwd", "info": {"length": 1, "hashes": {"sha256": ok_hash}}}),
            "path",
        ),
        (
            json!({"path": "a/../b", "info": {"length": 1, "hashes": {"sha256": ok_hash}}}),
            "path",
        ),
        (
            json!({"path": "a//b", "info": {"length": 1, "hashes": {"sha256": ok_hash}}}),
            "path",
        ),
        (
            json!({"path": "a\\b", "info": {"length": 1, "hashes": {"sha256": ok_hash}}}),
            "path",
        ),
        (
            json!({"path": "a\u{7}b", "info": {"length": 1, "hashes": {"sha256": ok_hash}}}),
            "path",
        ),
        (
            json!({"path": "ok", "info": {"length": 1, "hashes": {"md5": "00"}}}),
            "hashes",
        ),
        (
            json!({"path": "ok", "info": {"length": 1, "hashes": {"sha256": "XYZ"}}}),
            "hashes",
        ),
        (
            json!({"path": "ok", "info": {"length": -1, "hashes": {"sha256": ok_hash}}}),
            "length",
        ),
        (
            json!({"path": "ok", "info": {"length": 1, "hashes": {"sha256": ok_hash}, "custom": {"ratio": 1.5}}}),
            "custom",
        ),
    ] {
        let (code, reply) = svc.post("/api/v1/artifacts/", &json!({"artifacts": [artifact]}));
        assert_eq!(code, 422, "{artifact}: {reply}");
        assert_eq!(
            reply["detail"][0]["loc"]
                .as_array()
                .unwrap()
                .last()
                .unwrap(),
            field,
            "{reply}"
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(svc.file("metadata/timestamp.json").unwrap(), before);
}

#[test]
fn the_rstuf_cli_adds_and_deletes_artifacts_unchanged() {
    let svc = Service::start_dev();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway-4.1.0.tar.gz");
    std::fs::write(&file, b"gateway image 4.1.0").unwrap();
    let run = |args: &[&str]| svc.rstuf(args);
    let (ok, out) = run(&["artifact", "add", file.to_str().unwrap(), "-p", "gateways"]);
    assert!(ok, "rstuf artifact add: {out}");
    let task = out
        .split_whitespace()
        .find(|w| w.len() == 32 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .expect(&out)
        .to_string();
    let (ok, out) = run(&["task", "info", &task]);
    assert!(ok && out.contains("SUCCESS"), "rstuf task info: {out}");
    // RSTUF's CLI hashes with blake2b-256; python-tuf verifies that.
    let (dirname, base) = ("gateways", "gateway-4.1.0.tar.gz");
    let info = svc.get(&format!("/api/v1/task/?task_id={task}"));
    assert_eq!(
        info["data"]["result"]["details"]["added_artifacts"],
        json!([format!("{dirname}/{base}")])
    );
    let (ok, out) = run(&["artifact", "delete", "gateways/gateway-4.1.0.tar.gz"]);
    assert!(ok, "rstuf artifact delete: {out}");
}

#[test]
fn uploaded_firmware_is_hashed_stored_and_served_by_the_same_process() {
    let svc = Service::start_dev();
    let dir = tempfile::tempdir().unwrap();
    let image: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect(); // above axum's 2 MB default
    let file = dir.path().join("rtu.img");
    std::fs::write(&file, &image).unwrap();
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "-H",
            r#"x-otuf-custom: {"version": "2.0.0", "hardware": "rtu-7"}"#,
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(format!(
            "{}/api/v1/artifacts/upload/firmware/rtu-7/rtu.img",
            svc.base
        ))
        .output()
        .unwrap();
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["data"]["length"], image.len(), "{reply}");
    assert_eq!(
        reply["data"]["hashes"]["sha256"],
        otuf_tests::hex(Sha256::digest(&image))
    );
    assert_eq!(
        svc.wait(reply["data"]["task_id"].as_str().unwrap())["state"],
        "SUCCESS"
    );
    let (ok, err) = agent(&svc, "firmware/rtu-7/rtu.img");
    assert!(ok, "otuf-agent: {err}");
    let out_dir = tempfile::tempdir().unwrap();
    let (code, err) = ngclient(&svc, "firmware/rtu-7/rtu.img", out_dir.path());
    assert_eq!(code, 0, "python-tuf: {err}");
    // A download resumed part-way gets the rest, from whichever storage serves it.
    let url = format!(
        "{}/targets/firmware/rtu-7/{}.rtu.img",
        svc.base,
        otuf_tests::hex(Sha256::digest(&image))
    );
    let part = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-H", "Range: bytes=2999990-"])
        .arg(&url)
        .output()
        .unwrap();
    let (body, code) = part.stdout.split_at(part.stdout.len() - 4);
    assert_eq!((code, body), (&b"\n206"[..], &image[2_999_990..]));
    let (code, reply) = svc.post("/api/v1/artifacts/upload/..%2Fescape", &json!({}));
    assert_eq!(code, 422, "{reply}");
}

#[test]
fn with_tokens_configured_every_write_needs_the_right_scope() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "# scope token\npublish ci-pipeline-7f3a9b2c41\nadmin operator-5d1e8a6f90\n",
    )
    .unwrap();
    let svc = Service::start(&[
        "--dev",
        "--bins",
        "16",
        "--tokens-file",
        tokens.to_str().unwrap(),
    ]);
    let body = json!({"artifacts": [{"path": "a.bin", "info": {"length": 1, "hashes": {"sha256": "0".repeat(64)}}}]});
    let (code, reply) = svc.post_as("/api/v1/artifacts/", &body, None);
    assert_eq!(code, 401, "{reply}");
    assert!(reply["detail"]["error"]
        .as_str()
        .unwrap()
        .contains("Authorization: Bearer"));
    assert_eq!(
        svc.post_as("/api/v1/artifacts/", &body, Some("guessed-token-000000"))
            .0,
        401
    );
    assert_eq!(
        svc.post_as("/api/v1/artifacts/", &body, Some("ci-pipeline-7f3a9b2c41"))
            .0,
        202
    );
    assert_eq!(
        svc.post_as(
            "/api/v1/artifacts/delete",
            &json!({"artifacts": ["a.bin"]}),
            Some("operator-5d1e8a6f90")
        )
        .0,
        202
    );
    // Reads stay open, as in RSTUF.
    assert_eq!(svc.get("/api/v1/bootstrap/")["data"]["state"], "finished");
}

#[test]
fn serve_takes_its_settings_from_a_config_file_below_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("repo.toml");
    std::fs::write(
        &file,
        "dev = true\nbins = 32\npath_hash_prefixes = true\nonline_key_dir = \"keys-here\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let svc = Service::start(&["--config", config]);
    let c = svc.get("/api/v1/config/");
    assert_eq!(c["data"]["number_of_delegated_bins"], 32, "{c}");
    assert_eq!(c["data"]["x-otuf-path-hash-prefixes"], true, "{c}");
    // Relative paths are the file's folder's.
    assert!(dir.path().join("keys-here/online.pem").exists());
    drop(svc);
    std::fs::remove_dir_all(dir.path().join("keys-here")).unwrap();
    let svc = Service::start(&["--config", config, "--bins", "16"]);
    assert_eq!(
        svc.get("/api/v1/config/")["data"]["number_of_delegated_bins"],
        16
    );
    drop(svc);

    std::fs::write(&file, "dev = true\nbin = 32\n").unwrap();
    let o = std::process::Command::new(otuf_tests::workspace_bin("otuf-repo"))
        .args(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("repo.toml") && err.contains("line 2") && err.contains("bin"),
        "{err}"
    );
}

#[test]
fn a_bulk_import_is_checked_line_by_line_then_published_in_one_task() {
    let svc = Service::start_dev();
    let import = |csv: &str| -> (u16, Value) {
        let o = std::process::Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                "-X",
                "POST",
                "-H",
                "content-type: text/csv",
            ])
            .args(["--data-binary", "@-"])
            .arg(format!("{}/api/v1/artifacts/import", svc.base))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(csv.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        let text = String::from_utf8(o.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (
            code.parse().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    };
    let before = svc.file("metadata/timestamp.json").unwrap();
    // A bad line anywhere: nothing is imported, and the refusal names the line and the field.
    let (code, reply) = import(&format!(
        "path;size;hash-type;hash\nok.bin;1;sha256;{}\nbad.bin;1;sha256;XYZ\n",
        "0".repeat(64)
    ));
    assert_eq!(code, 422, "{reply}");
    assert_eq!(
        reply["detail"][0]["loc"],
        json!(["body", 3, "hash"]),
        "{reply}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(svc.file("metadata/timestamp.json").unwrap(), before);

    let mut csv = String::from("path;size;hash-type;hash\n");
    for i in 0..2000u32 {
        let (sha256, sha512) = (format!("{i:064x}"), format!("{i:0128x}"));
        csv += &format!("import/{i}.bin;{i};sha256;{sha256}\nimport/{i}.bin;{i};sha512;{sha512}\n");
    }
    let (code, reply) = import(&csv);
    assert_eq!(code, 202, "{reply}");
    assert_eq!(
        (
            reply["data"]["artifacts"].as_u64(),
            reply["data"]["roles"].as_u64()
        ),
        (Some(2000), Some(16))
    );
    let task = svc.wait(reply["data"]["task_id"].as_str().unwrap());
    assert_eq!(task["result"]["status"], true, "{task}");
    // Listed, with both hashes, in signed metadata that verifies as a device reads it.
    let dir = otuf_tests::DirRepo {
        dir: otuf_tests::repo_service::published(svc.data.path()),
        mode: otuf_tests::Mode::General,
    };
    let root = std::fs::read(svc.root()).unwrap();
    let client = dir.refresh(&root, now()).unwrap();
    for i in [0u32, 1, 999, 1999] {
        let (_, info) = dir
            .find_target(&client, &format!("import/{i}.bin"))
            .unwrap()
            .unwrap();
        assert_eq!(info.length, u64::from(i));
        assert_eq!(
            info.hashes.sha512.map(otuf_tests::hex),
            Some(format!("{i:0128x}"))
        );
    }
}

#[test]
fn housekeeping_removes_old_versions_and_metrics_report_the_service() {
    let svc = Service::start(&[
        "--dev",
        "--bins",
        "16",
        "--keep-versions",
        "2",
        "--keep-versions-hours",
        "0",
        "--housekeeping-every-secs",
        "1",
    ]);
    for i in 0..5 {
        let path = format!("firmware/kept-{i}.bin");
        assert_eq!(
            svc.add(&path, path.as_bytes(), Value::Null)["state"],
            "SUCCESS"
        );
    }
    let snapshot = || {
        svc.metadata("timestamp.json")["signed"]["meta"]["snapshot.json"]["version"]
            .as_u64()
            .unwrap()
    };
    let current = snapshot();
    assert!(current >= 6, "a snapshot per publication: {current}");
    // Within two housekeeping runs, only the newest two snapshots are left; roots all stay.
    let start = std::time::Instant::now();
    while svc
        .file(&format!("metadata/{}.snapshot.json", current - 2))
        .is_some()
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "old snapshots were never removed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let current = snapshot();
    assert!(svc
        .file(&format!("metadata/{current}.snapshot.json"))
        .is_some());
    assert!(svc.file("metadata/1.snapshot.json").is_none());
    assert!(svc.file("metadata/1.root.json").is_some());
    // What is left is a whole state: clients still verify and download.
    let out = tempfile::tempdir().unwrap();
    let (code, err) = ngclient(&svc, "firmware/kept-4.bin", out.path());
    assert_eq!(code, 0, "python-tuf: {err}");

    let o = Command::new("curl")
        .args(["-s", &format!("{}/metrics", svc.base)])
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{series} missing:\n{text}"))
    };
    assert!(value("otuf_requests_total{route=\"/api/v1/artifacts\",status=\"202\"}") >= 5.0);
    assert!(value("otuf_tasks_total{action=\"add_artifacts\",status=\"true\"}") >= 5.0);
    assert!(value("otuf_publish_seconds_count") >= 5.0);
    assert_eq!(value("otuf_tasks_queued"), 0.0);
    // Timestamp and snapshot last a day in a development repository.
    let expiry = value("otuf_expiry_seconds");
    assert!(expiry > 3600.0 && expiry <= 86_400.0, "{expiry}");
}

/// `GET /api/v1/artifacts`: newest first, keyset pages that cover everything once, a path
/// found by any substring (trigram-indexed from three characters, scanned below), exact
/// filters on `custom`, LIKE's own characters taken literally, device indexes left out, and
/// every bad query parameter a 422 naming it. Run on both backends (tests/run.sh).
#[test]
fn the_listing_pages_searches_and_filters_newest_first() {
    let svc = Service::start_dev();
    let add = |prefix: &str, n: u32, hardware: &str, channel: &str| {
        let artifacts: Vec<Value> = (0..n)
            .map(|i| {
                json!({"path": format!("{prefix}/{i}.bin"), "info": {"length": i, "hashes": {"sha256": format!("{i:064x}")},
                       "custom": {"version": format!("1.0.{i}"), "hardware": hardware, "channel": channel}}})
            })
            .collect();
        let (code, reply) = svc.post("/api/v1/artifacts/", &json!({ "artifacts": artifacts }));
        assert_eq!(code, 202, "{reply}");
        let task = svc.wait(reply["data"]["task_id"].as_str().unwrap());
        assert_eq!(task["state"], "SUCCESS", "{task}");
    };
    add("old", 60, "plc-a", "stable");
    add("new", 10, "rtu_b", "beta");
    let page = |query: &str| -> (Vec<String>, Value) {
        let reply = svc.get(&format!("/api/v1/artifacts?{query}"));
        let paths = reply["data"]["artifacts"]
            .as_array()
            .unwrap_or_else(|| panic!("{query}: {reply}"))
            .iter()
            .map(|a| a["path"].as_str().unwrap().to_string())
            .collect();
        (paths, reply["data"]["next"].clone())
    };
    let all = |query: &str| -> Vec<String> {
        let (mut paths, mut next) = page(query);
        while let Some(before) = next.as_i64() {
            let (more, after) = page(&format!("{query}&before={before}"));
            paths.extend(more);
            next = after;
        }
        paths
    };

    let (first, next) = page("");
    assert_eq!(first.len(), 50);
    assert!(
        first[..10].iter().all(|p| p.starts_with("new/")),
        "{first:?}"
    );
    assert!(
        first[10..].iter().all(|p| p.starts_with("old/")),
        "{first:?}"
    );
    assert!(next.as_i64().is_some());
    let everything = all("limit=7");
    assert_eq!(everything.len(), 70, "{everything:?}");
    let unique: std::collections::BTreeSet<_> = everything.iter().collect();
    assert_eq!(unique.len(), 70, "pages overlap");
    assert!(everything.iter().all(|p| !p.starts_with("otuf-index/")));

    // A path by any substring: from three characters through the index, shorter row by row.
    let mut found = all("path=old/5");
    found.sort();
    let mut want: Vec<String> = std::iter::once(5)
        .chain(50..60)
        .map(|i| format!("old/{i}.bin"))
        .collect();
    want.sort();
    assert_eq!(found, want);
    assert_eq!(all("path=w/").len(), 10);
    assert_eq!(all("path=OLD/5").len(), 0, "paths are case-sensitive");
    assert_eq!(
        all("path=ld/5&hardware=plc-a").len(),
        11,
        "filter index first"
    );
    assert_eq!(all("path=%25").len(), 0, "% is a character, not a wildcard");
    assert_eq!(all("path=rtu_b").len(), 0, "paths only, not custom");
    // Exact filters on custom, alone and together.
    assert_eq!(all("hardware=rtu_b").len(), 10);
    assert_eq!(all("hardware=rtu%25").len(), 0);
    assert_eq!(all("channel=stable").len(), 60);
    assert_eq!(page("version=1.0.5&channel=beta").0, vec!["new/5.bin"]);
    assert_eq!(
        page("path=.bin&hardware=plc-a&version=1.0.42").0,
        vec!["old/42.bin"]
    );

    // An artifact added again is the newest.
    add("old", 1, "plc-a", "stable");
    assert_eq!(page("limit=1").0, vec!["old/0.bin"]);

    for (query, name) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("before=-1", "before"),
        ("before=x", "before"),
        ("sort=path", "sort"),
    ] {
        let o = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}"])
            .arg(format!("{}/api/v1/artifacts?{query}", svc.base))
            .output()
            .unwrap();
        let text = String::from_utf8(o.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(code, "422", "{query}: {body}");
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["query", name]),
            "{query}: {body}"
        );
    }
}
