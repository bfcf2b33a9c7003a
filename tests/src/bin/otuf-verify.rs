//! Verifies a TUF repository laid out in a folder exactly as a device does, with otuf-core:
//! root chain, timestamp, snapshot, targets, then a delegation search and a hash check for
//! each target. Until otuf-repo and otuf-agent exist this is the project's main job.
//!
//! usage: otuf-verify REPO_DIR [--stream CHUNK_BYTES] [--now UNIX_SECONDS] [TARGET_PATH...]
//! REPO_DIR holds trusted_root.json, metadata/, targets/ (and optionally case.json naming the
//! reference time and targets, as the fixtures do).

use otuf_tests::{trusted_root, versions, DirRepo, Mode};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut mode, mut now, mut paths) = (None, Mode::General, None, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--stream" => {
                mode = Mode::Streaming(args.next().and_then(|n| n.parse().ok()).unwrap_or(256))
            }
            "--now" => now = args.next().and_then(|n| n.parse().ok()),
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => paths.push(a),
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: otuf-verify REPO_DIR [--stream CHUNK_BYTES] [--now UNIX_SECONDS] [TARGET_PATH...]");
        return ExitCode::FAILURE;
    };
    let case: Option<serde_json::Value> = std::fs::read(dir.join("case.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let now = now
        .or_else(|| case.as_ref().and_then(|c| c["now"].as_i64()))
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    if paths.is_empty() {
        if let Some(targets) = case.as_ref().and_then(|c| c["targets"].as_array()) {
            paths = targets
                .iter()
                .filter_map(|t| t["path"].as_str().map(String::from))
                .collect();
        }
    }
    let repo = DirRepo {
        dir: dir.clone(),
        mode,
    };
    println!(
        "repository {} ({mode:?}, reference time {now})",
        dir.display()
    );
    let client = match repo.refresh(&trusted_root(&dir), now) {
        Ok(c) => c,
        Err(f) => {
            println!("REFUSED: {f}");
            return ExitCode::FAILURE;
        }
    };
    let v = versions(&client);
    println!(
        "trusted: root v{}, timestamp v{}, snapshot v{}, targets v{}",
        v.root, v.timestamp, v.snapshot, v.targets
    );
    let mut ok = true;
    for path in &paths {
        match repo.fetch_target(&client, path) {
            Ok(Some((role, info))) => println!(
                "  {path}: verified, {} bytes, listed by {role}",
                info.length
            ),
            Ok(None) => println!("  {path}: not listed by any trusted role"),
            Err(f) => {
                ok = false;
                println!("  {path}: REFUSED: {f}");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
