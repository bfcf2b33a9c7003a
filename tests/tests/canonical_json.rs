//! Canonical JSON is byte-identical to securesystemslib's `encode_canonical` on the generated
//! corpus (tests/fixtures/canonical, made by its committed generate.py), and every malformed
//! input is refused with the check that names its fault.

use otuf_core::json::canonicalize;
use std::collections::BTreeMap;
use std::fs;

#[test]
fn matches_securesystemslib_byte_for_byte() {
    let dir = otuf_tests::fixtures().join("canonical/accept");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let input = fs::read(&path).unwrap();
            let want = fs::read(path.with_extension("canon")).unwrap();
            let got = canonicalize(&input).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(got == want, "{}: canonical form differs", path.display());
            n += 1;
        }
    }
    assert!(n >= 500, "only {n} documents in the corpus");
    println!("{n} documents byte-identical to securesystemslib");
}

#[test]
fn refuses_malformed_input_naming_the_check() {
    let dir = otuf_tests::fixtures().join("canonical/reject");
    let expected: BTreeMap<String, String> =
        serde_json::from_slice(&fs::read(dir.join("expected.json")).unwrap()).unwrap();
    assert!(expected.len() >= 100);
    let mut wrong = Vec::new();
    for (file, kind) in &expected {
        let input = fs::read(dir.join(file)).unwrap();
        match canonicalize(&input) {
            Ok(_) => wrong.push(format!("{file}: accepted, expected {kind}")),
            Err(e) if e.kind().name() != kind => {
                wrong.push(format!("{file}: {e}, expected {kind}"))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
