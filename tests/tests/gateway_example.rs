//! The Linux gateway example (`firmware-examples/linux-gateway/`) run as shipped: its
//! `agent.toml` and its hook scripts drive otuf-agent's A/B installer against otuf-repo. Slot
//! files stand in for the eMMC partitions, and a file for the U-Boot environment (`fw_printenv`
//! and `fw_setenv` on PATH); `systemctl` and `ping` answer from files the test sets. Reboots are
//! a new boot id and the slot U-Boot would pass on the kernel command line.

use otuf_tests::repo_service::Service;
use otuf_tests::workspace_bin;
use serde_json::json;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-examples/linux-gateway")
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The U-Boot environment the fake `fw_setenv` wrote.
fn uboot_env(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir.join("uboot.env"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A root file system image for the gateway: the ext4 magic where post-install.sh looks.
fn rootfs(version: &str) -> Vec<u8> {
    let mut image = format!("gateway rootfs {version}\n")
        .repeat(200)
        .into_bytes();
    image[1080] = 0x53;
    image[1081] = 0xef;
    image
}

struct Gateway {
    dir: tempfile::TempDir,
    config: PathBuf,
    path: String,
}

impl Gateway {
    fn new(svc: &Service) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::copy(svc.root(), d.join("root.json")).unwrap();
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        // fw_setenv k v [k v ...] / fw_printenv -n k over a key=value file.
        script(
            &bin.join("fw_setenv"),
            &format!(
                "env={}\ntouch \"$env\"\nwhile [ $# -ge 2 ]; do\n  grep -v \"^$1=\" \"$env\" > \"$env.new\" || true\n  echo \"$1=$2\" >> \"$env.new\"; mv \"$env.new\" \"$env\"; shift 2\ndone\n",
                d.join("uboot.env").display()
            ),
        );
        script(
            &bin.join("fw_printenv"),
            &format!(
                "grep \"^$2=\" {} 2>/dev/null | cut -d= -f2- | grep .\n",
                d.join("uboot.env").display()
            ),
        );
        script(
            &bin.join("systemctl"),
            &format!("test -e {}/running-$3\n", d.display()),
        );
        script(&bin.join("ping"), "exit 0\n");
        script(&bin.join("logger"), "exit 0\n");

        // The shipped configuration, with this test's paths; no maintenance window (the
        // example's is Saturday night), the rest as it is.
        let shipped = std::fs::read_to_string(example().join("agent.toml")).unwrap();
        let (shipped, _window) = shipped.split_once("[maintenance]").unwrap();
        let mirrors_start = shipped.find("mirrors = [").unwrap();
        let mirrors_end = mirrors_start + shipped[mirrors_start..].find("\n]\n").unwrap() + 3;
        let lib = example().join("lib");
        let text = format!(
            "{}mirrors = [{{ metadata = \"{b}/metadata\", targets = \"{b}/targets\" }}]\n{}",
            &shipped[..mirrors_start],
            &shipped[mirrors_end..],
            b = svc.base
        )
        .replace("/data/otuf", "state")
        .replace("/etc/otuf/root.json", "root.json")
        .replace("/dev/mmcblk0p2", "slot-a")
        .replace("/dev/mmcblk0p3", "slot-b")
        .replace(
            "/proc/sys/kernel/random/boot_id",
            &d.join("boot_id").display().to_string(),
        )
        .replace("/usr/lib/otuf/", &format!("{}/", lib.display()))
        .replace("timeout_secs = 180", "timeout_secs = 20");
        let config = d.join("agent.toml");
        std::fs::write(&config, text).unwrap();
        std::fs::write(d.join("slot-a"), b"rootfs 3.2.0").unwrap();
        std::fs::write(d.join("slot-b"), b"").unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let gw = Self { dir, config, path };
        gw.boot("a", "boot-1");
        gw
    }

    /// U-Boot boots `slot`: a new boot id and the slot on the kernel command line.
    fn boot(&self, slot: &str, id: &str) {
        let d = self.dir.path();
        std::fs::write(
            d.join("cmdline"),
            format!("root=/dev/mmcblk0p2 rootwait ro otuf.slot={slot}\n"),
        )
        .unwrap();
        std::fs::write(d.join("boot_id"), id).unwrap();
    }

    /// Runs otuf-agent: whether it succeeded, and what it printed (stdout, then stderr).
    fn agent(&self, args: &[&str]) -> (bool, String) {
        let (ok, out, err) = self.agent_split(args);
        (ok, out + &err)
    }

    fn agent_split(&self, args: &[&str]) -> (bool, String, String) {
        let d = self.dir.path();
        let o = Command::new(workspace_bin("otuf-agent"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("PATH", &self.path)
            .env("NO_COLOR", "1")
            .env("OTUF_CMDLINE", d.join("cmdline"))
            .env("OTUF_LINE_RUNNING_FLAG", d.join("line-running"))
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    fn set(&self, flag: &str, on: bool) {
        let f = self.dir.path().join(flag);
        if on {
            std::fs::write(f, b"").unwrap();
        } else {
            let _ = std::fs::remove_file(f);
        }
    }

    fn slot(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(format!("slot-{name}"))).unwrap()
    }
}

#[test]
fn the_gateway_example_installs_confirms_and_switches_back_through_its_scripts() {
    let svc = Service::start_dev();
    let gw = Gateway::new(&svc);
    let publish = |v: &str| {
        let t = svc.add(
            &format!("firmware/gw-imx8-2/rootfs-{v}.ext4"),
            &rootfs(v),
            json!({"version": v, "hardware": "gw-imx8-2"}),
        );
        assert_eq!(t["state"], "SUCCESS", "{t}");
    };
    let (ok, out) = gw.agent(&["init"]);
    assert!(ok, "{out}");
    gw.set("running-plant-gateway.service", true);

    // The line is running: pre-install.sh vetoes, nothing is written.
    publish("3.3.0");
    gw.set("line-running", true);
    let (_, out) = gw.agent(&["update"]);
    assert!(
        out.contains("the line is running") && out.contains("nothing was changed"),
        "{out}"
    );
    assert!(gw.slot("b").is_empty());
    assert!(uboot_env(gw.dir.path()).is_empty());

    // The line stops: slot b is written and U-Boot told to boot it on trial.
    gw.set("line-running", false);
    let (ok, out) = gw.agent(&["update"]);
    assert!(ok, "{out}");
    assert_eq!(gw.slot("b"), rootfs("3.3.0"));
    assert_eq!(
        gw.slot("a"),
        b"rootfs 3.2.0",
        "the running slot is never written"
    );
    let env = uboot_env(gw.dir.path());
    assert_eq!(
        (env["otuf_slot"].as_str(), env["upgrade_available"].as_str()),
        ("b", "1"),
        "{env:?}"
    );

    // After the reboot into b: post-install.sh finds an ext4 image, health.sh a running bridge.
    gw.boot("b", "boot-2");
    let (ok, out) = gw.agent(&["update"]);
    assert!(ok, "{out}");
    let env = uboot_env(gw.dir.path());
    assert_eq!(
        (
            env["otuf_confirmed"].as_str(),
            env["upgrade_available"].as_str()
        ),
        ("b", "0"),
        "{env:?}"
    );
    let (_, status, _) = gw.agent_split(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(status.trim()).unwrap();
    assert_eq!(status["state"]["installed"]["version"], "3.3.0", "{status}");

    // 3.4.0 goes to slot a; after the reboot the bridge does not come up: health.sh fails and
    // ab-switch.sh sends U-Boot back to the confirmed slot b, with no trial.
    publish("3.4.0");
    assert!(gw.agent(&["update"]).0);
    assert_eq!(gw.slot("a"), rootfs("3.4.0"));
    assert_eq!(gw.slot("b"), rootfs("3.3.0"));
    gw.boot("a", "boot-3");
    gw.set("running-plant-gateway.service", false);
    let (ok, out) = gw.agent(&["update"]);
    assert!(
        !ok && out.contains("health check") && out.contains("switched back to slot b"),
        "{out}"
    );
    let env = uboot_env(gw.dir.path());
    assert_eq!(
        (
            env["otuf_slot"].as_str(),
            env["upgrade_available"].as_str(),
            env["otuf_confirmed"].as_str()
        ),
        ("b", "0", "b"),
        "{env:?}"
    );
}
