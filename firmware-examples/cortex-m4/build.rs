//! Puts the board's memory layout where the linker finds it (as memory.x), and the trust anchor
//! the firmware embeds: the provisioned root.json, read and checked against its own keys by
//! otuf-core here on the build host. A Cortex-M0/M0+ build (thumbv6m) is laid out for QEMU's
//! micro:bit.
use otuf_core::client::Client;
use otuf_core::limits::Limits;
use otuf_core::time::UnixTime;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let target = std::env::var("TARGET").unwrap_or_default();
    let layout = match target.as_str() {
        "thumbv6m-none-eabi" => "memory-m0.x",
        _ => "memory.x",
    };
    // `salty_device`: the build whose otuf-core verifies ed25519 with salty (Cargo.toml), so the
    // floor binary measures the same backend.
    println!("cargo::rustc-check-cfg=cfg(salty_device)");
    if target == "thumbv7em-none-eabihf" {
        println!("cargo:rustc-cfg=salty_device");
    }
    std::fs::copy(layout, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=memory-m0.x");
    // The factory-provisioned trusted root (root v1 from make_state.py), as its trust anchor.
    let root = std::env::var("OTUF_TRUSTED_ROOT")
        .expect("OTUF_TRUSTED_ROOT: the root.json to embed (made by make_state.py)");
    let json = std::fs::read(&root).unwrap_or_else(|e| panic!("{root}: {e}"));
    let mut client = Client::untrusted(UnixTime(0), Limits::default());
    if let Err(e) = client.trust_root(&json) {
        panic!("{root}: not a root otuf-core trusts: {e}");
    }
    let mut anchor = Vec::new();
    otuf_core::anchor::write(client.trusted().root(), &mut anchor);
    std::fs::write(out.join("root.anchor"), anchor).unwrap();
    println!("cargo:rerun-if-env-changed=OTUF_TRUSTED_ROOT");
    println!("cargo:rerun-if-changed={root}");
}
