//! The portal's verifier compiled to WebAssembly gives the native build's verdicts: every
//! fixture repository's refresh and every target it lists (found and its bytes checked, not
//! found, or refused with the same words), run under Node with the page's own `verifier.js` and
//! the wasm as `otuf-repo portal --out` writes them, against `otuf_portal_verifier::Portal`
//! natively. Both must also agree with what each case expects (python-tuf's verdicts).

use otuf_portal_verifier::Portal;
use otuf_tests::workspace_bin;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos")
}

/// A file of a fixture, or `Err` as verifier.js's reader refuses it (longer than allowed).
fn file(dir: &Path, name: &str, max_length: u64) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(dir.join(name)) {
        Ok(b) if b.len() as u64 > max_length => Err(format!(
            "{name}: longer than the {max_length} bytes allowed"
        )),
        Ok(b) => Ok(Some(b)),
        Err(_) => Ok(None),
    }
}

/// verifier.js's `refresh`, natively, with the case's `local/` as the page's kept copies.
fn refresh(portal: &mut Portal, root: &[u8], now: i64, dir: &Path) -> Value {
    let metadata = dir.join("metadata");
    let mut step = portal.start(root, now);
    while let Some(name) = step["fetch"].as_str().map(str::to_string) {
        if step["root"] == false {
            let role = step["role"].as_str().unwrap_or_default();
            if let Ok(kept) = std::fs::read(dir.join("local").join(format!("{role}.json"))) {
                if portal.offer_local(&kept)["current"] == true {
                    step = portal.next();
                    continue;
                }
            }
        }
        let max = step["max_length"].as_u64().unwrap_or(u64::MAX);
        step = match file(&metadata, &name, max) {
            Err(e) => json!({ "error": e }),
            Ok(None) if step["root"] == true => portal.not_found(),
            Ok(None) => json!({ "error": format!("{name}: not found (HTTP 404)") }),
            Ok(Some(bytes)) => portal.handle(&bytes),
        };
    }
    step
}

/// verifier.js's `find`, then `verifyDownload` of what it found: the target's verdict.
fn target(portal: &mut Portal, path: &str, dir: &Path) -> String {
    let found = loop {
        let step = portal.search(path);
        let Some(name) = step["fetch"].as_str() else {
            break step;
        };
        let max = step["max_length"].as_u64().unwrap_or(u64::MAX);
        match file(&dir.join("metadata"), name, max) {
            Err(e) => break json!({ "error": e }),
            Ok(None) => break json!({ "error": format!("{name}: not found (HTTP 404)") }),
            Ok(Some(bytes)) => {
                let role = step["role"].as_str().unwrap_or_default().to_string();
                portal.put_role(&role, &bytes);
            }
        }
    };
    if found["missing"] == true {
        return "not_found".into();
    }
    let Some(file_name) = found["found"]["file"].as_str() else {
        return format!("error: {}", found["error"].as_str().unwrap_or_default());
    };
    let Ok(bytes) = std::fs::read(dir.join("targets").join(file_name)) else {
        return format!("error: {file_name}: not found");
    };
    let started = portal.download_start(path);
    if started.get("found").is_none() {
        return format!("error: {}", started["error"].as_str().unwrap_or_default());
    }
    for step in [portal.download_update(&bytes), portal.download_finish()] {
        if let Some(e) = step["error"].as_str() {
            return format!("error: {path}: {e}");
        }
    }
    "ok".into()
}

/// The native verdicts, one per case, in verdicts.mjs's shape.
fn native(case: &str) -> Value {
    let dir = repos().join(case);
    let spec: Value =
        serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
    let root = std::fs::read(dir.join("trusted_root.json")).unwrap();
    let mut portal = Portal::default();
    let refreshed = refresh(&mut portal, &root, spec["now"].as_i64().unwrap(), &dir);
    let mut targets = serde_json::Map::new();
    if let Some(ready) = refreshed.get("ready") {
        for t in spec["targets"].as_array().into_iter().flatten() {
            let path = t["path"].as_str().unwrap();
            targets.insert(path.into(), json!(target(&mut portal, path, &dir)));
        }
        json!({ "case": case, "refresh": { "ok": ready }, "targets": targets })
    } else {
        json!({ "case": case, "refresh": { "error": refreshed["error"] }, "targets": targets })
    }
}

#[test]
fn wasm_verdicts_are_the_native_builds_on_every_fixture_repository() {
    let portal = tempfile::tempdir().unwrap();
    let exported = Command::new(workspace_bin("otuf-repo"))
        .args(["portal", "--out"])
        .arg(portal.path())
        .status()
        .unwrap();
    assert!(exported.success(), "otuf-repo portal --out failed");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("portal/verdicts.mjs");
    let node = Command::new("node")
        .arg(script)
        .arg(portal.path())
        .arg(repos())
        .output()
        .expect("node (the machine's Node.js) runs the wasm verifier");
    assert!(
        node.status.success(),
        "verdicts.mjs failed: {}",
        String::from_utf8_lossy(&node.stderr)
    );
    let wasm: BTreeMap<String, Value> = String::from_utf8(node.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["case"].as_str().unwrap().to_string(), v)
        })
        .collect();
    let cases: Vec<String> = std::fs::read_dir(repos())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(cases.len() > 50, "the fixture repositories are there");
    assert_eq!(wasm.len(), cases.len(), "one verdict line per case");
    let (mut refused, mut found) = (0, 0);
    for case in &cases {
        let native = native(case);
        assert_eq!(
            wasm[case], native,
            "{case}: wasm and native verdicts differ"
        );
        // Both agree with the case's expectations (python-tuf's verdicts).
        let spec: Value =
            serde_json::from_slice(&std::fs::read(repos().join(case).join("case.json")).unwrap())
                .unwrap();
        let ok = spec["refresh"]["ok"].as_bool().unwrap();
        assert_eq!(
            native["refresh"].get("ok").is_some(),
            ok,
            "{case}: refresh verdict"
        );
        refused += usize::from(!ok);
        if !ok {
            continue;
        }
        for t in spec["targets"].as_array().into_iter().flatten() {
            let got = native["targets"][t["path"].as_str().unwrap()]
                .as_str()
                .unwrap();
            let want = t["expect"].as_str().unwrap();
            let kind = if got.starts_with("error") {
                "error"
            } else {
                got
            };
            assert_eq!(kind, want, "{case}: {}: {got}", t["path"]);
            found += usize::from(got == "ok");
        }
    }
    assert!(
        refused > 10 && found > 50,
        "refusals {refused}, targets verified {found}"
    );
    page_weight(portal.path());
}

/// The page weight budget (issue 16): everything the portal loads, gzip-compressed as a
/// server or CDN sends it, under 300 KB.
fn page_weight(site: &Path) {
    let mut files = vec![site.join("index.html")];
    files.extend(
        std::fs::read_dir(site.join("portal"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    let mut total = 0;
    for f in &files {
        let gz = Command::new("gzip")
            .args(["-9", "-c"])
            .arg(f)
            .output()
            .unwrap();
        assert!(gz.status.success());
        println!("{}: {} bytes compressed", f.display(), gz.stdout.len());
        total += gz.stdout.len();
    }
    println!("page weight: {total} bytes compressed (budget 300,000)");
    assert!(files.len() >= 6, "{files:?}");
    assert!(
        total < 300_000,
        "the portal weighs {total} bytes compressed"
    );
}
