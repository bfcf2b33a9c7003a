//! Power cuts, as SIGKILL at random instants: `otuf-agent update` is killed during 200 update
//! cycles, a new version being published before each so that every cycle has work to
//! interrupt, once with the `file` installer (download, install, hooks, journal writes) and once
//! with the `ab` installer (download, slot write and read-back, switch, and after each simulated
//! reboot, confirmation). After every kill: the firmware the device runs is one complete,
//! published image (A/B: the running slot is byte for byte what it booted), the journal reads,
//! and the trusted metadata verifies; at the end the device converges on the newest version.
//! The kill points come from a seed (printed; `OTUF_CRASH_SEED` replays a run).

use otuf_tests::repo_service::Service;
use otuf_tests::{hex, workspace_bin};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CYCLES: usize = 200;
/// Every this many cycles one runs to the end, timed: the kills are spread over the longest
/// whole cycle seen, so one that ended early (nothing to do yet, a quiet moment) cannot squeeze
/// every later kill into the first milliseconds.
const CALIBRATE: usize = 25;

/// The two runs take turns: each spreads its kills over its own timing, measured alone.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Harness {
    svc: Service,
    dir: tempfile::TempDir,
    cfg: String,
    images: BTreeSet<String>,
    latest: Vec<u8>,
    rng: fastrand::Rng,
    seed: u64,
}

fn sha(path: &Path) -> String {
    hex(Sha256::digest(std::fs::read(path).unwrap_or_default()))
}

