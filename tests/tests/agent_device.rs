//! otuf-agent on a device (issue 5, under way): `init` from its configuration, then `check`
//! against otuf-repo. The device finds its firmware through its hardware's device index
//! (`otuf-index/<hardware>.json`, which otuf-repo keeps), decides from the artifacts' signed
//! `custom` fields, and passes over a mirror that serves tampered files for the next one.

use otuf_tests::repo_service::Service;
use otuf_tests::server::Server;
use otuf_tests::workspace_bin;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// A device configuration: these mirrors, this hardware and channel, this installed version.
fn config(dir: &Path, mirrors: &[&str], hardware: &str, channel: &str, installed: &str) -> String {
    let mirrors: Vec<String> = mirrors
        .iter()
        .map(|m| format!("{{ metadata = \"{m}/metadata\", targets = \"{m}/targets\" }}"))
        .collect();
    let file = dir.join(format!("agent-{hardware}-{channel}-{installed}.toml"));
    std::fs::write(
        &file,
        format!(
            "state_dir = \"state\"\n[repository]\nroot = \"root.json\"\nmirrors = [{}]\n\
             [device]\nid = \"dev-1\"\nhardware = \"{hardware}\"\nchannel = \"{channel}\"\n\
             installed_version = \"{installed}\"\n[install]\nmethod = \"file\"\npath = \"fw.bin\"\n",
            mirrors.join(", ")
        ),
    )
    .unwrap();
    file.to_str().unwrap().to_string()
}

/// Publishes firmware `v` for hardware plc-a (its bytes: `image <v>`).
fn publish_plc_a(svc: &Service, v: &str) {
    let t = svc.add(
        &format!("firmware/plc-a-{v}.bin"),
        format!("image {v}").as_bytes(),
        json!({"version": v, "hardware": "plc-a"}),
    );
    assert_eq!(t["state"], "SUCCESS", "{t}");
}

