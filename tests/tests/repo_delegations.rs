//! Custom delegations, set up with the operator CLI and changed through the REST API. The
//! plant's ceremony: `otuf-repo keygen` for two root keys and the online key, `otuf-repo
//! ceremony --delegations` signed by one root key holder and sent, the second root signature
//! later with `otuf-repo sign`, `otuf-repo status` between. Then artifacts published with
//! `otuf-repo publish` go to the first role whose paths match; roles are added, updated (the
//! artifacts move with them) and deleted (the role stays listed in snapshot) and added again.
//! After each step python-tuf's ngclient and otuf-agent, each keeping its trusted metadata from
//! step to step as a device does, find exactly what the delegations list.

use otuf_tests::repo_service::{ngclient_keeping, Service};
use otuf_tests::workspace_bin;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

/// `otuf-repo <args>` (with `--api-server` for the commands that talk to a service): whether it
/// succeeded, and what it printed.
fn otuf_repo(svc: Option<&Service>, args: &[&str]) -> (bool, String) {
    let mut c = Command::new(workspace_bin("otuf-repo"));
    c.args(args);
    if let Some(svc) = svc {
        c.args(["--api-server", &svc.base]);
    }
    let o = c.env("NO_COLOR", "1").output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

fn ok(svc: Option<&Service>, args: &[&str]) -> String {
    let (success, out) = otuf_repo(svc, args);
    assert!(success, "otuf-repo {args:?}: {out}");
    out
}

/// Two devices that keep their trusted metadata between refreshes: python-tuf's ngclient and
/// otuf-agent.
struct Devices {
    ngclient: tempfile::TempDir,
    agent: tempfile::TempDir,
}

impl Devices {
    fn new(svc: &Service) -> Self {
        let d = Self {
            ngclient: tempfile::tempdir().unwrap(),
            agent: tempfile::tempdir().unwrap(),
        };
        let init = Command::new(workspace_bin("otuf-agent"))
            .args(["client", "--metadata-dir"])
            .arg(d.agent.path())
            .arg("init")
            .arg(svc.root())
            .status()
            .unwrap();
        assert!(init.success());
        d
    }

    /// Both find and verify `target` (with these bytes), or both report that no role lists it.
    fn agree(&self, svc: &Service, target: &str, listed: Option<&[u8]>) {
        let out = tempfile::tempdir().unwrap();
        let (code, py_err) = ngclient_keeping(svc, target, out.path(), Some(self.ngclient.path()));
        let td = tempfile::tempdir().unwrap();
        let a = Command::new(workspace_bin("otuf-agent"))
            .args([
                "client",
                "--metadata-url",
                &format!("{}/metadata", svc.base),
            ])
            .args(["--target-base-url", &format!("{}/targets", svc.base)])
            .args(["--target-name", target, "--metadata-dir"])
            .arg(self.agent.path())
            .arg("--target-dir")
            .arg(td.path())
            .arg("download")
            .output()
            .unwrap();
        let agent_err = String::from_utf8_lossy(&a.stderr).into_owned();
        match listed {
            Some(bytes) => {
                assert_eq!(code, 0, "python-tuf: {target}: {py_err}");
                assert!(a.status.success(), "otuf-agent: {target}: {agent_err}");
                let name: String = target.replace('/', "%2F");
                assert_eq!(std::fs::read(td.path().join(name)).unwrap(), bytes);
            }
            None => {
                assert_eq!(code, 2, "python-tuf should not find {target}: {py_err}");
                assert!(
                    !a.status.success() && agent_err.contains("no trusted role lists this target"),
                    "otuf-agent should not find {target}: {agent_err}"
                );
            }
        }
    }
}

/// A write through the API that must be accepted with `message`; the finished task.
fn accepted(svc: &Service, method: &str, path: &str, body: &Value, message: &str) -> Value {
    let (code, reply) = if method == "PUT" {
        svc.put(path, body)
    } else {
        svc.post(path, body)
    };
    assert_eq!(
        (code, reply["message"].as_str()),
        (202, Some(message)),
        "{reply}"
    );
    svc.wait(reply["data"]["task_id"].as_str().unwrap())
}

/// A request refused with 422 at `loc`.
fn refused(svc: &Service, method: &str, path: &str, body: &Value, loc: &[Value]) {
    let (code, reply) = if method == "PUT" {
        svc.put(path, body)
    } else {
        svc.post(path, body)
    };
    assert_eq!(code, 422, "{reply}");
    assert_eq!(
        reply["detail"][0]["loc"].as_array().unwrap().as_slice(),
        loc,
        "{reply}"
    );
}

fn role(name: &str, paths: &[&str]) -> Value {
    json!({"name": name, "terminating": true, "keyids": [], "threshold": 1, "paths": paths,
           "x-rstuf-expire-policy": 7})
}

fn snapshot_version_of(svc: &Service, role: &str) -> u64 {
    let ts = svc.metadata("timestamp.json");
    let v = ts["signed"]["meta"]["snapshot.json"]["version"]
        .as_u64()
        .unwrap();
    let sn = svc.metadata(&format!("{v}.snapshot.json"));
    sn["signed"]["meta"][format!("{role}.json")]["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("snapshot v{v} does not list {role}: {sn}"))
}

#[test]
fn custom_delegations_from_the_ceremony_to_deleted_and_returning_roles() {
    let keys = tempfile::tempdir().unwrap();
    let key = |n: &str| keys.path().join(n).to_str().unwrap().to_string();
    for (file, kind) in [
        ("root-a.pem", "ed25519"),
        ("root-b.pem", "ecdsa"),
        ("online.pem", "ed25519"),
    ] {
        let out = ok(None, &["keygen", &key(file), "--type", kind]);
        assert!(out.contains("\"keyid\""), "{out}");
    }
    // A key file is never overwritten.
    assert!(!otuf_repo(None, &["keygen", &key("root-a.pem")]).0);

    let svc = Service::start(&["--online-key-dir", &key("")]);
    let delegations = keys.path().join("delegations.json");
    std::fs::write(
        &delegations,
        json!({"keys": {}, "roles": [role("plc", &["firmware/plc-*"]),
                                      {"name": "firmware", "terminating": false, "keyids": [], "threshold": 1,
                                       "paths": ["firmware/*"]}]})
        .to_string(),
    )
    .unwrap();
    // Root key A signs now; B's holder only hands over the public key and signs later.
    let payload = keys.path().join("ceremony.json");
    let out = ok(
        Some(&svc),
        &[
            "ceremony",
            "--root-key",
            &key("root-a.pem"),
            "--root-key",
            &key("root-b.pem.pub"),
            "--threshold",
            "2",
            "--online-key",
            &key("online.pem"),
            "--delegations",
            delegations.to_str().unwrap(),
            "--out",
            payload.to_str().unwrap(),
            "--send",
        ],
    );
    assert!(
        out.contains("1 of 2 root signature") && out.contains("pending signature"),
        "{out}"
    );
    let status: Value = serde_json::from_str(&ok(Some(&svc), &["status", "--json"])).unwrap();
    assert_eq!(status["bootstrap"], "signing", "{status}");
    assert_eq!(status["pending_signatures"][0]["signatures"], 1, "{status}");
    // Root key A cannot sign twice; a key that is not a root key is refused by the CLI.
    let (signed, out) = otuf_repo(Some(&svc), &["sign", "--key", &key("online.pem")]);
    assert!(
        !signed && out.contains("not a key of the pending root"),
        "{out}"
    );
    let out = ok(Some(&svc), &["sign", "--key", &key("root-b.pem")]);
    assert!(out.contains("Bootstrap Finished"), "{out}");
    let out = ok(Some(&svc), &["status"]);
    assert!(
        out.contains("bootstrap:   finished") && out.contains("delegations: plc, firmware"),
        "{out}"
    );

    let devices = Devices::new(&svc);
    let files = tempfile::tempdir().unwrap();
    let publish = |path: &str, bytes: &[u8]| -> (bool, String) {
        let file = files.path().join(path.replace('/', "_"));
        std::fs::write(&file, bytes).unwrap();
        otuf_repo(
            Some(&svc),
            &[
                "publish",
                file.to_str().unwrap(),
                "--path",
                path,
                "--custom",
                r#"{"version": "1.0.0"}"#,
            ],
        )
    };
    let (plc_a, rtu, manual) = (
        b"plc-a image".to_vec(),
        b"rtu image".to_vec(),
        b"manual".to_vec(),
    );
    let (done, out) = publish("firmware/plc-a.bin", &plc_a);
    assert!(done && out.contains("[\"plc\"]"), "{out}");
    let (done, out) = publish("firmware/rtu.bin", &rtu);
    assert!(done && out.contains("[\"firmware\"]"), "{out}");
    let (done, out) = publish("docs/manual.pdf", &manual);
    assert!(
        !done && out.contains("no delegated role is trusted"),
        "{out}"
    );
    devices.agree(&svc, "firmware/plc-a.bin", Some(&plc_a));
    devices.agree(&svc, "firmware/rtu.bin", Some(&rtu));
    devices.agree(&svc, "docs/manual.pdf", None);
    // A custom role's versions last its own expire policy (7 days), a bin's would last 1.
    let plc = svc.metadata(&format!("{}.plc.json", snapshot_version_of(&svc, "plc")));
    assert!(plc["signed"]["expires"].as_str().unwrap() > "2026", "{plc}");

    // Requests are checked before anything is stored.
    let at = |parts: &[Value]| parts.to_vec();
    let d = "/api/v1/delegations/";
    refused(
        &svc,
        "POST",
        d,
        &json!({"delegations": {"roles": [role("plc", &["x/*"])]}}),
        &at(&[
            json!("body"),
            json!("delegations"),
            json!("roles"),
            json!(0),
            json!("name"),
        ]),
    );
    refused(
        &svc,
        "PUT",
        d,
        &json!({"delegations": {"roles": [role("nope", &["x/*"])]}}),
        &at(&[
            json!("body"),
            json!("delegations"),
            json!("roles"),
            json!(0),
            json!("name"),
        ]),
    );
    refused(
        &svc,
        "POST",
        d,
        &json!({"delegations": {"roles": [role("bad name", &["x/*"])]}}),
        &at(&[
            json!("body"),
            json!("delegations"),
            json!("roles"),
            json!(0),
            json!("name"),
        ]),
    );
    refused(
        &svc,
        "POST",
        d,
        &json!({"delegations": {"roles": [role("empty", &[])]}}),
        &at(&[
            json!("body"),
            json!("delegations"),
            json!("roles"),
            json!(0),
            json!("paths"),
        ]),
    );
    refused(
        &svc,
        "POST",
        "/api/v1/delegations/delete",
        &json!({"delegations": {"roles": [{"name": "nope"}]}}),
        &at(&[
            json!("body"),
            json!("delegations"),
            json!("roles"),
            json!(0),
            json!("name"),
        ]),
    );
    refused(
        &svc,
        "POST",
        "/api/v1/metadata/online",
        &json!({"roles": ["bins"]}),
        &at(&[json!("body"), json!("roles"), json!(0)]),
    );

    // A new role for documents.
    let docs_role = role("docs", &["docs/*"]);
    let t = accepted(
        &svc,
        "POST",
        d,
        &json!({"delegations": {"roles": [docs_role]}}),
        "Metadata delegation add accepted.",
    );
    assert_eq!(t["state"], "SUCCESS", "{t}");
    assert_eq!(
        t["result"]["details"]["delegated_roles"],
        json!(["docs"]),
        "{t}"
    );
    let (done, out) = publish("docs/manual.pdf", &manual);
    assert!(done && out.contains("[\"docs\"]"), "{out}");
    devices.agree(&svc, "docs/manual.pdf", Some(&manual));

    // plc now only takes plc-b images: plc-a moves to the next role a device searches.
    let firmware_before = snapshot_version_of(&svc, "firmware");
    let t = accepted(
        &svc,
        "PUT",
        d,
        &json!({"delegations": {"roles": [role("plc", &["firmware/plc-b*"])]}}),
        "Metadata delegation update accepted.",
    );
    assert_eq!(t["result"]["details"]["moved_artifacts"], 1, "{t}");
    assert!(snapshot_version_of(&svc, "firmware") > firmware_before);
    devices.agree(&svc, "firmware/plc-a.bin", Some(&plc_a));
    devices.agree(&svc, "firmware/rtu.bin", Some(&rtu));

    // docs goes: its artifact waits unlisted, and the role stays in snapshot, so devices that
    // trusted the previous snapshot still accept the next one.
    let docs_version = snapshot_version_of(&svc, "docs");
    let t = accepted(
        &svc,
        "POST",
        "/api/v1/delegations/delete",
        &json!({"delegations": {"roles": [{"name": "docs"}]}}),
        "Metadata delegation delete accepted.",
    );
    assert_eq!(
        t["result"]["details"]["unassigned_artifacts"],
        json!(["docs/manual.pdf"]),
        "{t}"
    );
    assert_eq!(snapshot_version_of(&svc, "docs"), docs_version);
    devices.agree(&svc, "docs/manual.pdf", None);
    devices.agree(&svc, "firmware/rtu.bin", Some(&rtu));
    let config = svc.get("/api/v1/config/");
    assert_eq!(
        config["data"]["delegated_roles"],
        json!(["plc", "firmware"]),
        "{config}"
    );

    // ... and comes back: its versions go on, and the artifact is listed again.
    let t = accepted(
        &svc,
        "POST",
        d,
        &json!({"delegations": {"roles": [role("docs", &["docs/*"])]}}),
        "Metadata delegation add accepted.",
    );
    assert_eq!(t["result"]["details"]["moved_artifacts"], 1, "{t}");
    assert!(snapshot_version_of(&svc, "docs") > docs_version);
    devices.agree(&svc, "docs/manual.pdf", Some(&manual));

    // Forced re-signing of a custom role; deleting an artifact.
    let before = snapshot_version_of(&svc, "firmware");
    let t = accepted(
        &svc,
        "POST",
        "/api/v1/metadata/online",
        &json!({"roles": ["firmware"]}),
        "Force online metadata update accepted.",
    );
    assert_eq!(t["state"], "SUCCESS", "{t}");
    assert_eq!(snapshot_version_of(&svc, "firmware"), before + 1);
    let out = ok(Some(&svc), &["delete", "firmware/rtu.bin"]);
    assert!(out.contains("firmware/rtu.bin"), "{out}");
    devices.agree(&svc, "firmware/rtu.bin", None);
    devices.agree(&svc, "firmware/plc-a.bin", Some(&plc_a));
}

#[test]
fn a_hash_bin_repository_has_no_custom_roles() {
    let svc = Service::start_dev();
    let (code, reply) = svc.post(
        "/api/v1/delegations/",
        &json!({"delegations": {"roles": [role("docs", &["docs/*"])]}}),
    );
    assert_eq!(code, 404, "{reply}");
    assert!(
        reply["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("Delegations already using hash-bins, cannot add custom roles"),
        "{reply}"
    );
    let _: PathBuf = svc.root();
}

#[test]
fn a_role_with_keys_of_its_own_is_delegated_once_its_holders_have_signed() {
    let keys = tempfile::tempdir().unwrap();
    let key = |n: &str| keys.path().join(n).to_str().unwrap().to_string();
    let mut ids = std::collections::BTreeMap::new();
    for (file, kind) in [
        ("root.pem", "ed25519"),
        ("online.pem", "ed25519"),
        ("vendor.pem", "ecdsa"),
        ("other.pem", "ed25519"),
    ] {
        let out: Value =
            serde_json::from_str(ok(None, &["keygen", &key(file), "--type", kind]).trim()).unwrap();
        ids.insert(file, out);
    }
    let svc = Service::start(&["--online-key-dir", &key("")]);
    let d = keys.path().join("delegations.json");
    std::fs::write(
        &d,
        json!({"roles": [role("firmware", &["firmware/*"])]}).to_string(),
    )
    .unwrap();
    let payload = keys.path().join("ceremony.json");
    ok(
        Some(&svc),
        &[
            "ceremony",
            "--root-key",
            &key("root.pem"),
            "--threshold",
            "1",
            "--online-key",
            &key("online.pem"),
            "--delegations",
            d.to_str().unwrap(),
            "--out",
            payload.to_str().unwrap(),
            "--send",
        ],
    );
    let devices = Devices::new(&svc);
    let files = tempfile::tempdir().unwrap();
    let publish = |path: &str, bytes: &[u8]| -> (bool, String) {
        let file = files.path().join(path.replace('/', "_"));
        std::fs::write(&file, bytes).unwrap();
        otuf_repo(
            Some(&svc),
            &["publish", file.to_str().unwrap(), "--path", path],
        )
    };
    let (fw, tool) = (b"firmware".to_vec(), b"vendor tool".to_vec());
    assert!(publish("firmware/a.bin", &fw).0);

    // The vendor's role, signed with the vendor's own key.
    let vendor = &ids["vendor.pem"];
    let vid = vendor["keyid"].as_str().unwrap();
    let t = accepted(
        &svc,
        "POST",
        "/api/v1/delegations/",
        &json!({"delegations": {
        "keys": {vid: vendor["key"]},
        "roles": [{"name": "vendor", "terminating": true, "keyids": [vid], "threshold": 1, "paths": ["vendor/*"]}]}}),
        "Metadata delegation add accepted.",
    );
    assert_eq!(t["state"], "SUCCESS", "{t}");
    // Not delegated until its holders sign: no device looks for a role snapshot does not list.
    let targets_version = snapshot_version_of(&svc, "targets");
    let targets = svc.metadata(&format!("{targets_version}.targets.json"));
    assert!(!targets.to_string().contains("\"vendor\""), "{targets}");
    let waiting = svc.get("/api/v1/metadata/sign");
    assert_eq!(
        waiting["data"]["metadata"]["vendor"]["signed"]["version"], 1,
        "{waiting}"
    );
    assert!(
        waiting["data"]["metadata"]["trusted_targets"].is_object(),
        "{waiting}"
    );
    let (done, out) = publish("vendor/tool.bin", &tool);
    assert!(
        !done && out.contains("no delegated role is trusted"),
        "{out}"
    );
    let (signed, out) = otuf_repo(
        Some(&svc),
        &["sign", "--role", "vendor", "--key", &key("other.pem")],
    );
    assert!(
        !signed && out.contains("not a key of the pending vendor v1"),
        "{out}"
    );
    let out = ok(
        Some(&svc),
        &["sign", "--role", "vendor", "--key", &key("vendor.pem")],
    );
    assert!(out.contains("Role vendor signing complete"), "{out}");
    assert_eq!(snapshot_version_of(&svc, "vendor"), 1);
    devices.agree(&svc, "firmware/a.bin", Some(&fw));

    // A new artifact in it is listed once the vendor signs the version that lists it.
    let (done, out) = publish("vendor/tool.bin", &tool);
    assert!(done && out.contains("waiting for the signatures"), "{out}");
    devices.agree(&svc, "vendor/tool.bin", None);
    let out = ok(
        Some(&svc),
        &["sign", "--role", "vendor", "--key", &key("vendor.pem")],
    );
    assert!(out.contains("Role vendor signing complete"), "{out}");
    assert_eq!(snapshot_version_of(&svc, "vendor"), 2);
    devices.agree(&svc, "vendor/tool.bin", Some(&tool));
    devices.agree(&svc, "firmware/a.bin", Some(&fw));

    // A forged signature is refused; the waiting version can be abandoned.
    assert!(publish("vendor/second.bin", b"second").0);
    let forged = json!({"role": "vendor", "signature": {"keyid": vid, "sig": "30".repeat(35)}});
    let t = accepted(
        &svc,
        "POST",
        "/api/v1/metadata/sign",
        &forged,
        "Metadata sign accepted.",
    );
    assert_eq!(t["state"], "ERRORED", "{t}");
    assert!(
        t["result"]["error"]
            .as_str()
            .unwrap()
            .contains("Invalid signature"),
        "{t}"
    );
    accepted(
        &svc,
        "POST",
        "/api/v1/metadata/sign/delete",
        &json!({"role": "vendor"}),
        "Metadata sign delete accepted.",
    );
    let (code, reply) = svc.post("/api/v1/metadata/sign", &forged);
    assert_eq!(code, 404, "{reply}");
    devices.agree(&svc, "vendor/second.bin", None);
    devices.agree(&svc, "vendor/tool.bin", Some(&tool));
}