impl Harness {
    /// A repository, and a device configured with `install` (TOML lines below `[install]`).
    fn new(install: &str) -> Self {
        let seed = std::env::var("OTUF_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fastrand::u64(..));
        println!("OTUF_CRASH_SEED={seed}");
        let svc = Service::start_dev();
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(svc.root(), dir.path().join("root.json")).unwrap();
        let cfg = dir.path().join("agent.toml");
        std::fs::write(
            &cfg,
            format!(
                "state_dir = \"state\"\n[repository]\nroot = \"root.json\"\n\
                 mirrors = [{{ metadata = \"{0}/metadata\", targets = \"{0}/targets\" }}]\n\
                 [device]\nid = \"crash-1\"\nhardware = \"plc-a\"\ninstalled_version = \"0.1.0\"\n\
                 [download]\nmax_bytes_per_sec = 4000000\n[install]\n{install}",
                svc.base
            ),
        )
        .unwrap();
        let factory = b"factory image".to_vec();
        Self {
            cfg: cfg.to_str().unwrap().to_string(),
            images: BTreeSet::from([hex(Sha256::digest(&factory))]),
            latest: factory,
            rng: fastrand::Rng::with_seed(seed),
            seed,
            svc,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn agent(&self, args: &[&str]) -> std::process::Output {
        Command::new(workspace_bin("otuf-agent"))
            .args(["--config", &self.cfg])
            .args(args)
            .output()
            .unwrap()
    }

    /// Publishes version `1.<n>.0` (256 KiB).
    fn publish(&mut self, n: usize) {
        let v = format!("1.{n}.0");
        let image: Vec<u8> = (0..256 * 1024).map(|i| (i * 7 + n) as u8).collect();
        let t = self.svc.add(
            &format!("firmware/plc-a-{v}.bin"),
            &image,
            json!({"version": v, "hardware": "plc-a"}),
        );
        assert_eq!(t["state"], "SUCCESS", "{t}");
        self.images.insert(hex(Sha256::digest(&image)));
        self.latest = image;
    }

    /// Runs `update` to the end; how long it took.
    fn update_timed(&self) -> Duration {
        let started = Instant::now();
        assert!(self.agent(&["update"]).status.success());
        started.elapsed()
    }

    /// Runs `update`, killed after a random part of `span`; whether it was still running.
    fn update_killed(&mut self, span: Duration) -> bool {
        let mut child = Command::new(workspace_bin("otuf-agent"))
            .args(["--config", &self.cfg, "update"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(span.mul_f64(self.rng.f64()));
        let running = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        running
    }

    /// The journal reads and the trusted metadata verifies; the journal's state.
    fn journal_and_metadata(&self, cycle: usize) -> Value {
        let status = self.agent(&["status", "--json"]);
        assert!(
            status.status.success(),
            "cycle {cycle}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let refresh = Command::new(workspace_bin("otuf-agent"))
            .args([
                "client",
                "--metadata-url",
                &format!("{}/metadata", self.svc.base),
                "--metadata-dir",
            ])
            .arg(self.path("state/metadata"))
            .arg("refresh")
            .output()
            .unwrap();
        assert!(
            refresh.status.success(),
            "cycle {cycle}: {}",
            String::from_utf8_lossy(&refresh.stderr)
        );
        serde_json::from_slice::<Value>(&status.stdout).unwrap()["state"].clone()
    }

    fn init(&self) {
        let o = self.agent(&["init"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    fn finish(&self, killed: usize, phases: &BTreeMap<String, usize>) {
        println!("{CYCLES} cycles, {killed} killed before they had finished; the journal after each kill: {phases:?}");
        assert!(
            killed >= CYCLES / 4,
            "too few kills landed mid-cycle: {killed} (seed {})",
            self.seed
        );
    }
}

#[test]
fn file_installer_sigkill_at_any_instant_leaves_a_whole_image_a_readable_journal_and_verified_metadata(
) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::new(
        "method = \"file\"\npath = \"fw.bin\"\n[hooks]\npost_install = [\"sleep\", \"0.02\"]\n",
    );
    h.init();
    let fw = h.path("fw.bin");
    std::fs::write(&fw, &h.latest).unwrap();
    let (mut killed, mut phases, mut span) = (0, BTreeMap::<String, usize>::new(), Duration::ZERO);
    for cycle in 0..CYCLES {
        h.publish(cycle);
        if cycle % CALIBRATE == 0 {
            // A whole cycle now and then, to spread the kills over the length of one.
            let took = h.update_timed();
            // 256 KiB under a 4 MB/s cap: the download alone takes 65 ms (later on, a killed
            // cycle may have left the image downloaded already).
            assert!(
                cycle > 0 || took >= Duration::from_millis(65),
                "the bandwidth cap was not kept"
            );
            span = span.max(took.mul_f64(1.2));
            continue;
        }
        killed += usize::from(h.update_killed(span));
        let installed = sha(&fw);
        assert!(
            h.images.contains(&installed),
            "cycle {cycle} (seed {}): fw.bin is no published image",
            h.seed
        );
        let state = h.journal_and_metadata(cycle);
        // Between the new image's rename and its record the file is ahead of the journal (an
        // installation under way, which the next cycle settles); otherwise they agree.
        let phase = state["pending"]["phase"].as_str().unwrap_or("none");
        if let Some(v) = state["installed"]["sha256"].as_str() {
            assert!(
                v == installed || phase == "installing",
                "cycle {cycle}: the journal says another image is installed"
            );
        }
        *phases.entry(phase.to_string()).or_default() += 1;
    }
    h.finish(killed, &phases);
    for phase in ["downloading", "installing"] {
        assert!(
            phases.contains_key(phase),
            "no kill landed while {phase}: {phases:?} (seed {})",
            h.seed
        );
    }
    // Left alone, the device settles whatever was under way and installs the newest version.
    for _ in 0..3 {
        assert!(h.agent(&["update"]).status.success());
    }
    assert_eq!(std::fs::read(&fw).unwrap(), h.latest);
    let state = h.journal_and_metadata(CYCLES);
    assert_eq!(state["installed"]["version"], format!("1.{}.0", CYCLES - 1));
    assert!(state["pending"].is_null(), "{state}");
}

#[test]
fn ab_installer_sigkill_at_any_instant_never_touches_the_running_slot() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap(); // the simulated bootloader's state
    let dp = d.path().display().to_string();
    let mut h = Harness::new(&format!(
        "method = \"ab\"\nslots = [\"slot-a\", \"slot-b\"]\n\
         switch_command = [\"sh\", \"-c\", \"sleep 0.02 && printf %s \\\"$1\\\" > {dp}/next.tmp && mv {dp}/next.tmp {dp}/next\", \"sh\", \"{{slot}}\"]\n\
         current_slot_command = [\"cat\", \"{dp}/running\"]\n\
         boot_id_file = \"{dp}/boot-id\"\n\
         [health]\ncommand = [\"true\"]\n"
    ));
    h.init();
    std::fs::write(h.path("slot-a"), &h.latest).unwrap();
    std::fs::write(h.path("slot-b"), b"").unwrap();
    std::fs::write(d.path().join("next"), "a").unwrap();
    let base = h.dir.path().to_path_buf();
    let slot_file = move |s: &str| base.join(format!("slot-{s}"));
    // A reboot: the bootloader boots the slot it was told to; a new boot id.
    let reboot = |n: usize| -> (String, String) {
        let next = std::fs::read_to_string(d.path().join("next")).unwrap();
        std::fs::write(d.path().join("running"), &next).unwrap();
        std::fs::write(d.path().join("boot-id"), format!("boot-{n}")).unwrap();
        let booted = sha(&slot_file(&next));
        (next, booted)
    };
    let (mut killed, mut phases, mut span) = (0, BTreeMap::<String, usize>::new(), Duration::ZERO);
    let mut booted = reboot(0);
    for cycle in 0..CYCLES {
        h.publish(cycle);
        if cycle % CALIBRATE == 0 {
            if cycle > 0 {
                booted = reboot(cycle);
            }
            span = span.max(h.update_timed().mul_f64(1.2));
            continue;
        }
        booted = reboot(cycle);
        killed += usize::from(h.update_killed(span));
        // The running slot is exactly what booted, and a whole published image.
        let (running, at_boot) = &booted;
        let now = sha(&slot_file(running));
        assert_eq!(
            &now, at_boot,
            "cycle {cycle} (seed {}): the running slot {running} was written",
            h.seed
        );
        assert!(
            h.images.contains(&now),
            "cycle {cycle}: slot {running} is no published image"
        );
        let state = h.journal_and_metadata(cycle);
        let phase = state["pending"]["phase"].as_str().unwrap_or("none");
        *phases.entry(phase.to_string()).or_default() += 1;
    }
    h.finish(killed, &phases);
    for phase in ["downloading", "installing", "switched"] {
        assert!(
            phases.contains_key(phase),
            "no kill landed while {phase}: {phases:?} (seed {})",
            h.seed
        );
    }
    // Left alone (rebooting when told to), the device ends up running the newest version.
    for n in 0..6 {
        booted = reboot(CYCLES + n);
        assert!(h.agent(&["update"]).status.success());
    }
    let _ = booted;
    let state = h.journal_and_metadata(CYCLES);
    assert_eq!(
        state["installed"]["version"],
        format!("1.{}.0", CYCLES - 1),
        "{state}"
    );
    let running = std::fs::read_to_string(d.path().join("running")).unwrap();
    assert_eq!(std::fs::read(slot_file(&running)).unwrap(), h.latest);
}