fn agent(config: &str, args: &[&str]) -> (bool, String, String) {
    let o = Command::new(workspace_bin("otuf-agent"))
        .args(["--config", config])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn check(config: &str) -> (Value, String) {
    let (ok, out, err) = agent(config, &["check", "--json"]);
    assert!(ok, "check: {out}{err}");
    (serde_json::from_str(out.trim()).unwrap(), err)
}

#[test]
fn check_finds_the_firmware_meant_for_this_device_past_a_tampered_mirror() {
    let svc = Service::start_dev();
    let plc_a = |v: &str, extra: Value| {
        let mut custom = json!({"version": v, "hardware": "plc-a"});
        for (k, val) in extra.as_object().unwrap() {
            custom[k] = val.clone();
        }
        custom
    };
    for (path, custom) in [
        ("firmware/plc-a-1.0.0.bin", plc_a("1.0.0", json!({}))),
        ("firmware/plc-a-1.2.0.bin", plc_a("1.2.0", json!({}))),
        (
            "firmware/plc-a-2.0.0-rc.1.bin",
            plc_a("2.0.0-rc.1", json!({"channel": "pilot"})),
        ),
        (
            "firmware/plc-b-9.0.0.bin",
            json!({"version": "9.0.0", "hardware": "plc-b"}),
        ),
    ] {
        let t = svc.add(path, path.as_bytes(), custom);
        assert_eq!(t["state"], "SUCCESS", "{t}");
    }
    // Mirror 0 serves a copy of the repository whose timestamp was tampered with.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(
        &svc.data.path().join("metadata"),
        &copy.path().join("metadata"),
    );
    copy_dir(
        &svc.data.path().join("targets"),
        &copy.path().join("targets"),
    );
    let ts = copy.path().join("metadata/timestamp.json");
    let tampered = std::fs::read_to_string(&ts).unwrap().replacen(
        "\"_type\":\"timestamp\"",
        "\"_type\":\"timestamp\",\"x-evil\":1",
        1,
    );
    std::fs::write(&ts, tampered).unwrap();
    let bad = Server::start(copy.path().to_path_buf());

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(svc.root(), dir.path().join("root.json")).unwrap();
    let mirrors = [bad.base.as_str(), svc.base.as_str()];
    let stable = config(dir.path(), &mirrors, "plc-a", "stable", "1.0.0");
    let (ok, out, err) = agent(&stable, &["check"]);
    assert!(!ok && err.contains("otuf-agent init"), "{out}{err}");
    let (ok, out, err) = agent(&stable, &["init"]);
    assert!(ok, "init: {out}{err}");

    let (c, err) = check(&stable);
    assert_eq!(c["action"], "install", "{c}");
    assert_eq!(c["target"]["path"], "firmware/plc-a-1.2.0.bin", "{c}");
    assert_eq!(c["mirror"], 1, "{c}");
    assert!(
        err.contains("mirror 0") && err.contains("passed over"),
        "{err}"
    );
    assert!(c["metadata"]["snapshot"].as_u64().unwrap() >= 1, "{c}");

    // The pilot channel gets the release candidate; 1.2.0 installed is up to date.
    let (c, _) = check(&config(dir.path(), &mirrors, "plc-a", "pilot", "1.0.0"));
    assert_eq!(c["target"]["path"], "firmware/plc-a-2.0.0-rc.1.bin", "{c}");
    let newest = config(dir.path(), &mirrors, "plc-a", "stable", "1.2.0");
    assert_eq!(check(&newest).0["action"], "none");
    let (c, _) = check(&config(dir.path(), &mirrors, "rtu-z", "stable", "1.0.0"));
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("no artifact for hardware rtu-z"),
        "{c}"
    );

    // 1.2.0 is withdrawn: going down to 1.0.0 is refused until the metadata allows the rollback.
    let (code, reply) = svc.post(
        "/api/v1/artifacts/delete",
        &json!({"artifacts": ["firmware/plc-a-1.2.0.bin"]}),
    );
    assert_eq!(code, 202, "{reply}");
    svc.wait(reply["data"]["task_id"].as_str().unwrap());
    let (c, _) = check(&newest);
    assert_eq!(c["action"], "refused", "{c}");
    assert!(
        c["message"].as_str().unwrap().contains("custom.rollback"),
        "{c}"
    );
    let t = svc.add(
        "firmware/plc-a-1.1.9.bin",
        b"fixed",
        plc_a(
            "1.1.9",
            json!({"rollback": true, "rollback_devices": ["dev-1"]}),
        ),
    );
    assert_eq!(t["state"], "SUCCESS", "{t}");
    let (c, _) = check(&newest);
    assert_eq!(
        (c["action"].as_str(), c["target"]["path"].as_str()),
        (Some("rollback"), Some("firmware/plc-a-1.1.9.bin")),
        "{c}"
    );
}

/// Today's weekday in UTC, `days` ahead, as the configuration names days.
fn weekday_in(days: u64) -> &'static str {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // 1970-01-01 was a Thursday.
    ["thu", "fri", "sat", "sun", "mon", "tue", "wed"][((now / 86_400 + days) % 7) as usize]
}

