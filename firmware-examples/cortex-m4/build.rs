//! Puts memory.x where the linker finds it, and the trusted root the firmware embeds.
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    // The factory-provisioned trusted root (root v1 from make_state.py).
    let root = std::env::var("OTUF_TRUSTED_ROOT")
        .expect("OTUF_TRUSTED_ROOT: the root.json to embed (made by make_state.py)");
    std::fs::copy(&root, out.join("root.json")).unwrap();
    println!("cargo:rerun-if-env-changed=OTUF_TRUSTED_ROOT");
    println!("cargo:rerun-if-changed={root}");
}
