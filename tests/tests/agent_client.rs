//! `otuf-agent client` against python-tuf-built repositories served over HTTP on 127.0.0.1:
//! refreshes, delegated and hash-bin targets, non-ASCII names, and each TUF attack refused with
//! the check that caught it and nothing unverified left on disk.

use otuf_tests::server::{Behavior, Server};
use otuf_tests::{fixtures, workspace_bin};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Run {
    server: Server,
    case: PathBuf,
    md: tempfile::TempDir,
    td: tempfile::TempDir,
}

impl Run {
    /// A fresh client trusting the case's root, with the case's local/ cache copied in.
    fn new(case: &str) -> Self {
        let case = fixtures().join("repos").join(case);
        let server = Server::start(case.clone());
        let run = Self {
            server,
            case,
            md: tempfile::tempdir().unwrap(),
            td: tempfile::tempdir().unwrap(),
        };
        let out = run.agent(
            &["init", run.case.join("trusted_root.json").to_str().unwrap()],
            &[],
        );
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Ok(local) = fs::read_dir(run.case.join("local")) {
            for f in local.flatten() {
                fs::copy(f.path(), run.md.path().join(f.file_name())).unwrap();
            }
        }
        run
    }

    fn agent(&self, verb: &[&str], targets: &[&str]) -> Output {
        let mut cmd = Command::new(workspace_bin("otuf-agent"));
        cmd.args([
            "client",
            "--stall-timeout",
            "2",
            "--min-speed",
            "200",
            "--metadata-dir",
        ])
        .arg(self.md.path());
        cmd.args(["--metadata-url", &format!("{}/metadata", self.server.base)]);
        cmd.args([
            "--target-base-url",
            &format!("{}/targets", self.server.base),
        ])
        .arg("--target-dir")
        .arg(self.td.path());
        for t in targets {
            cmd.args(["--target-name", t]);
        }
        cmd.args(verb).output().unwrap()
    }

    fn refresh(&self) -> Output {
        self.agent(&["refresh"], &[])
    }

    fn download(&self, targets: &[&str]) -> Output {
        self.agent(&["download"], targets)
    }

    fn metadata_files(&self) -> Vec<String> {
        names(self.md.path())
    }

    fn target_files(&self) -> Vec<String> {
        names(self.td.path())
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "expected success, got {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Exit status 1 and the check named in the message.
fn refused(out: &Output, check: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected exit 1: {stderr}");
    assert!(stderr.contains(check), "expected `{check}` in: {stderr}");
}

#[test]
fn first_refresh_then_a_refresh_with_no_change_fetches_only_timestamp() {
    let run = Run::new("keys-ed25519");
    ok(&run.refresh());
    assert_eq!(
        run.server.take_log(),
        [
            "/metadata/2.root.json",
            "/metadata/timestamp.json",
            "/metadata/2.snapshot.json",
            "/metadata/1.targets.json"
        ]
    );
    assert_eq!(
        run.metadata_files(),
        [
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json"
        ]
    );
    let stored = fs::read(run.md.path().join("snapshot.json")).unwrap();
    assert_eq!(
        stored,
        fs::read(run.case.join("metadata/2.snapshot.json")).unwrap(),
        "the exact bytes received"
    );
    ok(&run.refresh());
    assert_eq!(
        run.server.take_log(),
        ["/metadata/2.root.json", "/metadata/timestamp.json"]
    );
}

#[test]
fn root_rotation_across_several_versions() {
    let run = Run::new("root-rotation-chain-1-to-4");
    ok(&run.refresh());
    let log = run.server.take_log();
    assert_eq!(
        &log[..4],
        [
            "/metadata/2.root.json",
            "/metadata/3.root.json",
            "/metadata/4.root.json",
            "/metadata/5.root.json"
        ]
    );
    let root = fs::read(run.md.path().join("root.json")).unwrap();
    assert_eq!(
        root,
        fs::read(run.case.join("metadata/4.root.json")).unwrap()
    );
}

#[test]
fn delegated_targets_and_hash_bins_download_verified() {
    for (case, target) in [
        ("delegation-nested-3-levels", "deep/x/y/z.bin"),
        ("succinct-bins-10", "firmware/plc-a.bin"),
        ("hashed-bins-path-hash-prefixes-16", "firmware/plc-a.bin"),
    ] {
        let run = Run::new(case);
        let out = run.download(&[target]);
        ok(&out);
        let want: Vec<_> = fs::read_dir(
            run.case
                .join("targets")
                .join(Path::new(target).parent().unwrap()),
        )
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(Path::new(target).file_name().unwrap().to_str().unwrap())
        })
        .collect();
        let got = fs::read(run.td.path().join(target.replace('/', "%2F"))).unwrap();
        assert_eq!(got, fs::read(want[0].path()).unwrap(), "{case}");
        // Downloading again uses the verified local copy.
        run.server.take_log();
        ok(&run.download(&[target]));
        assert!(
            run.server
                .take_log()
                .iter()
                .all(|p| !p.starts_with("/targets/")),
            "{case}: target fetched twice"
        );
    }
}