#[test]
fn update_installs_replaces_rolls_back_once_and_waits_for_its_window() {
    let svc = Service::start_dev();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(svc.root(), dir.path().join("root.json")).unwrap();
    let base = config(dir.path(), &[svc.base.as_str()], "plc-a", "stable", "0.9.0");
    let text = std::fs::read_to_string(&base).unwrap();
    let variant = |name: &str, extra: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, format!("{text}{extra}")).unwrap();
        file.to_str().unwrap().to_string()
    };
    let failing_hook = variant("hook.toml", "[hooks]\npost_install = [\"false\"]\n");
    let later = variant(
        "window.toml",
        &format!(
            "[maintenance]\ntime_zone = \"UTC\"\nwindows = [{{ days = [\"{}\"], start = \"00:00\", end = \"01:00\" }}]\n",
            weekday_in(3)
        ),
    );
    let fw = dir.path().join("fw.bin");
    let publish = |v: &str| publish_plc_a(&svc, v);
    let update = |config: &str| {
        let (ok, out, err) = agent(config, &["update"]);
        (ok, out + &err)
    };
    assert!(agent(&base, &["init"]).0);

    publish("1.0.0");
    let (ok, out) = update(&base);
    assert!(
        ok && out.contains("installed firmware/plc-a-1.0.0.bin (1.0.0)"),
        "{out}"
    );
    assert_eq!(std::fs::read(&fw).unwrap(), b"image 1.0.0");
    let (ok, out) = update(&base);
    assert!(ok && out.contains("up to date"), "{out}");

    publish("1.1.0");
    assert!(update(&base).0);
    assert_eq!(std::fs::read(&fw).unwrap(), b"image 1.1.0");
    assert_eq!(
        std::fs::read(dir.path().join("fw.bin.previous")).unwrap(),
        b"image 1.0.0"
    );

    // A post-install hook that fails rolls the installation back, and it is not retried.
    publish("1.2.0");
    let (ok, out) = update(&failing_hook);
    assert!(
        !ok && out.contains("rolled back") && out.contains("post-install hook"),
        "{out}"
    );
    assert_eq!(std::fs::read(&fw).unwrap(), b"image 1.1.0");
    let (ok, out) = update(&base);
    assert!(ok && out.contains("not tried again"), "{out}");

    // Outside its maintenance window the next version is downloaded and waits.
    publish("1.3.0");
    let (ok, out) = update(&later);
    assert!(
        ok && out.contains("waits for the next maintenance window"),
        "{out}"
    );
    assert_eq!(std::fs::read(&fw).unwrap(), b"image 1.1.0");
    let (_, status, _) = agent(&base, &["status", "--json"]);
    let status: Value = serde_json::from_str(status.trim()).unwrap();
    assert_eq!(
        status["state"]["pending"]["phase"], "downloaded",
        "{status}"
    );
    assert_eq!(status["state"]["installed"]["version"], "1.1.0", "{status}");
    let (ok, out) = update(&base);
    assert!(
        ok && out.contains("installed firmware/plc-a-1.3.0.bin"),
        "{out}"
    );

    let (_, status, _) = agent(&base, &["status", "--json"]);
    let status: Value = serde_json::from_str(status.trim()).unwrap();
    let outcomes: Vec<&str> = status["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["installed", "installed", "rolled_back", "installed"]
    );
    assert_eq!(status["history"][3]["from_version"], "1.1.0", "{status}");
    assert!(
        status["history"][3]["metadata"]["targets"]
            .as_u64()
            .unwrap()
            >= 1,
        "{status}"
    );
    let (ok, text, _) = agent(&base, &["status"]);
    assert!(ok && text.contains("installed:  1.3.0"), "{text}");
}

