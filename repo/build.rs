//! Builds the portal's verifier (otuf-core for the browser, `portal/verifier`) for
//! wasm32-unknown-unknown, so `otuf-repo serve` carries the page and its wasm in the binary.
//! It runs a second cargo, in a target directory of its own beside this build's (one build
//! directory lock each), with the workspace's `wasm` profile.

use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.parent().expect("repo/ is in the workspace");
    for watched in ["portal/verifier/src", "portal/verifier/Cargo.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            manifest.join(watched).display()
        );
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("no_std-core/src").display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    ensure_target();
    // <target>/<profile>/build/otuf-repo-<hash>/out: the verifier builds in <target>/portal-wasm.
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let target_dir = out
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map_or_else(|| out.join("portal-wasm"), |t| t.join("portal-wasm"));
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--locked", "-p", "otuf-portal-verifier", "--lib"])
        .args(["--profile", "wasm", "--target", WASM_TARGET, "--target-dir"])
        .arg(&target_dir)
        // This build's own flags (coverage, target-cpu) are for the host, not the browser.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building the portal's verifier for {WASM_TARGET} failed"
    );
    let wasm = target_dir
        .join(WASM_TARGET)
        .join("wasm/otuf_portal_verifier.wasm");
    std::fs::copy(&wasm, out.join("verifier.wasm"))
        .unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
}

/// The wasm target is part of the set-up the build does itself (as `rustup target add`).
fn ensure_target() {
    let sysroot = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let installed = sysroot.is_some_and(|s| s.join("lib/rustlib").join(WASM_TARGET).is_dir());
    if !installed {
        println!("cargo:warning=installing the {WASM_TARGET} target (rustup target add)");
        let added = Command::new("rustup")
            .args(["target", "add", WASM_TARGET])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            added,
            "the portal needs the {WASM_TARGET} target: rustup target add {WASM_TARGET}"
        );
    }
}
