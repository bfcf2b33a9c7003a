#![no_main]
// The refresh state machine over a real repository with one file replaced by the input.
use otuf_core::fuzzing::{client, Repo};

const REPO: Repo<'static> = Repo {
    root: include_bytes!("../../../tests/fixtures/repos/keys-ed25519/trusted_root.json"),
    timestamp: include_bytes!("../../../tests/fixtures/repos/keys-ed25519/metadata/timestamp.json"),
    snapshot: include_bytes!("../../../tests/fixtures/repos/keys-ed25519/metadata/2.snapshot.json"),
    targets: include_bytes!("../../../tests/fixtures/repos/keys-ed25519/metadata/1.targets.json"),
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&which, file)) = data.split_first() {
        client(&REPO, 1_767_225_600, which, file);
    }
});