#[test]
fn ab_writes_the_free_slot_confirms_it_after_the_reboot_or_switches_back() {
    let svc = Service::start_dev();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(svc.root(), dir.path().join("root.json")).unwrap();
    let d = dir.path().display().to_string();
    let (slot_a, slot_b) = (dir.path().join("slot-a"), dir.path().join("slot-b"));
    std::fs::write(&slot_a, b"factory image").unwrap();
    let file_config = config(dir.path(), &[svc.base.as_str()], "plc-a", "stable", "0.9.0");
    let text = std::fs::read_to_string(&file_config).unwrap().replace(
        "[install]\nmethod = \"file\"\npath = \"fw.bin\"\n",
        &format!(
            "[install]\nmethod = \"ab\"\nslots = [\"slot-a\", \"slot-b\"]\n\
             switch_command = [\"sh\", \"-c\", \"printf %s \\\"$1\\\" > {d}/boot-slot\", \"sh\", \"{{slot}}\"]\n\
             confirm_command = [\"sh\", \"-c\", \"printf %s \\\"$1\\\" > {d}/confirmed\", \"sh\", \"{{slot}}\"]\n\
             boot_id_file = \"{d}/boot-id\"\n\
             [health]\ncommand = [\"test\", \"-f\", \"{d}/healthy\"]\ntimeout_secs = 10\n"
        ),
    );
    let cfg = dir.path().join("ab.toml");
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.to_str().unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let update = || {
        let (ok, out, err) = agent(cfg, &["update"]);
        (ok, out + &err)
    };
    let publish = |v: &str| publish_plc_a(&svc, v);
    assert!(agent(cfg, &["init"]).0);
    let reboot = |n: u32| std::fs::write(dir.path().join("boot-id"), format!("boot-{n}")).unwrap();
    reboot(1);

    publish("1.0.0");
    let (ok, out) = update();
    assert!(ok && out.contains("written to slot b"), "{out}");
    // Nothing is confirmed on the slot that wrote it: the device has to boot the new one.
    std::fs::write(dir.path().join("healthy"), b"").unwrap();
    let (ok, out) = update();
    assert!(ok && out.contains("for the reboot into it"), "{out}");
    assert_eq!(read("confirmed"), "");
    reboot(2);
    assert_eq!(std::fs::read(&slot_b).unwrap(), b"image 1.0.0");
    assert_eq!(
        std::fs::read(&slot_a).unwrap(),
        b"factory image",
        "the running slot is never written"
    );
    assert_eq!(read("boot-slot"), "b");
    // After the reboot: healthy, so confirmed.
    let (ok, out) = update();
    assert!(
        ok && out.contains("installed firmware/plc-a-1.0.0.bin"),
        "{out}"
    );
    assert_eq!(read("confirmed"), "b");

    // The next version goes to slot a; after the reboot it is not healthy: back to slot b.
    publish("1.1.0");
    let (ok, out) = update();
    assert!(ok && out.contains("written to slot a"), "{out}");
    assert_eq!(read("boot-slot"), "a");
    std::fs::remove_file(dir.path().join("healthy")).unwrap();
    reboot(3);
    let (ok, out) = update();
    assert!(
        !ok && out.contains("health check") && out.contains("switched back to slot b"),
        "{out}"
    );
    assert_eq!(read("boot-slot"), "b");
    assert_eq!(read("confirmed"), "b", "1.1.0 was never confirmed");
    let (_, status, _) = agent(cfg, &["status", "--json"]);
    let status: Value = serde_json::from_str(status.trim()).unwrap();
    assert_eq!(status["state"]["installed"]["version"], "1.0.0", "{status}");
    assert_eq!(status["state"]["installed"]["slot"], "b", "{status}");
    assert!(status["state"]["pending"].is_null(), "{status}");
}

#[test]
fn the_command_installer_gets_the_verified_file_and_is_asked_to_roll_back() {
    let svc = Service::start_dev();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(svc.root(), dir.path().join("root.json")).unwrap();
    let d = dir.path().display().to_string();
    let script = dir.path().join("install.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\necho \"$OTUF_ACTION $OTUF_VERSION $OTUF_FROM_VERSION $OTUF_HARDWARE\" >> {d}/calls\n\
             [ \"$OTUF_ACTION\" = install ] && cp \"$OTUF_FILE\" {d}/installed\nexit 0\n"
        ),
    )
    .unwrap();
    let base = config(dir.path(), &[svc.base.as_str()], "plc-a", "stable", "0.9.0");
    let text = std::fs::read_to_string(&base).unwrap().replace(
        "[install]\nmethod = \"file\"\npath = \"fw.bin\"\n",
        &format!(
            "[install]\nmethod = \"command\"\ncommand = [\"sh\", \"{}\"]\n",
            script.display()
        ),
    );
    let cfg = dir.path().join("command.toml");
    std::fs::write(&cfg, &text).unwrap();
    let unhealthy = dir.path().join("unhealthy.toml");
    std::fs::write(
        &unhealthy,
        format!("{text}[health]\ncommand = [\"false\"]\n"),
    )
    .unwrap();
    let (cfg, unhealthy) = (cfg.to_str().unwrap(), unhealthy.to_str().unwrap());
    assert!(agent(cfg, &["init"]).0);
    for (v, config, ok) in [("1.0.0", cfg, true), ("1.1.0", unhealthy, false)] {
        publish_plc_a(&svc, v);
        let (done, out, err) = agent(config, &["update"]);
        assert_eq!(done, ok, "{out}{err}");
    }
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(
        calls,
        "install 1.0.0 0.9.0 plc-a\ninstall 1.1.0 1.0.0 plc-a\nrollback 1.1.0 1.0.0 plc-a\n"
    );
    assert_eq!(
        std::fs::read(dir.path().join("installed")).unwrap(),
        b"image 1.1.0"
    );
}

