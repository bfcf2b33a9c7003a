//! Every python-tuf-built repository in tests/fixtures/repos (made by generate_repos.py)
//! verifies or fails exactly as its case.json says, in general mode and, for the canonical
//! ones, in streaming mode too (the same verdict, the same check).

use otuf_tests::{fixtures, trusted_root, versions, DirRepo, Mode};
use serde_json::Value;
use std::fs;

fn modes(format: &str) -> Vec<Mode> {
    if format == "canonical" {
        vec![Mode::General, Mode::Streaming(64), Mode::Streaming(1)]
    } else {
        vec![Mode::General]
    }
}

fn check_case(dir: &std::path::Path, mode: Mode) -> Vec<String> {
    let case: Value = serde_json::from_slice(&fs::read(dir.join("case.json")).unwrap()).unwrap();
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let now = case["now"].as_i64().unwrap();
    let repo = DirRepo {
        dir: dir.to_path_buf(),
        mode,
    };
    let want = &case["refresh"];
    let mut problems = Vec::new();
    let client = match (
        repo.refresh(&trusted_root(dir), now),
        want["ok"].as_bool().unwrap(),
    ) {
        (Ok(c), true) => {
            let v = versions(&c);
            for (field, got) in [
                ("root_version", v.root),
                ("timestamp_version", v.timestamp),
                ("snapshot_version", v.snapshot),
                ("targets_version", v.targets),
            ] {
                if let Some(w) = want[field].as_u64() {
                    if w != got {
                        problems.push(format!("{name} [{mode:?}]: {field} {got}, expected {w}"));
                    }
                }
            }
            c
        }
        (Ok(_), false) => {
            problems.push(format!(
                "{name} [{mode:?}]: refresh accepted, expected {} in {}",
                want["error"], want["role"]
            ));
            return problems;
        }
        (Err(f), true) => {
            problems.push(format!("{name} [{mode:?}]: refresh failed: {f}"));
            return problems;
        }
        (Err(f), false) => {
            if f.kind != want["error"].as_str().unwrap() || f.role != want["role"].as_str().unwrap()
            {
                problems.push(format!(
                    "{name} [{mode:?}]: got {} in {} ({f}), expected {} in {}",
                    f.kind, f.role, want["error"], want["role"]
                ));
            }
            return problems;
        }
    };
    for t in case["targets"].as_array().unwrap() {
        let path = t["path"].as_str().unwrap();
        let got = repo.fetch_target(&client, path);
        match (t["expect"].as_str().unwrap(), got) {
            ("ok", Ok(Some((role, info)))) => {
                if role != t["role"].as_str().unwrap() || Some(info.length) != t["length"].as_u64()
                {
                    problems.push(format!(
                        "{name} [{mode:?}]: {path}: found in {role} length {}, expected {} {}",
                        info.length, t["role"], t["length"]
                    ));
                }
                if let Some(sha) = t["sha256"].as_str() {
                    if info.hashes.sha256.map(otuf_tests::hex).as_deref() != Some(sha) {
                        problems.push(format!("{name} [{mode:?}]: {path}: sha256 differs"));
                    }
                }
            }
            ("not_found", Ok(None)) => {}
            ("error", Err(f))
                if f.kind == t["error"].as_str().unwrap()
                    && f.role == t["role"].as_str().unwrap() => {}
            (expect, got) => problems.push(format!(
                "{name} [{mode:?}]: {path}: expected {expect} {} {}, got {}",
                t["error"],
                t["role"],
                match got {
                    Ok(Some((r, _))) => format!("found in {r}"),
                    Ok(None) => "not found".into(),
                    Err(f) => format!("{} in {} ({f})", f.kind, f.role),
                }
            )),
        }
    }
    problems
}

#[test]
fn every_fixture_repository_gives_its_expected_verdict() {
    let root = fixtures().join("repos");
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 40, "only {} cases", dirs.len());
    let mut problems = Vec::new();
    let (mut runs, mut streamed) = (0, 0);
    for dir in &dirs {
        let case: Value =
            serde_json::from_slice(&fs::read(dir.join("case.json")).unwrap()).unwrap();
        for mode in modes(case["format"].as_str().unwrap_or("pretty")) {
            runs += 1;
            streamed += usize::from(mode != Mode::General);
            problems.extend(check_case(dir, mode));
        }
    }
    println!("{} cases, {runs} runs ({streamed} streaming)", dirs.len());
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
