//! The web portal in Debian's Chromium (tests/portal/browser.py, Playwright from the venv):
//! three published artifacts listed and verified in the page, search and filters, a download
//! whose bytes are the published ones, and a tampered bin and a tampered target each refused
//! with nothing saved. The listing's screenshot goes to target/portal/listing.png (the README
//! links the copy in repo/portal/).

use otuf_tests::{python, workspace_bin};
use std::path::Path;
use std::process::Command;

#[test]
fn portal_lists_verifies_and_refuses_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let screenshot = root.join("target/portal/listing.png");
    let out = Command::new(python())
        .arg(root.join("tests/portal/browser.py"))
        .arg(workspace_bin("otuf-repo"))
        .arg(&screenshot)
        .output()
        .expect("the venv's python runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser.py failed:\n{log}");
    assert!(log.contains("Nothing was saved"), "{log}");
    assert!(screenshot.metadata().is_ok_and(|m| m.len() > 10_000));
}
