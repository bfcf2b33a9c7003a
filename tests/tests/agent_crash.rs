//! Power cuts, as SIGKILL at random instants: `otuf-agent update` is killed during 200 update
//! cycles (download, install, hooks, journal writes), a new version being published before
//! each, so that every cycle has an installation to interrupt.
//! After every kill the installed firmware is one complete, published image, the journal reads,
//! and the trusted metadata verifies; at the end the device converges on the newest version.
//! The kill points come from a seed (printed; `OTUF_CRASH_SEED` replays a run).

use otuf_tests::repo_service::Service;
use otuf_tests::{hex, workspace_bin};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

const CYCLES: usize = 200;

#[test]
fn sigkill_at_any_instant_leaves_a_complete_image_a_readable_journal_and_verified_metadata() {
    let seed = std::env::var("OTUF_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("OTUF_CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
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
             [install]\nmethod = \"file\"\npath = \"fw.bin\"\n\
             [download]\nmax_bytes_per_sec = 4000000\n\
             [hooks]\npost_install = [\"sleep\", \"0.02\"]\n",
            svc.base
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let agent = |args: &[&str]| {
        Command::new(workspace_bin("otuf-agent"))
            .args(["--config", &cfg])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(agent(&["init"]).status.success());
    let fw = dir.path().join("fw.bin");
    let factory = b"factory image".to_vec();
    std::fs::write(&fw, &factory).unwrap();
    let mut images: BTreeSet<String> = BTreeSet::from([hex(Sha256::digest(&factory))]);

    let (mut killed_mid_cycle, mut latest) = (0, Vec::new());
    let mut phases = std::collections::BTreeMap::<String, usize>::new();
    let mut span = Duration::from_millis(100);
    for cycle in 0..CYCLES {
        {
            // A new version every cycle (256 KiB), so that every cycle downloads and installs.
            let v = format!("1.{cycle}.0");
            let image: Vec<u8> = (0..256 * 1024).map(|i| (i * 7 + cycle) as u8).collect();
            let t = svc.add(
                &format!("firmware/plc-a-{v}.bin"),
                &image,
                json!({"version": v, "hardware": "plc-a"}),
            );
            assert_eq!(t["state"], "SUCCESS", "{t}");
            images.insert(hex(Sha256::digest(&image)));
            latest = image;
            if cycle == 0 {
                // One whole cycle, to spread the kills over the length of one.
                let started = std::time::Instant::now();
                assert!(agent(&["update"]).status.success());
                // 256 KiB under a 4 MB/s cap: the download alone takes 65 ms.
                assert!(
                    started.elapsed() >= Duration::from_millis(65),
                    "the bandwidth cap was not kept"
                );
                span = started.elapsed().mul_f64(1.2);
                println!(
                    "one update cycle with an installation: {:?}",
                    started.elapsed()
                );
                continue;
            }
        }
        let mut child = Command::new(workspace_bin("otuf-agent"))
            .args(["--config", &cfg, "update"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(span.mul_f64(rng.f64()));
        if child.try_wait().unwrap().is_none() {
            killed_mid_cycle += 1;
        }
        let _ = child.kill();
        let _ = child.wait();

        // The installed firmware is a whole image the repository published (or the factory's).
        let installed = hex(Sha256::digest(std::fs::read(&fw).unwrap()));
        assert!(
            images.contains(&installed),
            "cycle {cycle} (seed {seed}): fw.bin is no published image"
        );
        // The journal reads.
        let status = agent(&["status", "--json"]);
        assert!(
            status.status.success(),
            "cycle {cycle}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let status: Value = serde_json::from_slice(&status.stdout).unwrap();
        // Between the new image's rename and its record the file is ahead of the journal
        // (an installation under way, which the next cycle settles); otherwise they agree.
        let phase = status["state"]["pending"]["phase"]
            .as_str()
            .unwrap_or("none");
        if let Some(v) = status["state"]["installed"]["sha256"].as_str() {
            assert!(
                v == installed || phase == "installing",
                "cycle {cycle}: the journal says another image is installed"
            );
        }
        *phases.entry(phase.to_string()).or_default() += 1;
        // The trusted metadata verifies (from the stored root up).
        let refresh = Command::new(workspace_bin("otuf-agent"))
            .args([
                "client",
                "--metadata-url",
                &format!("{}/metadata", svc.base),
                "--metadata-dir",
            ])
            .arg(dir.path().join("state/metadata"))
            .arg("refresh")
            .output()
            .unwrap();
        assert!(
            refresh.status.success(),
            "cycle {cycle}: {}",
            String::from_utf8_lossy(&refresh.stderr)
        );
    }
    println!(
        "{CYCLES} cycles, {killed_mid_cycle} killed before they had finished; the journal after each kill: {phases:?}"
    );
    for phase in ["downloading", "installing"] {
        assert!(
            phases.contains_key(phase),
            "no kill landed while {phase}: {phases:?} (seed {seed})"
        );
    }
    assert!(
        killed_mid_cycle >= CYCLES / 2,
        "too few kills landed mid-cycle: {killed_mid_cycle}"
    );

    // Left alone, the device settles whatever was under way and installs the newest version.
    for _ in 0..3 {
        let o = agent(&["update"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(std::fs::read(&fw).unwrap(), latest);
    let status: Value = serde_json::from_slice(&agent(&["status", "--json"]).stdout).unwrap();
    assert_eq!(
        status["state"]["installed"]["version"],
        format!("1.{}.0", CYCLES - 1)
    );
    assert!(status["state"]["pending"].is_null(), "{status}");
}