#[test]
fn a_cut_download_resumes_where_it_stopped() {
    let svc = Service::start_dev();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(svc.root(), dir.path().join("root.json")).unwrap();
    let image: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let t = svc.add(
        "firmware/plc-a-1.0.0.bin",
        &image,
        json!({"version": "1.0.0", "hardware": "plc-a"}),
    );
    assert_eq!(t["state"], "SUCCESS", "{t}");
    let base = config(dir.path(), &[svc.base.as_str()], "plc-a", "stable", "0.9.0");
    // 1 MiB at 2 MB/s: half a second of download to cut.
    let text =
        std::fs::read_to_string(&base).unwrap() + "[download]\nmax_bytes_per_sec = 2000000\n";
    std::fs::write(&base, text).unwrap();
    assert!(agent(&base, &["init"]).0);
    let mut child = Command::new(workspace_bin("otuf-agent"))
        .args(["--config", &base, "update"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial = dir.path().join("state/partial");
    let kept = (0..500)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            std::fs::read_dir(&partial)
                .ok()?
                .flatten()
                .map(|e| e.metadata().unwrap().len())
                .find(|n| *n > 64 * 1024)
        })
        .expect("the download started");
    child.kill().unwrap();
    let _ = child.wait();
    let (ok, out, err) = agent(&base, &["update"]);
    assert!(ok, "{out}{err}");
    let resumed: u64 = err
        .split("resuming from byte ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resumption: {err}"));
    assert!(
        resumed >= kept && resumed < image.len() as u64,
        "{resumed} {kept}"
    );
    assert!(out.contains("installed firmware/plc-a-1.0.0.bin"), "{out}");
    assert_eq!(std::fs::read(dir.path().join("fw.bin")).unwrap(), image);
    assert_eq!(
        std::fs::read_dir(&partial).unwrap().count(),
        0,
        "nothing partial is left"
    );
}

#[test]
fn a_bundle_installs_with_no_network_and_a_tampered_one_is_refused() {
    let svc = Service::start_dev();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(svc.root(), dir.path().join("root.json")).unwrap();
    publish_plc_a(&svc, "1.0.0");
    publish_plc_a(&svc, "1.1.0");
    let t = svc.add(
        "firmware/plc-b-9.0.0.bin",
        b"not for plc-a",
        json!({"version": "9.0.0", "hardware": "plc-b"}),
    );
    assert_eq!(t["state"], "SUCCESS", "{t}");
    let bundle = dir.path().join("usb-stick");
    let o = Command::new(workspace_bin("otuf-repo"))
        .args(["bundle", "export", "--hardware", "plc-a", "--data-dir"])
        .arg(svc.data.path())
        .arg("--out")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 artifact(s) for plc-a"));
    drop(svc); // no network from here on
    let cfg = config(
        dir.path(),
        &["http://127.0.0.1:9"],
        "plc-a",
        "stable",
        "0.9.0",
    );
    assert!(agent(&cfg, &["init"]).0);

    // A bundle whose image was changed on the way is refused: nothing is installed.
    let bad = dir.path().join("bad-stick");
    copy_dir(&bundle, &bad);
    let image = std::fs::read_dir(bad.join("targets/firmware"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("plc-a-1.1.0.bin"))
        .unwrap();
    std::fs::write(&image, b"image 1.1.1").unwrap();
    let (ok, out, err) = agent(&cfg, &["install-bundle", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("refused"), "{out}{err}");
    assert!(!dir.path().join("fw.bin").exists());

    let (ok, out, err) = agent(&cfg, &["install-bundle", bundle.to_str().unwrap()]);
    assert!(
        ok && out.contains("installed firmware/plc-a-1.1.0.bin"),
        "{out}{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("fw.bin")).unwrap(),
        b"image 1.1.0"
    );
    assert!(!bundle
        .join("targets/firmware")
        .read_dir()
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("plc-b")));
}
