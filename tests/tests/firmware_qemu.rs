//! otuf-core on a Cortex-M4 (`firmware-examples/cortex-m4`), run under QEMU's MPS2 AN386, and
//! the same streaming firmware built for a Cortex-M0/M0+ (thumbv6m) on QEMU's micro:bit. A
//! repository state is made by otuf-repo (`make_state.py`: bootstrap, firmware 1.0.0, a root
//! rotation, firmware 1.1.0), the firmware is built with its root v1 embedded, and each flash
//! slot is loaded beside it: the good one must end in the install verdict, in streaming and in
//! general mode; a signed firmware for other hardware is refused and an older one left alone
//! (the selection from `custom`); each tampered one is refused, naming the file and the check.

use otuf_tests::{python, workspace_bin};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-examples")
}

/// The M4 board (MPS2 AN386) or the M0 one (micro:bit, 16 KiB of RAM), by the firmware's target.
struct Board {
    target: &'static str,
    machine: &'static [&'static str],
    slot_at: &'static str,
}

const M4: Board = Board {
    target: "thumbv7em-none-eabihf",
    machine: &["-machine", "mps2-an386", "-cpu", "cortex-m4"],
    slot_at: "0x00200000",
};
const M0: Board = Board {
    target: "thumbv6m-none-eabi",
    machine: &["-machine", "microbit"],
    slot_at: "0x00020000",
};

/// The firmware builds: (file name, binary, features, board).
const BUILDS: [(&str, &str, Option<&str>, &Board); 3] = [
    ("stream", "stream", None, &M4),
    ("general", "general", Some("general"), &M4),
    ("stream-m0", "stream", None, &M0),
];

fn board(firmware: &Path) -> &'static Board {
    let name = firmware.file_name().and_then(|n| n.to_str()).unwrap_or("");
    BUILDS.iter().find(|b| b.0 == name).map_or(&M4, |b| b.3)
}

/// Makes a repository state with otuf-repo, then builds the firmware binaries embedding its
/// root; the folder holding them.
fn state_and_firmware() -> (tempfile::TempDir, PathBuf) {
    let state = tempfile::tempdir().unwrap();
    let o = Command::new(python())
        .arg(examples().join("cortex-m4/make_state.py"))
        .arg(workspace_bin("otuf-repo"))
        .arg(state.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "make_state.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The streaming binary carries no general mode; the general one is built with it.
    let bins = state.path().join("bin");
    std::fs::create_dir(&bins).unwrap();
    for (file, bin, features, board) in BUILDS {
        let mut c = Command::new(env!("CARGO"));
        c.args(["build", "--release", "--target", board.target, "--bin", bin]);
        if let Some(f) = features {
            c.args(["--features", f]);
        }
        let o = c
            .current_dir(examples())
            .env("OTUF_TRUSTED_ROOT", state.path().join("root.json"))
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "firmware build: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let built = examples()
            .join("target")
            .join(board.target)
            .join("release")
            .join(bin);
        std::fs::copy(built, bins.join(file)).unwrap();
    }
    (state, bins)
}

/// Boots `firmware` with `slot` loaded into the flash slot; whether it exited with success, and
/// what it printed over semihosting.
pub fn qemu(firmware: &Path, slot: &Path) -> (bool, String) {
    let board = board(firmware);
    let mut child = Command::new("qemu-system-arm")
        .args(board.machine)
        .args(["-nographic", "-monitor", "none"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(firmware)
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={},force-raw=on",
            slot.display(),
            board.slot_at
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm (tests/run.sh installs it)");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!(
                "{} never finished on {}",
                firmware.display(),
                slot.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

fn verdict(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("verdict: "))
        .unwrap_or_else(|| panic!("no verdict in:\n{out}"))
}

#[test]
fn the_cortex_m4_and_m0_examples_install_the_good_state_and_refuse_each_tampered_one() {
    let (state, bins) = state_and_firmware();
    let slot = |name: &str| state.path().join(format!("{name}.tar"));
    for mode in ["stream", "general", "stream-m0"] {
        let firmware = bins.join(mode);
        let (ok, out) = qemu(&firmware, &slot("good"));
        assert!(ok, "{mode}: {out}");
        assert!(
            verdict(&out).starts_with(
                "install firmware/sensor-m4.bin 1.1.0 over 1.0.0 (49152 bytes, length and sha256 verified)"
            ),
            "{mode}: {out}"
        );
        // The whole chain was verified: the rotated root, then every role down to the bin.
        for file in [
            "metadata/2.root.json",
            "metadata/timestamp.json",
            ".snapshot.json",
            ".targets.json",
            ".bins-",
        ] {
            assert!(
                out.contains("verified ") && out.contains(file),
                "{mode}: {file}: {out}"
            );
        }

        // Signed and verified, yet not for this device: another hardware model, a downgrade.
        let (ok, out) = qemu(&firmware, &slot("other-hardware"));
        assert!(
            !ok && verdict(&out)
                == "refused firmware/sensor-m4.bin: custom.hardware: built for another hardware model",
            "{mode}: {out}"
        );
        let (ok, out) = qemu(&firmware, &slot("older-version"));
        assert!(
            ok && verdict(&out)
                == "up to date (the signed firmware is 0.9.0, not newer than 1.0.0)",
            "{mode}: {out}"
        );

        for (tampered, file, check) in [
            ("bad-signature", ".bins-", "threshold check failed"),
            (
                "rolled-back-snapshot",
                "metadata/timestamp.json",
                "version_rollback check failed",
            ),
            (
                "wrong-image-hash",
                "targets/firmware/",
                "target_hash check failed",
            ),
        ] {
            let (ok, out) = qemu(&firmware, &slot(tampered));
            let v = verdict(&out);
            assert!(!ok, "{mode} {tampered} must fail: {out}");
            assert!(
                v.starts_with("refused ") && v.contains(file) && v.contains(check),
                "{mode} {tampered}: {v}\n{out}"
            );
        }
    }
}