#[test]
fn non_ascii_target_names() {
    let run = Run::new("target-names-canonical");
    let case: serde_json::Value =
        serde_json::from_slice(&fs::read(run.case.join("case.json")).unwrap()).unwrap();
    let names: Vec<&str> = case["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["expect"] == "ok")
        .map(|t| t["path"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| !n.is_ascii()));
    ok(&run.download(&names));
    assert_eq!(run.target_files().len(), names.len());
}

#[test]
fn arbitrary_installation_is_refused_and_nothing_is_left() {
    let run = Run::new("target-wrong-bytes");
    refused(&run.download(&["firmware/plc-a.bin"]), "target_hash");
    assert!(
        run.target_files().is_empty(),
        "unverified bytes left: {:?}",
        run.target_files()
    );
}

#[test]
fn each_metadata_attack_is_refused_with_its_check() {
    for (case, check, role) in [
        ("rollback-timestamp", "version_rollback", "timestamp.json"),
        (
            "rollback-targets-via-snapshot",
            "version_rollback",
            "snapshot",
        ),
        ("expired-timestamp", "expired", "timestamp.json"),
        ("mix-and-match-targets", "version_mismatch", "targets.json"),
        (
            "root-rotation-revoked-timestamp-key",
            "threshold",
            "timestamp.json",
        ),
        ("bad-signature-snapshot-ecdsa", "threshold", "snapshot.json"),
        ("meta-hash-snapshot", "meta_hash", "snapshot.json"),
        ("length-exceeded-snapshot", "snapshot.json", "more than"),
    ] {
        let run = Run::new(case);
        let before = run.metadata_files();
        let out = run.refresh();
        refused(&out, check);
        refused(&out, role);
        // Nothing refused was stored: only files that were already trusted, or verified now.
        for f in run.metadata_files() {
            assert!(
                before.contains(&f)
                    || ["root.json", "timestamp.json", "snapshot.json"].contains(&f.as_str()),
                "{case}: {f}"
            );
        }
    }
}

#[test]
fn endless_data_is_cut_at_the_bound() {
    let run = Run::new("keys-ed25519");
    run.server
        .set("/metadata/timestamp.json", Behavior::Endless);
    refused(&run.refresh(), "more than 16384 bytes");
    assert_eq!(run.metadata_files(), ["root.json"]);
}

#[test]
fn slow_retrieval_is_abandoned() {
    let run = Run::new("keys-ed25519");
    run.server
        .set("/metadata/timestamp.json", Behavior::Drip(3000)); // stalls past --stall-timeout 2
    refused(&run.refresh(), "no data for");
    let run = Run::new("keys-ed25519");
    run.server
        .set("/metadata/timestamp.json", Behavior::Drip(50)); // 20 B/s, below --min-speed 200
    refused(&run.refresh(), "below 200 B/s");
}

#[test]
fn fast_forward_recovery_after_timestamp_key_rotation() {
    // local/ trusts timestamp and snapshot v10 signed by the old keys; after the rotation the
    // repository starts again at v1, which must be accepted.
    let run = Run::new("fast-forward-recovery");
    ok(&run.refresh());
    // Without a key rotation the same rollback is an attack.
    let run = Run::new("fast-forward-without-key-rotation");
    refused(&run.refresh(), "version_rollback");
}
